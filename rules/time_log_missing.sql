-- TIME_LOG_MISSING: a timed code billed with no logged segment of that code for the
-- patient that day (on a day the time logs cover).
SELECT
    c.patient_id,
    c.rendering_npi AS provider_npi,
    c.service_date,
    c.claim_id,
    c.line_number,
    c.cpt_code,
    c.payer,
    c.units_billed,
    0 AS units_supported,
    c.units_billed AS units_at_risk,
    c.cpt_code || ' billed x' || CAST(c.units_billed AS VARCHAR) || ' (' || c.discipline
        || ') with no time-log segment for that code on ' || CAST(c.service_date AS VARCHAR)
        || '. Timed codes that day: ' || d.day_detail || '.' AS message
FROM code_day_units AS c
LEFT JOIN unit_day_detail AS d USING (patient_id, service_date, discipline)
WHERE c.unit_basis = 'no_log' AND c.units_billed > 0
