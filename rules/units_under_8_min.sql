-- UNITS_UNDER_8_MIN: a timed code billed with fewer than $min_minutes logged minutes
-- where the payer's method gives it no unit.
SELECT
    c.patient_id,
    c.rendering_npi AS provider_npi,
    c.service_date,
    c.claim_id,
    c.line_number,
    c.cpt_code,
    c.payer,
    c.units_billed,
    c.units_supported,
    c.units_billed AS units_at_risk,
    c.cpt_code || ' billed x' || CAST(c.units_billed AS VARCHAR) || ' with '
        || CAST(c.minutes AS VARCHAR) || ' logged minutes; under the '
        || CASE c.unit_method
            WHEN 'ama_per_code' THEN 'per-code method a unit needs ' || CAST($min_minutes AS VARCHAR) || ' minutes'
            ELSE 'CMS total-time method the day''s ' || CAST(c.day_minutes AS VARCHAR)
                || ' timed minutes (' || d.day_detail || ') support '
                || CAST(c.day_units_supported AS VARCHAR) || ' units, none of them for this code'
        END || '.' AS message
FROM code_day_units AS c
LEFT JOIN unit_day_detail AS d USING (patient_id, service_date, discipline)
WHERE c.unit_basis = 'under_min' AND c.units_billed > 0
