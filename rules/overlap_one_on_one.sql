-- OVERLAP_ONE_ON_ONE: one provider's one-on-one timed minutes overlap across two
-- patients. One finding per provider, day and pair of patients.
--
-- Near-linear: the provider's segments are sorted by start, and a segment can only
-- overlap another if it starts before the running maximum end of the provider's earlier
-- ones. Provider-days with no such segment (nearly all) stop there. On the others, a
-- patient's own overlapping segments are merged into stretches and each late-starting
-- stretch is paired with the earlier stretches of other patients that still cover its
-- start.
--
-- The rule compares patients (catalog: across_patients), so it reads the store's segments,
-- not the derived timed_segments (which holds one share of the patients): those of timed
-- codes, the one-on-one minutes (group therapy, 97150, is untimed).
WITH one_on_one AS (
    SELECT s.provider_npi, s.service_date, s.patient_id, s.cpt_code, s.start_time, s.end_time
    FROM time_segments AS s
    JOIN ref_cpt_codes AS c USING (cpt_code)
    WHERE c.billing = 'timed'
),
provider_marks AS (
    SELECT
        provider_npi,
        service_date,
        start_time,
        MAX(end_time) OVER (
            PARTITION BY provider_npi, service_date
            ORDER BY start_time
            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
        ) AS busy_until
    FROM one_on_one
),
crowded_days AS (
    SELECT DISTINCT provider_npi, service_date
    FROM provider_marks
    WHERE busy_until > start_time
),
day_segments AS (
    SELECT s.provider_npi, s.service_date, s.patient_id, s.cpt_code, s.start_time, s.end_time
    FROM one_on_one AS s
    JOIN crowded_days AS d USING (provider_npi, service_date)
),
patient_segments AS (
    SELECT
        provider_npi,
        service_date,
        patient_id,
        cpt_code,
        start_time,
        end_time,
        MAX(end_time) OVER (
            PARTITION BY provider_npi, service_date, patient_id
            ORDER BY start_time, end_time, cpt_code
            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
        ) AS covered_until
    FROM day_segments
),
stretch_numbers AS (
    SELECT
        *,
        SUM(CASE WHEN covered_until > start_time THEN 0 ELSE 1 END) OVER (
            PARTITION BY provider_npi, service_date, patient_id
            ORDER BY start_time, end_time, cpt_code
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS stretch
    FROM patient_segments
),
patient_stretches AS (
    SELECT
        provider_npi,
        service_date,
        patient_id,
        MIN(start_time) AS start_time,
        MAX(end_time) AS end_time
    FROM stretch_numbers
    GROUP BY provider_npi, service_date, patient_id, stretch
),
provider_day AS (
    SELECT
        *,
        ROW_NUMBER() OVER (
            PARTITION BY provider_npi, service_date
            ORDER BY start_time, end_time, patient_id
        ) AS position,
        MAX(end_time) OVER (
            PARTITION BY provider_npi, service_date
            ORDER BY start_time, end_time, patient_id
            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
        ) AS busy_until
    FROM patient_stretches
),
late_starts AS (
    SELECT * FROM provider_day WHERE busy_until > start_time
),
-- An earlier stretch that covers a late start overlaps it from that start on. A patient's
-- stretches do not overlap one another, so the overlaps of one pair of patients are
-- disjoint and add up.
shared_stretches AS (
    SELECT
        l.provider_npi,
        l.service_date,
        LEAST(e.patient_id, l.patient_id) AS first_patient,
        GREATEST(e.patient_id, l.patient_id) AS second_patient,
        l.start_time AS overlap_start,
        LEAST(e.end_time, l.end_time) AS overlap_end
    FROM late_starts AS l
    JOIN provider_day AS e
        ON e.provider_npi = l.provider_npi
        AND e.service_date = l.service_date
        AND e.position < l.position
        AND e.end_time > l.start_time
        AND e.patient_id <> l.patient_id
    WHERE date_diff('second', l.start_time, LEAST(e.end_time, l.end_time))
        >= $min_overlap_minutes * 60
),
pairs AS (
    SELECT
        provider_npi,
        service_date,
        first_patient,
        second_patient,
        SUM(date_diff('second', overlap_start, overlap_end)) AS overlap_seconds,
        COUNT(*) AS overlap_count,
        MIN(overlap_start) AS span_start,
        MAX(overlap_end) AS span_end
    FROM shared_stretches
    GROUP BY provider_npi, service_date, first_patient, second_patient
),
-- The codes each patient had logged during the shared minutes.
overlap_codes AS (
    SELECT DISTINCT
        o.provider_npi,
        o.service_date,
        o.first_patient,
        o.second_patient,
        s.patient_id,
        s.cpt_code
    FROM shared_stretches AS o
    JOIN day_segments AS s
        ON s.provider_npi = o.provider_npi
        AND s.service_date = o.service_date
        AND s.patient_id IN (o.first_patient, o.second_patient)
        AND s.start_time < o.overlap_end
        AND s.end_time > o.overlap_start
),
patient_codes AS (
    SELECT
        provider_npi,
        service_date,
        first_patient,
        second_patient,
        patient_id,
        STRING_AGG(cpt_code, ', ' ORDER BY cpt_code) AS codes
    FROM overlap_codes
    GROUP BY provider_npi, service_date, first_patient, second_patient, patient_id
)
SELECT
    p.first_patient AS patient_id,
    p.provider_npi,
    p.service_date,
    CAST(NULL AS VARCHAR) AS claim_id,
    CAST(NULL AS INTEGER) AS line_number,
    CAST(NULL AS VARCHAR) AS cpt_code,
    CAST(NULL AS VARCHAR) AS payer,
    CAST(NULL AS INTEGER) AS units_billed,
    CAST(NULL AS INTEGER) AS units_supported,
    CAST(NULL AS INTEGER) AS units_at_risk,
    p.second_patient AS finding_key,
    'Provider ' || p.provider_npi || ' logged one-on-one timed minutes with two patients at once: '
        || p.first_patient || ' (' || c1.codes || ') and ' || p.second_patient || ' ('
        || c2.codes || '), ' || CAST(CAST(FLOOR(p.overlap_seconds / 60) AS INTEGER) AS VARCHAR)
        || ' minute(s)'
        || CASE
            WHEN p.overlap_count > 1
                THEN ' in ' || CAST(p.overlap_count AS VARCHAR) || ' overlaps'
            ELSE ''
        END
        || ', span ' || strftime(p.span_start, '%H:%M') || '-' || strftime(p.span_end, '%H:%M')
        || '. Treating two or more patients at the same time is group therapy (97150), '
        || 'not one-on-one timed minutes.' AS message
FROM pairs AS p
JOIN patient_codes AS c1
    ON c1.provider_npi = p.provider_npi
    AND c1.service_date = p.service_date
    AND c1.first_patient = p.first_patient
    AND c1.second_patient = p.second_patient
    AND c1.patient_id = p.first_patient
JOIN patient_codes AS c2
    ON c2.provider_npi = p.provider_npi
    AND c2.service_date = p.service_date
    AND c2.first_patient = p.first_patient
    AND c2.second_patient = p.second_patient
    AND c2.patient_id = p.second_patient
