-- COURSE_LONG: an episode of care (see derived/30_episodes.sql) past the visit counts or
-- the length its payer profile expects. One finding per episode and threshold, on the
-- first line of the visit that crossed it; the thresholds are those of that visit's
-- payer profile ([profile_params] in the catalog).
WITH visits AS (
    SELECT
        e.*,
        m.course_visits_medium,
        m.course_visits_high,
        m.course_max_days
    FROM episodes AS e
    JOIN payer_methods AS m USING (payer)
),
crossings AS (
    SELECT *, 'visits_medium' AS threshold, 'medium' AS graded
    FROM visits
    WHERE episode_visit > course_visits_medium
    UNION ALL
    SELECT *, 'visits_high' AS threshold, 'high' AS graded
    FROM visits
    WHERE episode_visit > course_visits_high
    UNION ALL
    SELECT *, 'length' AS threshold, 'medium' AS graded
    FROM visits
    WHERE episode_day > course_max_days
),
first_crossings AS (
    SELECT
        *,
        ROW_NUMBER() OVER (
            PARTITION BY patient_id, discipline, episode_start, threshold
            ORDER BY service_date
        ) AS crossing_rank
    FROM crossings
)
SELECT
    patient_id,
    provider_npi,
    service_date,
    claim_id,
    line_number,
    cpt_code,
    payer,
    units AS units_billed,
    CAST(NULL AS INTEGER) AS units_supported,
    CAST(NULL AS INTEGER) AS units_at_risk,
    threshold AS finding_key,
    graded AS severity,
    discipline || ' episode of care started ' || CAST(episode_start AS VARCHAR) || ' ('
        || episode_started_by || '): '
        || CASE
            WHEN threshold = 'length'
                THEN 'the visit on ' || CAST(service_date AS VARCHAR) || ' is day '
                    || CAST(episode_day AS VARCHAR) || ' of the episode (visit '
                    || CAST(episode_visit AS VARCHAR) || '), past '
                    || CAST(course_max_days AS VARCHAR) || ' days'
            ELSE 'visit ' || CAST(episode_visit AS VARCHAR) || ', on '
                || CAST(service_date AS VARCHAR) || ', passes '
                || CAST(
                    CASE WHEN threshold = 'visits_high' THEN course_visits_high
                        ELSE course_visits_medium END AS VARCHAR
                ) || ' visits'
        END || '. Check the plan of care, its certification and the progress reports cover '
        || 'the care past this point.' AS message
FROM first_crossings
WHERE crossing_rank = 1
