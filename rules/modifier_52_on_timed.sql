-- MODIFIER_52_ON_TIMED: modifier 52 (reduced services) on a timed code. Timed codes are
-- reported in units by their minutes: under the minutes that earn a unit the code is not
-- billed at all, and 52 does not make it billable. The code's logged minutes that day are
-- given as the evidence to check.
WITH reduced_lines AS (
    SELECT l.*
    FROM audited_claim_lines AS l
    JOIN ref_cpt_codes AS c USING (cpt_code)
    WHERE c.billing = 'timed'
        AND $reduced_services_modifier IN (l.modifier_1, l.modifier_2, l.modifier_3, l.modifier_4)
),
-- The minutes logged, for the few code-days billed with the modifier only.
logged AS (
    SELECT
        s.patient_id,
        s.service_date,
        s.cpt_code,
        CAST(FLOOR(SUM(s.counted_seconds) / 60) AS INTEGER) AS minutes
    FROM timed_segments AS s
    SEMI JOIN reduced_lines AS r USING (patient_id, service_date, cpt_code)
    GROUP BY s.patient_id, s.service_date, s.cpt_code
)
SELECT
    l.patient_id,
    l.rendering_npi AS provider_npi,
    l.service_date,
    l.claim_id,
    l.line_number,
    l.cpt_code,
    l.payer,
    l.units AS units_billed,
    CAST(NULL AS INTEGER) AS units_supported,
    0 AS units_at_risk,
    l.cpt_code || ' x' || CAST(l.units AS VARCHAR) || ' billed with modifier '
        || $reduced_services_modifier || ' (reduced services) on ' || CAST(l.service_date AS VARCHAR)
        || ' (' || COALESCE(l.modifiers, '') || '); '
        || CASE
            WHEN g.minutes IS NULL THEN 'no minutes of it are logged that day'
            ELSE CAST(g.minutes AS VARCHAR) || ' minutes of it are logged that day'
        END
        || '. A timed code is reported by its minutes (' || CAST($min_minutes AS VARCHAR) || ' to '
        || CAST($unit_minutes + $min_minutes - 1 AS VARCHAR) || ' minutes = 1 unit); under '
        || CAST($min_minutes AS VARCHAR) || ' minutes it is not billed, and '
        || $reduced_services_modifier || ' does not make it billable.' AS message
FROM reduced_lines AS l
LEFT JOIN logged AS g USING (patient_id, service_date, cpt_code)
