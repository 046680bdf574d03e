-- MODIFIER_KX_MISSING: a Medicare therapy line without KX once the patient's allowed
-- amounts for the calendar year, in its threshold group (PT and SLP together, OT alone),
-- pass that year's KX threshold. The running total (derived/32_therapy_allowed.sql)
-- takes every audited line in the store of the payer profiles that accrue toward the
-- threshold, in service-date order (ties: claim id, line number); a line needs KX when
-- the total including it exceeds the threshold. A year with no configured threshold is
-- not judged.
WITH thresholds AS (
    SELECT t.year AS service_year, t.pt_slp, t.ot
    FROM (SELECT UNNEST($kx_thresholds) AS t) AS listed
),
judged AS (
    SELECT
        r.*,
        CASE WHEN r.threshold_group = 'OT' THEN t.ot ELSE t.pt_slp END AS threshold
    FROM therapy_allowed AS r
    JOIN thresholds AS t USING (service_year)
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
    units AS units_at_risk,
    'Without KX past the ' || CAST(service_year AS VARCHAR) || ' therapy threshold for '
        || CASE WHEN threshold_group = 'OT' THEN 'OT' ELSE 'PT and SLP combined' END
        || ' ($' || CAST(CAST(threshold AS DECIMAL(14, 2)) AS VARCHAR) || '): the patient''s '
        || 'allowed amounts for the year are $' || CAST(total_before AS VARCHAR)
        || ' before this line and $' || CAST(total_after AS VARCHAR) || ' with it ('
        || cpt_code || ' x' || CAST(units AS VARCHAR)
        || CASE WHEN rate IS NULL THEN ', no fee for the year' ELSE ', $' || CAST(allowed AS VARCHAR) END
        || ').' AS message
FROM judged
WHERE total_after > threshold AND NOT has_kx
