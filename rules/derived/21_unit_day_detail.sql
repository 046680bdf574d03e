-- The day's timed codes as the unit rules' messages show them ("97110 23 min billed x2,
-- 97140 7 min billed x1"), per patient, day and discipline. Only for the days one of
-- them can flag (the conditions of TIME_LOG_MISSING, UNITS_UNDER_8_MIN, UNITS_OVERBILLED
-- and UNITS_UNDERBILLED): ordered text for every patient-day would cost more than the
-- whole units table. A rule that finds no text here for its day leaves its message
-- NULL, which the findings table refuses, so a mismatch cannot pass unnoticed.
WITH flaggable_days AS (
    SELECT DISTINCT patient_id, service_date, discipline
    FROM code_day_units
    WHERE (unit_basis IN ('no_log', 'under_min') AND units_billed > 0)
        OR (unit_basis = 'minutes' AND units_billed <> units_supported)
)
SELECT
    c.patient_id,
    c.service_date,
    c.discipline,
    STRING_AGG(
        c.cpt_code || ' ' || CAST(c.minutes AS VARCHAR) || ' min billed x'
            || CAST(c.units_billed AS VARCHAR),
        ', '
        ORDER BY c.cpt_code
    ) AS day_detail
FROM code_day_units AS c
JOIN flaggable_days USING (patient_id, service_date, discipline)
GROUP BY c.patient_id, c.service_date, c.discipline
