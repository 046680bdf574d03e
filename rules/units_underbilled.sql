-- UNITS_UNDERBILLED: timed units the logged minutes support but nobody billed (revenue
-- missed), the mirror image of UNITS_OVERBILLED, so no unit is counted by both.
-- Per-code method: each code's supported units beyond its own billed units.
-- CMS total-time method: only the day's total matters. The day's supported units beyond
-- the units billed against logged minutes (units on codes with no log or under 8
-- minutes are reported by TIME_LOG_MISSING and UNITS_UNDER_8_MIN, and so bill no
-- minutes) are put on the codes furthest below their share (then code order).
-- A code logged but not billed has no line of its own: its finding points at the day's
-- first billed timed line of the discipline, with the code as finding_key.
WITH days AS (
    SELECT
        patient_id,
        service_date,
        discipline,
        SUM(units_supported)
            - SUM(CASE WHEN unit_basis = 'minutes' THEN units_billed ELSE 0 END) AS missed_units
    FROM code_day_units
    GROUP BY patient_id, service_date, discipline
),
-- The day's first billed timed line of the discipline (claim, then line number).
anchors AS (
    SELECT
        patient_id,
        service_date,
        discipline,
        claim_id AS anchor_claim_id,
        line_number AS anchor_line_number,
        rendering_npi AS anchor_npi
    FROM (
        SELECT
            *,
            ROW_NUMBER() OVER (
                PARTITION BY patient_id, service_date, discipline
                ORDER BY claim_id, line_number
            ) AS line_rank
        FROM code_day_units
        WHERE claim_id IS NOT NULL
    ) AS billed
    WHERE line_rank = 1
),
under AS (
    SELECT
        c.*,
        d.missed_units,
        c.units_supported - c.units_billed AS shortfall_units,
        COALESCE(
            SUM(c.units_supported - c.units_billed) OVER (
                PARTITION BY c.patient_id, c.service_date, c.discipline
                ORDER BY c.units_supported - c.units_billed DESC, c.cpt_code
                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
            ),
            0
        ) AS shortfall_before
    FROM code_day_units AS c
    JOIN days AS d USING (patient_id, service_date, discipline)
    WHERE c.unit_basis = 'minutes' AND c.units_supported > c.units_billed
),
missed AS (
    SELECT
        *,
        CASE unit_method
            WHEN 'ama_per_code' THEN shortfall_units
            ELSE LEAST(shortfall_units, GREATEST(0, missed_units - shortfall_before))
        END AS missed_units_here
    FROM under
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
        ELSE 'CMS total-time method: ' || m.day_detail || ' (' || m.discipline || '); '
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
FROM missed AS m
LEFT JOIN anchors AS a USING (patient_id, service_date, discipline)
WHERE m.missed_units_here > 0
