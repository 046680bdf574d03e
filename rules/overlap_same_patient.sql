-- OVERLAP_SAME_PATIENT: the same clock minutes of one patient logged under two different
-- timed codes on one day. One finding per patient, day and pair of codes.
--
-- A code's own segments are first merged into stretches (a code logged twice over the
-- same minutes is one stretch), so the minutes two codes share are counted once however
-- the log splits them. The finding points at the claim line of the later code (the one
-- whose minutes timed_segments does not count), when that code is billed that day.
--
-- Only patient-days on which some segment starts inside an earlier one (timed_segments
-- credits it fewer seconds than it lasts) can hold an overlap; the rest is skipped.
WITH overlapping_days AS (
    SELECT DISTINCT patient_id, service_date
    FROM timed_segments
    WHERE counted_seconds < duration_seconds
),
day_segments AS (
    SELECT s.patient_id, s.service_date, s.cpt_code, s.provider_npi, s.start_time, s.end_time
    FROM timed_segments AS s
    JOIN overlapping_days AS d USING (patient_id, service_date)
),
code_segments AS (
    SELECT
        patient_id,
        service_date,
        cpt_code,
        provider_npi,
        start_time,
        end_time,
        MAX(end_time) OVER (
            PARTITION BY patient_id, service_date, cpt_code
            ORDER BY start_time, end_time, provider_npi
            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
        ) AS covered_until
    FROM day_segments
),
stretch_numbers AS (
    SELECT
        *,
        SUM(CASE WHEN covered_until > start_time THEN 0 ELSE 1 END) OVER (
            PARTITION BY patient_id, service_date, cpt_code
            ORDER BY start_time, end_time, provider_npi
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS stretch
    FROM code_segments
),
code_stretches AS (
    SELECT
        patient_id,
        service_date,
        cpt_code,
        MIN(provider_npi) AS provider_npi,
        MIN(start_time) AS start_time,
        MAX(end_time) AS end_time
    FROM stretch_numbers
    GROUP BY patient_id, service_date, cpt_code, stretch
),
-- Every overlap of a stretch of one code with a stretch of a higher code. The later
-- code is the one timed_segments does not credit: later start, then later end, then
-- the higher code.
shared_stretches AS (
    SELECT
        a.patient_id,
        a.service_date,
        a.cpt_code AS first_code,
        b.cpt_code AS second_code,
        GREATEST(a.start_time, b.start_time) AS overlap_start,
        LEAST(a.end_time, b.end_time) AS overlap_end,
        CASE
            WHEN b.start_time > a.start_time
                OR (b.start_time = a.start_time AND b.end_time >= a.end_time)
                THEN b.cpt_code
            ELSE a.cpt_code
        END AS later_code,
        CASE
            WHEN b.start_time > a.start_time
                OR (b.start_time = a.start_time AND b.end_time >= a.end_time)
                THEN b.provider_npi
            ELSE a.provider_npi
        END AS later_provider_npi
    FROM code_stretches AS a
    JOIN code_stretches AS b
        ON a.patient_id = b.patient_id
        AND a.service_date = b.service_date
        AND a.cpt_code < b.cpt_code
        AND a.start_time < b.end_time
        AND b.start_time < a.end_time
    WHERE date_diff('second', GREATEST(a.start_time, b.start_time), LEAST(a.end_time, b.end_time))
        >= $min_overlap_minutes * 60
),
pairs AS (
    SELECT
        patient_id,
        service_date,
        first_code,
        second_code,
        SUM(date_diff('second', overlap_start, overlap_end)) AS overlap_seconds,
        COUNT(*) AS overlap_count,
        MIN(overlap_start) AS span_start,
        MAX(overlap_end) AS span_end
    FROM shared_stretches
    GROUP BY patient_id, service_date, first_code, second_code
),
-- The later code of the pair's first overlap speaks for the pair.
first_overlaps AS (
    SELECT patient_id, service_date, first_code, second_code, later_code, later_provider_npi
    FROM (
        SELECT
            *,
            ROW_NUMBER() OVER (
                PARTITION BY patient_id, service_date, first_code, second_code
                ORDER BY overlap_start, overlap_end
            ) AS overlap_rank
        FROM shared_stretches
    ) AS ranked
    WHERE overlap_rank = 1
),
-- The later code's first line (claim, then line number) for the patient that day. The
-- lines are first narrowed to the overlapping days: DuckDB cannot tell how few pairs
-- there are, and would otherwise hash every claim line to look up none.
billed_lines AS (
    SELECT patient_id, service_date, cpt_code, claim_id, line_number, payer, units
    FROM (
        SELECT
            l.patient_id,
            l.service_date,
            l.cpt_code,
            l.claim_id,
            l.line_number,
            l.payer,
            l.units,
            ROW_NUMBER() OVER (
                PARTITION BY l.patient_id, l.service_date, l.cpt_code
                ORDER BY l.claim_id, l.line_number
            ) AS line_rank
        FROM audited_claim_lines AS l
        SEMI JOIN overlapping_days USING (patient_id, service_date)
        JOIN first_overlaps AS f
            ON f.patient_id = l.patient_id
            AND f.service_date = l.service_date
            AND f.later_code = l.cpt_code
    ) AS ranked
    WHERE line_rank = 1
)
SELECT
    p.patient_id,
    f.later_provider_npi AS provider_npi,
    p.service_date,
    l.claim_id,
    l.line_number,
    f.later_code AS cpt_code,
    l.payer,
    l.units AS units_billed,
    CAST(NULL AS INTEGER) AS units_supported,
    CAST(NULL AS INTEGER) AS units_at_risk,
    p.first_code || '+' || p.second_code AS finding_key,
    p.first_code || ' and ' || p.second_code || ' were logged for the same minutes of the patient: '
        || CAST(CAST(FLOOR(p.overlap_seconds / 60) AS INTEGER) AS VARCHAR) || ' minute(s)'
        || CASE
            WHEN p.overlap_count > 1
                THEN ' in ' || CAST(p.overlap_count AS VARCHAR) || ' overlaps'
            ELSE ''
        END
        || ', span ' || strftime(p.span_start, '%H:%M') || '-' || strftime(p.span_end, '%H:%M')
        || '. Each minute counts once toward the timed units (here for the code logged first); '
        || f.later_code || CASE
            WHEN l.claim_id IS NULL THEN ' is not billed that day.'
            ELSE ' is billed on claim ' || l.claim_id || ' line ' || CAST(l.line_number AS VARCHAR)
                || ' x' || CAST(l.units AS VARCHAR) || '.'
        END AS message
FROM pairs AS p
JOIN first_overlaps AS f USING (patient_id, service_date, first_code, second_code)
LEFT JOIN billed_lines AS l
    ON l.patient_id = p.patient_id
    AND l.service_date = p.service_date
    AND l.cpt_code = f.later_code
