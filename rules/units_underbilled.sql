-- UNITS_UNDERBILLED: timed units the logged minutes support but nobody billed (revenue
-- missed), the mirror image of UNITS_OVERBILLED, so no unit is counted by both.
-- Per-code method: each code's supported units beyond its own billed units.
-- CMS total-time method: only the day's total matters. The day's supported units beyond
-- the units billed against logged minutes (units on codes with no log or under 8
-- minutes are reported by TIME_LOG_MISSING and UNITS_UNDER_8_MIN, and so bill no
-- minutes) are put on the codes furthest below their share (then code order).
-- A code logged but not billed has no line of its own: its finding points at the day's
-- first billed timed line of the discipline, with the code as finding_key.
WITH under AS (
    SELECT *, units_supported - units_billed AS shortfall_units
    FROM code_day_units
    WHERE unit_basis = 'minutes' AND units_supported > units_billed
),
-- The totals of the days with a shortfall. Each lookup of a few rows in code_day_units
-- is a semi-join on the few: DuckDB cannot tell how few they are and would hash every
-- code-day for an inner join.
days AS (
    SELECT
        c.patient_id,
        c.service_date,
        c.discipline,
        SUM(c.units_supported)
            - SUM(CASE WHEN c.unit_basis = 'minutes' THEN c.units_billed ELSE 0 END) AS missed_units
    FROM code_day_units AS c
    SEMI JOIN under USING (patient_id, service_date, discipline)
    GROUP BY c.patient_id, c.service_date, c.discipline
),
ranked_under AS (
    SELECT
        u.*,
        d.missed_units,
        COALESCE(
            SUM(u.shortfall_units) OVER (
                PARTITION BY u.patient_id, u.service_date, u.discipline
                ORDER BY u.shortfall_units DESC, u.cpt_code
                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
            ),
            0
        ) AS shortfall_before
    FROM under AS u
    JOIN days AS d USING (patient_id, service_date, discipline)
),
missed AS (
    SELECT
        *,
        CASE unit_method
            WHEN 'ama_per_code' THEN shortfall_units
            ELSE LEAST(shortfall_units, GREATEST(0, missed_units - shortfall_before))
        END AS missed_units_here
    FROM ranked_under
),
found AS (
    SELECT * FROM missed WHERE missed_units_here > 0
),
-- For a code logged but not billed: the day's first billed timed line of the discipline
-- (claim, then line number). DuckDB's arg_min_null takes that line's values without a
-- ranking window, and only for the days that need one.
anchors AS (
    SELECT
        c.patient_id,
        c.service_date,
        c.discipline,
        arg_min_null(c.claim_id, (c.claim_id, c.line_number)) AS anchor_claim_id,
        arg_min_null(c.line_number, (c.claim_id, c.line_number)) AS anchor_line_number,
        arg_min_null(c.rendering_npi, (c.claim_id, c.line_number)) AS anchor_npi
    FROM code_day_units AS c
    SEMI JOIN (SELECT * FROM found WHERE claim_id IS NULL) AS unbilled
        USING (patient_id, service_date, discipline)
    WHERE c.claim_id IS NOT NULL
    GROUP BY c.patient_id, c.service_date, c.discipline
)
SELECT
    m.patient_id,
    COALESCE(m.rendering_npi, a.anchor_npi) AS provider_npi,
    m.service_date,
    COALESCE(m.claim_id, a.anchor_claim_id) AS claim_id,
    COALESCE(m.line_number, a.anchor_line_number) AS line_number,
    m.cpt_code,
    m.payer,
    m.units_billed,
    m.units_supported,
    m.missed_units_here AS units_at_risk,
    CASE WHEN m.claim_id IS NULL THEN m.cpt_code END AS finding_key,
    CASE m.unit_method
        WHEN 'ama_per_code' THEN 'Per-code method: ' || m.cpt_code || ' has '
            || CAST(m.minutes AS VARCHAR) || ' logged minutes, supporting '
            || CAST(m.units_supported AS VARCHAR) || ' units; billed x'
            || CAST(m.units_billed AS VARCHAR)
        ELSE 'CMS total-time method: ' || dd.day_detail || ' (' || m.discipline || '); '
            || CAST(m.day_minutes AS VARCHAR) || ' timed minutes support '
            || CAST(m.day_units_supported AS VARCHAR) || ' units, '
            || CAST(m.day_units_supported - m.missed_units AS VARCHAR)
            || ' billed against logged minutes; ' || m.cpt_code || ' supports '
            || CAST(m.units_supported AS VARCHAR) || ', billed x' || CAST(m.units_billed AS VARCHAR)
    END
    || CASE
        WHEN m.claim_id IS NULL THEN ' (not billed at all; shown on the day''s first line)'
        ELSE ''
    END
    || '. ' || CAST(m.missed_units_here AS VARCHAR) || ' unit(s) supported but not billed.'
        AS message
FROM found AS m
LEFT JOIN anchors AS a USING (patient_id, service_date, discipline)
LEFT JOIN unit_day_detail AS dd USING (patient_id, service_date, discipline)
