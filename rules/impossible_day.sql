-- IMPOSSIBLE_DAY: a provider's day that cannot have happened as logged or billed.
--   logged_minutes  the provider's one-on-one timed minutes, as the union of their
--                   segments (minutes shared by overlapping segments count once), exceed
--                   $max_provider_minutes.
--   billed_units    the timed units billed under one rendering NPI need more minutes than
--                   the day has. Each patient's units of a code need at least
--                   $min_minutes for the first and $unit_minutes for each further one
--                   (the fewest any unit method accepts); lines carrying one of
--                   $assistant_modifiers were furnished at least in part by an assistant
--                   under the NPI's supervision and are left out. Needs no time log.
-- Both are about the provider's whole day, so the finding names the day's first patient
-- (in id order), which puts it in the scope of a run that loaded that day.
--
-- The rule compares patients (catalog: across_patients), so it reads the store's segments,
-- not the derived timed_segments (which holds one share of the patients): those of timed
-- codes, the one-on-one minutes (group therapy, 97150, is untimed).
WITH one_on_one AS (
    SELECT
        s.provider_npi,
        s.service_date,
        s.patient_id,
        s.cpt_code,
        s.start_time,
        s.end_time,
        s.duration_seconds
    FROM time_segments AS s
    JOIN ref_cpt_codes AS c USING (cpt_code)
    WHERE c.billing = 'timed'
),
-- The union of a day's segments is at most their sum, so only days whose segments add up
-- to more than the maximum need the union worked out.
long_days AS (
    SELECT provider_npi, service_date
    FROM one_on_one
    GROUP BY provider_npi, service_date
    HAVING SUM(duration_seconds) >= ($max_provider_minutes + 1) * 60
),
provider_segments AS (
    SELECT
        s.provider_npi,
        s.service_date,
        s.patient_id,
        s.start_time,
        s.end_time,
        MAX(s.end_time) OVER (
            PARTITION BY s.provider_npi, s.service_date
            ORDER BY s.start_time, s.end_time, s.patient_id, s.cpt_code
            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
        ) AS covered_until
    FROM one_on_one AS s
    JOIN long_days AS d USING (provider_npi, service_date)
),
-- Minutes of a segment not already covered by the provider's earlier segments.
uncovered AS (
    SELECT
        provider_npi,
        service_date,
        patient_id,
        start_time,
        end_time,
        CASE
            WHEN covered_until IS NULL OR covered_until <= start_time
                THEN date_diff('second', start_time, end_time)
            WHEN covered_until >= end_time THEN 0
            ELSE date_diff('second', covered_until, end_time)
        END AS new_seconds
    FROM provider_segments
),
logged_days AS (
    SELECT
        provider_npi,
        service_date,
        MIN(patient_id) AS patient_id,
        CAST(FLOOR(SUM(new_seconds) / 60) AS INTEGER) AS minutes,
        COUNT(DISTINCT patient_id) AS patients,
        COUNT(*) AS segments,
        MIN(start_time) AS first_start,
        MAX(end_time) AS last_end
    FROM uncovered
    GROUP BY provider_npi, service_date
),
logged_findings AS (
    SELECT
        patient_id,
        provider_npi,
        service_date,
        CAST(NULL AS INTEGER) AS units_billed,
        'logged_minutes' AS finding_key,
        'Provider ' || provider_npi || ' logged ' || CAST(minutes AS VARCHAR)
            || ' one-on-one timed minutes ('
            || CAST(CAST(FLOOR(minutes / 60) AS INTEGER) AS VARCHAR) || ' h '
            || CAST(minutes % 60 AS VARCHAR) || ' min, overlapping segments counted once) in '
            || CAST(segments AS VARCHAR) || ' segments with ' || CAST(patients AS VARCHAR)
            || ' patient(s) between ' || strftime(first_start, '%H:%M') || ' and '
            || strftime(last_end, '%H:%M') || '; the configured maximum is '
            || CAST($max_provider_minutes AS VARCHAR) || ' minutes a day.' AS message
    FROM logged_days
    WHERE minutes > $max_provider_minutes
),
assistant_modifiers AS (
    SELECT UNNEST($assistant_modifiers) AS modifier
),
timed_lines AS (
    SELECT l.rendering_npi, l.service_date, l.patient_id, l.cpt_code, l.claim_id, l.units
    FROM audited_claim_lines AS l
    JOIN ref_cpt_codes AS c ON c.cpt_code = l.cpt_code AND c.billing = 'timed'
    WHERE NOT (
        COALESCE(l.modifier_1, '') IN (SELECT modifier FROM assistant_modifiers)
        OR COALESCE(l.modifier_2, '') IN (SELECT modifier FROM assistant_modifiers)
        OR COALESCE(l.modifier_3, '') IN (SELECT modifier FROM assistant_modifiers)
        OR COALESCE(l.modifier_4, '') IN (SELECT modifier FROM assistant_modifiers)
    )
),
-- However n units are spread over patients and codes, the fewest minutes they need is at
-- most that of one patient and code ($unit_minutes x n - ($unit_minutes - $min_minutes)),
-- so only the days above the day's minutes by that bound are worked out in detail.
busy_billing_days AS (
    SELECT rendering_npi, service_date
    FROM timed_lines
    GROUP BY rendering_npi, service_date
    HAVING $unit_minutes * SUM(units) - ($unit_minutes - $min_minutes) > $minutes_in_day
),
busy_lines AS (
    SELECT l.*
    FROM timed_lines AS l
    JOIN busy_billing_days AS d USING (rendering_npi, service_date)
),
code_units AS (
    SELECT
        rendering_npi,
        service_date,
        patient_id,
        cpt_code,
        SUM(units) AS units
    FROM busy_lines
    GROUP BY rendering_npi, service_date, patient_id, cpt_code
),
billed_days AS (
    SELECT
        rendering_npi,
        service_date,
        MIN(patient_id) AS patient_id,
        SUM(units) AS units,
        SUM($min_minutes + $unit_minutes * (units - 1)) AS least_minutes,
        COUNT(DISTINCT patient_id) AS patients,
        COUNT(*) AS patient_codes
    FROM code_units
    GROUP BY rendering_npi, service_date
),
billed_claims AS (
    SELECT rendering_npi, service_date, COUNT(DISTINCT claim_id) AS claims
    FROM busy_lines
    GROUP BY rendering_npi, service_date
),
billed_findings AS (
    SELECT
        d.patient_id,
        d.rendering_npi AS provider_npi,
        d.service_date,
        CAST(d.units AS INTEGER) AS units_billed,
        'billed_units' AS finding_key,
        CAST(d.units AS VARCHAR) || ' timed units billed under rendering NPI ' || d.rendering_npi
            || ' (' || CAST(d.patients AS VARCHAR) || ' patient(s), ' || CAST(b.claims AS VARCHAR)
            || ' claim(s), ' || CAST(d.patient_codes AS VARCHAR)
            || ' patient-code(s)) need at least ' || CAST(d.least_minutes AS VARCHAR)
            || ' minutes (' || CAST($min_minutes AS VARCHAR) || ' for the first unit of each '
            || 'patient''s code, ' || CAST($unit_minutes AS VARCHAR) || ' for each further unit'
            || '); a day has ' || CAST($minutes_in_day AS VARCHAR) || '.' AS message
    FROM billed_days AS d
    JOIN billed_claims AS b USING (rendering_npi, service_date)
    WHERE d.least_minutes > $minutes_in_day
),
findings AS (
    SELECT * FROM logged_findings
    UNION ALL
    SELECT * FROM billed_findings
)
SELECT
    patient_id,
    provider_npi,
    service_date,
    CAST(NULL AS VARCHAR) AS claim_id,
    CAST(NULL AS INTEGER) AS line_number,
    CAST(NULL AS VARCHAR) AS cpt_code,
    CAST(NULL AS VARCHAR) AS payer,
    units_billed,
    CAST(NULL AS INTEGER) AS units_supported,
    CAST(NULL AS INTEGER) AS units_at_risk,
    finding_key,
    message
FROM findings
