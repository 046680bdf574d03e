-- UNITS_UNDER_8_MIN: a timed code billed with fewer than $min_minutes logged minutes
-- where the payer's method gives it no unit.
SELECT
    patient_id,
    rendering_npi AS provider_npi,
    service_date,
    claim_id,
    line_number,
    cpt_code,
    payer,
    units_billed,
    units_supported,
    units_billed AS units_at_risk,
    cpt_code || ' billed x' || CAST(units_billed AS VARCHAR) || ' with ' || CAST(minutes AS VARCHAR)
        || ' logged minutes; under the '
        || CASE unit_method
            WHEN 'ama_per_code' THEN 'per-code method a unit needs ' || CAST($min_minutes AS VARCHAR) || ' minutes'
            ELSE 'CMS total-time method the day''s ' || CAST(day_minutes AS VARCHAR)
                || ' timed minutes (' || day_detail || ') support '
                || CAST(day_units_supported AS VARCHAR) || ' units, none of them for this code'
        END || '.' AS message
FROM code_day_units
WHERE unit_basis = 'under_min' AND units_billed > 0
