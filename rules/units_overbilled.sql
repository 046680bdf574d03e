-- UNITS_OVERBILLED: timed units billed above what the logged minutes support.
-- Per-code method: each code's units beyond its own minutes' units.
-- CMS total-time method: the day's units beyond its total, less those already reported
-- by TIME_LOG_MISSING and UNITS_UNDER_8_MIN, put on the codes billed furthest above
-- their share (then code order), so the day's at-risk units add up exactly.
WITH over_codes AS (
    SELECT *, units_billed - units_supported AS excess_units
    FROM code_day_units
    WHERE unit_basis = 'minutes' AND units_billed > units_supported
),
-- Only the days with a code billed above its share are totalled.
over_days AS (
    SELECT DISTINCT patient_id, service_date, discipline FROM over_codes
),
days AS (
    SELECT
        c.patient_id,
        c.service_date,
        c.discipline,
        SUM(c.units_billed) - SUM(c.units_supported)
            - SUM(CASE WHEN c.unit_basis <> 'minutes' THEN c.units_billed ELSE 0 END)
            AS unreported_units
    FROM code_day_units AS c
    JOIN over_days USING (patient_id, service_date, discipline)
    GROUP BY c.patient_id, c.service_date, c.discipline
),
over AS (
    SELECT
        o.*,
        d.unreported_units,
        COALESCE(
            SUM(o.excess_units) OVER (
                PARTITION BY o.patient_id, o.service_date, o.discipline
                ORDER BY o.excess_units DESC, o.cpt_code
                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
            ),
            0
        ) AS excess_before
    FROM over_codes AS o
    JOIN days AS d USING (patient_id, service_date, discipline)
),
at_risk AS (
    SELECT
        *,
        CASE unit_method
            WHEN 'ama_per_code' THEN excess_units
            ELSE LEAST(excess_units, GREATEST(0, unreported_units - excess_before))
        END AS units_at_risk
    FROM over
),
-- The day's codes as the message lists them (built only for the days unit rules flag).
described AS (
    SELECT a.*, d.day_detail
    FROM at_risk AS a
    LEFT JOIN unit_day_detail AS d USING (patient_id, service_date, discipline)
    WHERE a.units_at_risk > 0
)
SELECT
    patient_id,
    rendering_npi AS provider_npi,
    service_date,
    claim_id,
    line_number,
    cpt_code,
    payer,
    units_billed,
    units_supported,
    units_at_risk,
    CASE unit_method
        WHEN 'ama_per_code' THEN 'Per-code method: ' || cpt_code || ' has ' || CAST(minutes AS VARCHAR)
            || ' logged minutes, supporting ' || CAST(units_supported AS VARCHAR) || ' units; billed x'
            || CAST(units_billed AS VARCHAR)
        ELSE 'CMS total-time method: ' || day_detail || ' (' || discipline || '); '
            || CAST(day_minutes AS VARCHAR) || ' timed minutes support '
            || CAST(day_units_supported AS VARCHAR) || ' units, '
            || CAST(day_units_billed AS VARCHAR) || ' billed; ' || cpt_code || ' supports '
            || CAST(units_supported AS VARCHAR) || ', billed x' || CAST(units_billed AS VARCHAR)
    END || '. ' || CAST(units_at_risk AS VARCHAR) || ' unit(s) unsupported.' AS message
FROM described
