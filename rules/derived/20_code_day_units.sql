-- One row per patient, service day, discipline and timed code: the minutes logged (each
-- minute once, see timed_segments), the units billed and the units those minutes support
-- under the payer profile's method.
-- The three unit rules read this table, so they judge every line the same way.
-- (The text listing a day's codes for their messages is built only for the days they
-- can flag, in 21_unit_day_detail.sql.)
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
-- The timed lines on logged days; own_discipline is the line's GP/GO/GN modifier's
-- discipline where that discipline logged the code that day (else NULL).
timed_lines AS (
    SELECT
        l.claim_id,
        l.line_number,
        l.patient_id,
        l.service_date,
        l.cpt_code,
        l.units,
        l.payer,
        l.rendering_npi,
        l.modifier_discipline,
        m.unit_method,
        own.discipline AS own_discipline
    FROM claim_line_modifiers AS l
    JOIN timed_codes USING (cpt_code)
    JOIN logged_days USING (service_date)
    JOIN payer_methods AS m USING (payer)
    LEFT JOIN logged AS own
        ON own.patient_id = l.patient_id
        AND own.service_date = l.service_date
        AND own.cpt_code = l.cpt_code
        AND own.discipline = l.modifier_discipline
),
-- The discipline that logged most of a code's minutes for the patient that day (ties:
-- the first by name), for the few code-days a line's own discipline did not log: the
-- least of structs, an aggregate where a ranking window would sort every code-day. A
-- semi-join on those few lines: with an inner join on them, DuckDB misjudged how many
-- they are in some shares of a 10M store and hashed every line for the join below.
logged_discipline AS (
    SELECT
        g.patient_id,
        g.service_date,
        g.cpt_code,
        MIN({'fewer_minutes': -g.minutes, 'discipline': g.discipline}).discipline AS discipline
    FROM logged AS g
    SEMI JOIN (SELECT * FROM timed_lines WHERE own_discipline IS NULL) AS unmatched
        USING (patient_id, service_date, cpt_code)
    GROUP BY g.patient_id, g.service_date, g.cpt_code
),
-- A line is judged in the discipline whose minutes it bills: its GP/GO/GN modifier's
-- (claim_line_modifiers) when that discipline logged the code that day, otherwise the
-- discipline that logged most of the code's minutes (a wrong or missing modifier is
-- MODIFIER_THERAPY_MISSING's finding, not a reason to call the minutes missing),
-- otherwise the modifier's.
billed_lines AS (
    SELECT
        l.*,
        COALESCE(l.own_discipline, d.discipline, l.modifier_discipline, 'unknown') AS discipline
    FROM timed_lines AS l
    LEFT JOIN logged_discipline AS d USING (patient_id, service_date, cpt_code)
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
        -- Findings point at the code's first line (claim, then line number): the least
        -- of DuckDB structs, which compare field by field, where a ranking window would
        -- sort every code-day.
        MIN({'claim_id': claim_id, 'line_number': line_number, 'rendering_npi': rendering_npi})
            AS first_line
    FROM billed_lines
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
        b.first_line.claim_id AS claim_id,
        b.first_line.line_number AS line_number,
        b.first_line.rendering_npi AS rendering_npi,
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
code_units AS (
    SELECT
        *,
        CAST(FLOOR(minutes / $unit_minutes) AS INTEGER) AS full_units,
        minutes - $unit_minutes * CAST(FLOOR(minutes / $unit_minutes) AS INTEGER) AS leftover_minutes,
        CAST(FLOOR((minutes + $unit_minutes - $min_minutes) / $unit_minutes) AS INTEGER)
            AS per_code_units
    FROM day_codes
),
-- The day's totals, once per patient, day and discipline. Minutes logged but not billed
-- still count toward the day's total under the CMS method, so they take the method of
-- the codes billed beside them.
days AS (
    SELECT
        patient_id,
        service_date,
        discipline,
        MAX(payer) AS payer,
        MAX(unit_method) AS unit_method,
        SUM(minutes) AS day_minutes,
        SUM(full_units) AS day_full_units,
        SUM(per_code_units) AS day_per_code_units,
        SUM(units_billed) AS day_units_billed,
        COUNT(*) AS day_codes
    FROM code_units
    GROUP BY patient_id, service_date, discipline
    HAVING MAX(unit_method) IS NOT NULL
),
-- CMS total-time method: the day's minutes give the total units; each code first gets
-- its whole 15-minute units, and the units left go one each to the codes with the
-- most leftover minutes (ties: more minutes in all, then code order).
day_units AS (
    SELECT
        *,
        CAST(FLOOR((day_minutes + $unit_minutes - $min_minutes) / $unit_minutes) AS INTEGER)
            - day_full_units AS units_left
    FROM days
),
with_day AS (
    SELECT
        c.patient_id,
        c.service_date,
        c.discipline,
        c.cpt_code,
        d.payer,
        d.unit_method,
        c.claim_id,
        c.line_number,
        c.rendering_npi,
        c.billed_lines,
        c.units_billed,
        c.minutes,
        c.assistant_minutes,
        c.segments,
        c.full_units,
        c.leftover_minutes,
        c.per_code_units,
        d.day_minutes,
        d.day_units_billed,
        d.units_left,
        d.day_codes,
        -- Every code gets one of the units left, or none does; each code's units
        -- supported add up to this.
        CASE d.unit_method
            WHEN 'ama_per_code' THEN d.day_per_code_units
            ELSE d.day_full_units + LEAST(d.day_codes, GREATEST(0, d.units_left))
        END AS day_units_supported,
        -- Only where some but not all codes get one of the units left does the order
        -- of the codes matter.
        d.unit_method <> 'ama_per_code' AND d.units_left BETWEEN 1 AND d.day_codes - 1
            AS contested
    FROM code_units AS c
    JOIN day_units AS d USING (patient_id, service_date, discipline)
),
supported AS (
    SELECT
        *,
        CASE unit_method
            WHEN 'ama_per_code' THEN per_code_units
            ELSE full_units + CASE WHEN units_left >= day_codes THEN 1 ELSE 0 END
        END AS units_supported
    FROM with_day
    WHERE NOT contested
    UNION ALL
    SELECT
        *,
        full_units
            + CASE
                WHEN ROW_NUMBER() OVER (
                    PARTITION BY patient_id, service_date, discipline
                    ORDER BY leftover_minutes DESC, minutes DESC, cpt_code
                ) <= units_left THEN 1
                ELSE 0
            END AS units_supported
    FROM with_day
    WHERE contested
)
SELECT
    patient_id,
    service_date,
    discipline,
    cpt_code,
    payer,
    unit_method,
    claim_id,
    line_number,
    rendering_npi,
    billed_lines,
    units_billed,
    minutes,
    assistant_minutes,
    segments,
    units_supported,
    day_minutes,
    day_units_billed,
    day_units_supported,
    CASE
        WHEN segments = 0 THEN 'no_log'
        WHEN minutes < $min_minutes AND units_supported = 0 THEN 'under_min'
        ELSE 'minutes'
    END AS unit_basis
FROM supported
