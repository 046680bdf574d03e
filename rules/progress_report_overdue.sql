-- PROGRESS_REPORT_OVERDUE: the visit that is treatment day $report_every_treatment_days + 1
-- of a reporting period with no progress-report visit in it. A period starts on the
-- episode's first day (the evaluation counts) and again on the first treatment day after
-- a progress-report visit. A treatment day is a visit of the discipline (one per calendar
-- day); a progress-report visit is one whose time log marks a segment of that discipline
-- as progress_report (derived/31_progress_report_days.sql).
WITH visits AS (
    SELECT
        e.*,
        r.service_date IS NOT NULL AS has_report
    FROM episodes AS e
    LEFT JOIN progress_report_days AS r USING (patient_id, discipline, service_date)
),
periods AS (
    SELECT
        *,
        MAX(CASE WHEN has_report THEN episode_visit END) OVER earlier AS last_report_visit,
        MAX(CASE WHEN has_report THEN service_date END) OVER earlier AS last_report_date
    FROM visits
    WINDOW earlier AS (
        PARTITION BY patient_id, discipline, episode_start
        ORDER BY episode_visit
        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
    )
),
counted AS (
    SELECT *, episode_visit - COALESCE(last_report_visit, 0) AS period_day
    FROM periods
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
    discipline || ' episode of care started ' || CAST(episode_start AS VARCHAR) || ' ('
        || episode_started_by || '): the visit on ' || CAST(service_date AS VARCHAR)
        || ' is treatment day ' || CAST(period_day AS VARCHAR) || ' since '
        || CASE
            WHEN last_report_date IS NULL THEN 'the episode began'
            ELSE 'the progress-report visit of ' || CAST(last_report_date AS VARCHAR)
        END
        || ', and no progress report is marked in the time log for those '
        || CAST($report_every_treatment_days AS VARCHAR) || ' treatment days'
        || CASE WHEN has_report THEN ' (the report marked on this visit is a day late)' ELSE '' END
        || '.' AS message
FROM counted
WHERE period_day = $report_every_treatment_days + 1
