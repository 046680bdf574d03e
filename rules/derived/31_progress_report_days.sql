-- The days a time log marks as a progress-report visit, per patient and discipline (from
-- the provider's role). Empty when no segment in the store is marked, which makes
-- PROGRESS_REPORT_OVERDUE "not applicable": without the marks there is nothing to count
-- from. 'progress_report' is the value the input contract gives note_type for this.
SELECT DISTINCT
    patient_id,
    CASE
        WHEN provider_role IN ('PT', 'PTA') THEN 'PT'
        WHEN provider_role IN ('OT', 'OTA') THEN 'OT'
        ELSE 'SLP'
    END AS discipline,
    service_date
FROM time_segments
WHERE LOWER(TRIM(note_type)) = 'progress_report'
