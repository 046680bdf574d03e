-- KX_MEDICAL_REVIEW: the line with which a patient's allowed amounts for the calendar
-- year, in one threshold group (PT and SLP together, OT alone), first pass the targeted
-- medical-review threshold. One note per patient, year and group; the running total is
-- the one MODIFIER_KX_MISSING judges (derived/32_therapy_allowed.sql).
WITH crossing AS (
    SELECT
        *,
        ROW_NUMBER() OVER (
            PARTITION BY patient_id, service_year, threshold_group
            ORDER BY service_date, claim_id, line_number
        ) AS crossing_rank
    FROM therapy_allowed
    WHERE total_after > $medical_review_threshold
)
SELECT
    patient_id,
    rendering_npi AS provider_npi,
    service_date,
    claim_id,
    line_number,
    cpt_code,
    payer,
    units AS units_billed,
    CAST(NULL AS INTEGER) AS units_supported,
    CAST(NULL AS INTEGER) AS units_at_risk,
    'The patient''s allowed amounts for '
        || CASE WHEN threshold_group = 'OT' THEN 'OT' ELSE 'PT and SLP combined' END
        || ' in ' || CAST(service_year AS VARCHAR) || ' pass the targeted medical-review '
        || 'threshold ($' || CAST(CAST($medical_review_threshold AS DECIMAL(14, 2)) AS VARCHAR)
        || ') with this line: $' || CAST(total_before AS VARCHAR) || ' before it, $'
        || CAST(total_after AS VARCHAR) || ' with it (' || cpt_code || ' x'
        || CAST(units AS VARCHAR) || '). Claims from here on may be selected for medical '
        || 'review: the record must show the services are medically necessary.' AS message
FROM crossing
WHERE crossing_rank = 1
