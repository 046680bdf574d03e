-- TIME_LOG_MISSING: a timed code billed with no logged segment of that code for the
-- patient that day (on a day the time logs cover).
SELECT
    patient_id,
    rendering_npi AS provider_npi,
    service_date,
    claim_id,
    line_number,
    cpt_code,
    payer,
    units_billed,
    0 AS units_supported,
    units_billed AS units_at_risk,
    cpt_code || ' billed x' || CAST(units_billed AS VARCHAR) || ' (' || discipline
        || ') with no time-log segment for that code on ' || CAST(service_date AS VARCHAR)
        || '. Timed codes that day: ' || day_detail || '.' AS message
FROM code_day_units
WHERE unit_basis = 'no_log' AND units_billed > 0
