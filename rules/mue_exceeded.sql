-- MUE_EXCEEDED: units of a code above its medically unlikely edit. An MUE is the most
-- units one provider reports for one beneficiary on one date of service; its
-- adjudication indicator (MAI) says how it is applied:
--   MAI in $date_of_service_indicators (2 policy, 3 clinical): the units of the code on
--     all of the rendering provider's lines and claims for the patient that day are
--     summed; the units beyond the MUE are the last ones billed (claim, then line
--     order), so each line carries its own share and the day's excess adds up exactly.
--   otherwise (MAI 1, a claim-line edit): each line on its own.
WITH limited AS (
    SELECT
        l.claim_id,
        l.line_number,
        l.patient_id,
        l.rendering_npi,
        l.service_date,
        l.cpt_code,
        l.payer,
        l.units,
        m.mue_value,
        m.adjudication_indicator,
        m.adjudication_indicator IN (SELECT UNNEST($date_of_service_indicators)) AS per_day
    FROM audited_claim_lines AS l
    JOIN ref_mue AS m ON m.code = l.cpt_code
),
-- Only the provider's code-days whose units pass the MUE can hold a finding: a cheap
-- grouping finds them, and the running totals are worked out for their lines alone.
over_days AS (
    SELECT patient_id, rendering_npi, service_date, cpt_code
    FROM limited
    GROUP BY patient_id, rendering_npi, service_date, cpt_code
    HAVING SUM(units) > MIN(mue_value)
),
counted AS (
    SELECT
        *,
        SUM(units) OVER (
            PARTITION BY patient_id, rendering_npi, service_date, cpt_code
            ORDER BY claim_id, line_number
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS units_through_line,
        SUM(units) OVER (PARTITION BY patient_id, rendering_npi, service_date, cpt_code)
            AS day_units,
        COUNT(*) OVER (PARTITION BY patient_id, rendering_npi, service_date, cpt_code)
            AS day_lines
    FROM limited
    JOIN over_days USING (patient_id, rendering_npi, service_date, cpt_code)
),
over AS (
    SELECT
        *,
        CASE
            WHEN per_day THEN LEAST(units, GREATEST(0, units_through_line - mue_value))
            ELSE GREATEST(0, units - mue_value)
        END AS units_over
    FROM counted
    WHERE CASE WHEN per_day THEN day_units ELSE units END > mue_value
),
day_detail AS (
    SELECT
        patient_id,
        rendering_npi,
        service_date,
        cpt_code,
        STRING_AGG(
            'claim ' || claim_id || ' line ' || CAST(line_number AS VARCHAR) || ' x'
                || CAST(units AS VARCHAR),
            ', '
            ORDER BY claim_id, line_number
        ) AS day_lines_detail
    FROM over
    WHERE per_day
    GROUP BY patient_id, rendering_npi, service_date, cpt_code
)
SELECT
    o.patient_id,
    o.rendering_npi AS provider_npi,
    o.service_date,
    o.claim_id,
    o.line_number,
    o.cpt_code,
    o.payer,
    o.units AS units_billed,
    o.units - o.units_over AS units_supported,
    o.units_over AS units_at_risk,
    CASE
        WHEN o.per_day THEN o.cpt_code || ' billed x' || CAST(o.day_units AS VARCHAR)
            || ' for the patient on ' || CAST(o.service_date AS VARCHAR) || ' by rendering NPI '
            || o.rendering_npi || ' over ' || CAST(o.day_lines AS VARCHAR) || ' line(s) ('
            || d.day_lines_detail || '); its MUE is ' || CAST(o.mue_value AS VARCHAR)
            || ' units per day'
        ELSE o.cpt_code || ' billed x' || CAST(o.units AS VARCHAR) || ' on claim ' || o.claim_id
            || ' line ' || CAST(o.line_number AS VARCHAR) || '; its MUE is '
            || CAST(o.mue_value AS VARCHAR) || ' units per claim line'
    END
        || ' (MAI ' || CAST(o.adjudication_indicator AS VARCHAR) || ': '
        || CASE o.adjudication_indicator
            WHEN 1 THEN 'claim-line edit'
            WHEN 2 THEN 'date-of-service edit, policy'
            ELSE 'date-of-service edit, clinical'
        END || '). ' || CAST(o.units_over AS VARCHAR) || ' unit(s) above it on this line.'
        AS message
FROM over AS o
LEFT JOIN day_detail AS d
    ON d.patient_id = o.patient_id
    AND d.rendering_npi = o.rendering_npi
    AND d.service_date = o.service_date
    AND d.cpt_code = o.cpt_code
WHERE o.units_over > 0
