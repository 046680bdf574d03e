-- MODIFIER_25_UNNEEDED: modifier 25 on a therapy evaluation or a timed therapy code.
-- 25 marks a significant, separately identifiable evaluation-and-management service; a
-- therapy evaluation is not an E/M service, and therapy codes billed the same day need no
-- 25 to be paid side by side. The patient's other codes that day are the evidence.
WITH evaluation_codes AS (
    SELECT UNNEST($evaluation_codes) AS cpt_code
),
flagged AS (
    SELECT
        l.*,
        CASE WHEN e.cpt_code IS NOT NULL THEN 'a therapy evaluation' ELSE 'a timed therapy code' END
            AS code_kind
    FROM audited_claim_lines AS l
    LEFT JOIN evaluation_codes AS e USING (cpt_code)
    LEFT JOIN ref_cpt_codes AS c USING (cpt_code)
    WHERE (e.cpt_code IS NOT NULL OR c.billing = 'timed')
        AND $em_modifier IN (l.modifier_1, l.modifier_2, l.modifier_3, l.modifier_4)
),
same_day AS (
    SELECT
        f.claim_id,
        f.line_number,
        STRING_AGG(o.cpt_code, ', ' ORDER BY o.cpt_code) AS other_codes
    FROM flagged AS f
    JOIN audited_claim_lines AS o
        ON o.patient_id = f.patient_id
        AND o.service_date = f.service_date
        AND NOT (o.claim_id = f.claim_id AND o.line_number = f.line_number)
    GROUP BY f.claim_id, f.line_number
)
SELECT
    f.patient_id,
    f.rendering_npi AS provider_npi,
    f.service_date,
    f.claim_id,
    f.line_number,
    f.cpt_code,
    f.payer,
    f.units AS units_billed,
    CAST(NULL AS INTEGER) AS units_supported,
    0 AS units_at_risk,
    f.cpt_code || ' x' || CAST(f.units AS VARCHAR) || ' billed with modifier ' || $em_modifier
        || ' (' || COALESCE(f.modifiers, '') || ') on ' || CAST(f.service_date AS VARCHAR) || ': '
        || f.cpt_code || ' is ' || f.code_kind || ', not an evaluation-and-management service, and '
        || 'needs no ' || $em_modifier || ' to be paid beside the other therapy codes that day ('
        || COALESCE(s.other_codes, 'none billed') || '). A needless ' || $em_modifier
        || ' draws payer edits.' AS message
FROM flagged AS f
LEFT JOIN same_day AS s USING (claim_id, line_number)
