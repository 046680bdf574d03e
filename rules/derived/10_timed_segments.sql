-- Timed segments with every minute of a patient's day credited once. Segments are taken
-- in start order; one that starts inside an earlier one of the same patient and day is
-- counted only from where the earlier ones end, so minutes logged under two codes (or
-- twice under one) count once, for the code logged first. OVERLAP_SAME_PATIENT reports
-- the overlaps themselves.
WITH timed AS (
    SELECT
        s.patient_id,
        s.provider_npi,
        s.provider_role,
        s.service_date,
        s.cpt_code,
        s.start_time,
        s.end_time,
        s.duration_seconds,
        s.session_id,
        s.note_type,
        CASE
            WHEN s.provider_role IN ('PT', 'PTA') THEN 'PT'
            WHEN s.provider_role IN ('OT', 'OTA') THEN 'OT'
            ELSE 'SLP'
        END AS discipline,
        s.provider_role IN ('PTA', 'OTA') AS by_assistant
    FROM time_segments AS s
    JOIN ref_cpt_codes AS c USING (cpt_code)
    WHERE c.billing = 'timed'
),
ordered AS (
    SELECT
        *,
        MAX(end_time) OVER (
            PARTITION BY patient_id, service_date
            ORDER BY start_time, end_time, cpt_code, provider_npi
            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
        ) AS covered_until
    FROM timed
)
SELECT
    *,
    CASE
        WHEN covered_until IS NULL OR covered_until <= start_time THEN duration_seconds
        WHEN covered_until >= end_time THEN 0
        ELSE date_diff('second', covered_until, end_time)
    END AS counted_seconds
FROM ordered
