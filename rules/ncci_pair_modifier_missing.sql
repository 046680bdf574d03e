-- NCCI_PAIR_MODIFIER_MISSING: both codes of an NCCI procedure-to-procedure edit whose
-- modifier indicator is 1 billed for one patient on one service date by one rendering
-- provider (CMS applies PTP edits per provider, across all of the provider's claims),
-- and the column-two line carries none of the NCCI-associated modifiers that show a
-- distinct service ($bypass_modifiers: 59, XE, XS, XP, XU). Without one the column-two
-- code is denied. With $accept_bypass_on_column_one a modifier on the column-one line
-- counts as well. An edit applies on or after its effective date and before its
-- deletion date (the pairs in force: derived/40_ncci_billed_pairs.sql). A line that is
-- column two of an indicator-0 edit that day is left to NCCI_PAIR_NOT_ALLOWED (no
-- modifier would help it), so its money is counted once.
WITH bypass AS (
    SELECT UPPER(modifier) AS modifier
    FROM (SELECT UNNEST($bypass_modifiers) AS modifier) AS configured
),
bypass_list AS (
    SELECT STRING_AGG(modifier, ', ' ORDER BY modifier) AS modifiers FROM bypass
),
-- Modifiers are looked at only on the few lines that form a pair.
bypassed AS (
    SELECT
        p.*,
        EXISTS (
            SELECT 1 FROM bypass AS b
            WHERE b.modifier IN (p.modifier_1, p.modifier_2, p.modifier_3, p.modifier_4)
        ) AS has_bypass,
        EXISTS (
            SELECT 1 FROM bypass AS b
            WHERE b.modifier IN (
                p.column_1_modifier_1, p.column_1_modifier_2,
                p.column_1_modifier_3, p.column_1_modifier_4
            )
        ) AS column_1_has_bypass
    FROM ncci_billed_pairs AS p
),
judged AS (
    SELECT
        *,
        MAX(CASE WHEN modifier_indicator = 0 THEN 1 ELSE 0 END)
            OVER (PARTITION BY claim_id, line_number) AS not_allowed_too,
        modifier_indicator = 1
            AND NOT has_bypass
            AND NOT ($accept_bypass_on_column_one AND column_1_has_bypass) AS unbypassed
    FROM bypassed
),
ranked AS (
    SELECT
        *,
        ROW_NUMBER() OVER (
            PARTITION BY claim_id, line_number
            ORDER BY column_1, effective_date, column_1_claim_id, column_1_line_number
        ) AS pair_rank
    FROM judged
    WHERE unbypassed AND not_allowed_too = 0
),
other_column_1 AS (
    SELECT
        claim_id,
        line_number,
        STRING_AGG(DISTINCT column_1, ', ' ORDER BY column_1) AS other_codes
    FROM ranked
    WHERE pair_rank > 1
    GROUP BY claim_id, line_number
)
SELECT
    r.patient_id,
    r.rendering_npi AS provider_npi,
    r.service_date,
    r.claim_id,
    r.line_number,
    r.cpt_code,
    r.payer,
    r.units AS units_billed,
    0 AS units_supported,
    r.units AS units_at_risk,
    r.cpt_code || ' (claim ' || r.claim_id || ' line ' || CAST(r.line_number AS VARCHAR)
        || ', x' || CAST(r.units AS VARCHAR) || ', modifiers ' || COALESCE(r.modifiers, 'none')
        || ') billed with ' || r.column_1 || ' (claim ' || r.column_1_claim_id || ' line '
        || CAST(r.column_1_line_number AS VARCHAR) || ') for the same patient on '
        || CAST(r.service_date AS VARCHAR) || ' by rendering NPI ' || r.rendering_npi
        || ' without any of ' || b.modifiers || ': NCCI PTP edit ' || r.column_1 || '/'
        || r.cpt_code || ' (column one/column two), modifier indicator 1, effective '
        || CAST(r.effective_date AS VARCHAR)
        || '. The column-two code is paid only with a modifier showing a distinct service'
        || COALESCE(' (also column two to ' || o.other_codes || ' that day)', '') || '.'
        AS message
FROM ranked AS r
CROSS JOIN bypass_list AS b
LEFT JOIN other_column_1 AS o USING (claim_id, line_number)
WHERE r.pair_rank = 1
