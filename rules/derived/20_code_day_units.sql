-- One row per patient, service day, discipline and timed code: the minutes logged (each
-- minute once, see timed_segments), the units billed and the units those minutes support
-- under the payer profile's method.
-- The three unit rules read this table, so they judge every line the same way.
--
-- unit_basis says which rule speaks for a billed code:
--   no_log     no segment of the code that day          -> TIME_LOG_MISSING
--   under_min  fewer than $min_minutes and no unit      -> UNITS_UNDER_8_MIN
--   minutes    otherwise                                -> UNITS_OVERBILLED
-- Days on which the time-log exports hold no segment at all (for any patient) are
-- left out: there is nothing to judge them against.
WITH timed_codes AS (
    SELECT cpt_code FROM ref_cpt_codes WHERE billing = 'timed'
),
logged_days AS (
    SELECT DISTINCT service_date FROM time_segments
),
logged AS (
    SELECT
        patient_id,
        service_date,
        discipline,
        cpt_code,
        CAST(FLOOR(SUM(counted_seconds) / 60) AS INTEGER) AS minutes,
        CAST(FLOOR(SUM(CASE WHEN by_assistant THEN counted_seconds ELSE 0 END) / 60) AS INTEGER)
            AS assistant_minutes,
        COUNT(*) AS segments
    FROM timed_segments
    GROUP BY patient_id, service_date, discipline, cpt_code
),
-- The discipline that logged most of a code's minutes for the patient that day.
logged_discipline AS (
    SELECT patient_id, service_date, cpt_code, discipline
    FROM (
        SELECT
            patient_id,
            service_date,
            cpt_code,
            discipline,
            ROW_NUMBER() OVER (
                PARTITION BY patient_id, service_date, cpt_code
                ORDER BY minutes DESC, discipline
            ) AS preference
        FROM logged
    ) AS ranked
    WHERE preference = 1
),
-- A line is judged in the discipline whose minutes it bills: its GP/GO/GN modifier's
-- when that discipline logged the code that day, otherwise the discipline that logged
-- most of the code's minutes (a wrong or missing modifier is MODIFIER_THERAPY_MISSING's
-- finding, not a reason to call the minutes missing), otherwise the modifier's.
line_modifiers AS (
    SELECT
        l.*,
        CASE
            WHEN 'GP' IN (l.modifier_1, l.modifier_2, l.modifier_3, l.modifier_4) THEN 'PT'
            WHEN 'GO' IN (l.modifier_1, l.modifier_2, l.modifier_3, l.modifier_4) THEN 'OT'
            WHEN 'GN' IN (l.modifier_1, l.modifier_2, l.modifier_3, l.modifier_4) THEN 'SLP'
        END AS modifier_discipline
    FROM audited_claim_lines AS l
    JOIN timed_codes USING (cpt_code)
    JOIN logged_days USING (service_date)
),
billed_lines AS (
    SELECT
        l.claim_id,
        l.line_number,
        l.patient_id,
        l.service_date,
        l.cpt_code,
        l.units,
        l.payer,
        l.rendering_npi,
        m.unit_method,
        CASE
            WHEN own.discipline IS NOT NULL THEN own.discipline
            ELSE COALESCE(d.discipline, l.modifier_discipline, 'unknown')
        END AS discipline
    FROM line_modifiers AS l
    JOIN payer_methods AS m USING (payer)
    LEFT JOIN logged_discipline AS d USING (patient_id, service_date, cpt_code)
    LEFT JOIN logged AS own
        ON own.patient_id = l.patient_id
        AND own.service_date = l.service_date
        AND own.cpt_code = l.cpt_code
        AND own.discipline = l.modifier_discipline
),
billed AS (
    SELECT
        patient_id,
        service_date,
        discipline,
        cpt_code,
        MAX(payer) AS payer,
        MAX(unit_method) AS unit_method,
        SUM(units) AS units_billed,
        COUNT(*) AS billed_lines,
        -- Findings point at the code's first line (claim, then line number).
        MIN(CASE WHEN line_rank = 1 THEN claim_id END) AS claim_id,
        MIN(CASE WHEN line_rank = 1 THEN line_number END) AS line_number,
        MIN(CASE WHEN line_rank = 1 THEN rendering_npi END) AS rendering_npi
    FROM (
        SELECT
            *,
            ROW_NUMBER() OVER (
                PARTITION BY patient_id, service_date, discipline, cpt_code
                ORDER BY claim_id, line_number
            ) AS line_rank
        FROM billed_lines
    ) AS ranked_lines
    GROUP BY patient_id, service_date, discipline, cpt_code
),
day_codes AS (
    SELECT
        COALESCE(b.patient_id, g.patient_id) AS patient_id,
        COALESCE(b.service_date, g.service_date) AS service_date,
        COALESCE(b.discipline, g.discipline) AS discipline,
        COALESCE(b.cpt_code, g.cpt_code) AS cpt_code,
        b.payer,
        b.unit_method,
        b.claim_id,
        b.line_number,
        b.rendering_npi,
        COALESCE(b.billed_lines, 0) AS billed_lines,
        COALESCE(b.units_billed, 0) AS units_billed,
        COALESCE(g.minutes, 0) AS minutes,
        COALESCE(g.assistant_minutes, 0) AS assistant_minutes,
        COALESCE(g.segments, 0) AS segments
    FROM billed AS b
    FULL OUTER JOIN logged AS g
        ON b.patient_id = g.patient_id
        AND b.service_date = g.service_date
        AND b.discipline = g.discipline
        AND b.cpt_code = g.cpt_code
),
-- Minutes logged but not billed still count toward the day's total under the CMS
-- method, so they take the method of the codes billed beside them.
grouped AS (
    SELECT
        patient_id,
        service_date,
        discipline,
        cpt_code,
        MAX(payer) OVER day AS payer,
        MAX(unit_method) OVER day AS unit_method,
        claim_id,
        line_number,
        rendering_npi,
        billed_lines,
        units_billed,
        minutes,
        assistant_minutes,
        segments,
        CAST(FLOOR(minutes / $unit_minutes) AS INTEGER) AS full_units,
        minutes - $unit_minutes * CAST(FLOOR(minutes / $unit_minutes) AS INTEGER) AS leftover_minutes,
        SUM(minutes) OVER day AS day_minutes
    FROM day_codes
    WINDOW day AS (PARTITION BY patient_id, service_date, discipline)
),
-- CMS total-time method: the day's minutes give the total units; each code first gets
-- its whole 15-minute units, and the units left go one each to the codes with the
-- most leftover minutes (ties: more minutes in all, then code order).
ranked AS (
    SELECT
        *,
        CAST(FLOOR((day_minutes + $unit_minutes - $min_minutes) / $unit_minutes) AS INTEGER)
            AS day_units_total_time,
        SUM(full_units) OVER day AS day_full_units,
        ROW_NUMBER() OVER (
            PARTITION BY patient_id, service_date, discipline
            ORDER BY leftover_minutes DESC, minutes DESC, cpt_code
        ) AS leftover_rank
    FROM grouped
    WHERE unit_method IS NOT NULL
    WINDOW day AS (PARTITION BY patient_id, service_date, discipline)
),
supported AS (
    SELECT
        *,
        CASE unit_method
            WHEN 'ama_per_code'
                THEN CAST(FLOOR((minutes + $unit_minutes - $min_minutes) / $unit_minutes) AS INTEGER)
            ELSE full_units
                + CASE WHEN leftover_rank <= day_units_total_time - day_full_units THEN 1 ELSE 0 END
        END AS units_supported
    FROM ranked
),
day_detail AS (
    SELECT
        patient_id,
        service_date,
        discipline,
        STRING_AGG(
            cpt_code || ' ' || CAST(minutes AS VARCHAR) || ' min billed x'
                || CAST(units_billed AS VARCHAR),
            ', '
            ORDER BY cpt_code
        ) AS day_detail,
        SUM(units_billed) AS day_units_billed,
        SUM(units_supported) AS day_units_supported
    FROM supported
    GROUP BY patient_id, service_date, discipline
)
SELECT
    s.patient_id,
    s.service_date,
    s.discipline,
    s.cpt_code,
    s.payer,
    s.unit_method,
    s.claim_id,
    s.line_number,
    s.rendering_npi,
    s.billed_lines,
    s.units_billed,
    s.minutes,
    s.assistant_minutes,
    s.segments,
    s.units_supported,
    s.day_minutes,
    d.day_units_billed,
    d.day_units_supported,
    d.day_detail,
    CASE
        WHEN s.segments = 0 THEN 'no_log'
        WHEN s.minutes < $min_minutes AND s.units_supported = 0 THEN 'under_min'
        ELSE 'minutes'
    END AS unit_basis
FROM supported AS s
JOIN day_detail AS d USING (patient_id, service_date, discipline)
