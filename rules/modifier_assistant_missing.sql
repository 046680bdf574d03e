-- MODIFIER_ASSISTANT_MISSING: a PTA or OTA furnished more than the de minimis share of a
-- billed timed service and the units that call for CQ (PT) or CO (OT) do not carry it.
--
-- CMS applies the de minimis standard unit by unit for timed codes (CY 2022 PFS final
-- rule; CMS "Billing Examples Using CQ/CO Modifiers"), per patient, day and code:
--   1. each whole 15-minute unit the therapist furnished alone needs no modifier, each
--      whole unit the assistant furnished alone needs it;
--   2. the minutes left over make the final unit(s) the payer's method gives the code:
--      with the assistant's share of those minutes at most the de minimis fraction, no
--      modifier; with two final units and the therapist's leftover reaching the minutes
--      that earn a unit, one goes without and one with (the CY 2022 revision for the
--      PT and PTA each furnishing 9-14 minutes); otherwise every final unit needs it.
-- The billed units fill the units that need no modifier first, so a practice billing
-- fewer units than the minutes support is not held to the assistant's ones.
WITH assistant_modifiers AS (
    SELECT a.discipline, a.modifier
    FROM (SELECT UNNEST($assistant_modifiers) AS a) AS listed
),
code_days AS (
    SELECT
        c.patient_id,
        c.service_date,
        c.discipline,
        c.cpt_code,
        c.units_billed,
        c.units_supported,
        c.minutes,
        c.assistant_minutes,
        c.minutes - c.assistant_minutes AS therapist_minutes,
        LEAST(c.units_billed, c.units_supported) AS judged_units,
        a.modifier AS assistant_modifier
    FROM code_day_units AS c
    JOIN assistant_modifiers AS a USING (discipline)
    WHERE c.assistant_minutes > 0
        AND c.units_billed > 0
        AND c.units_supported > 0
        AND c.service_date >= CAST($assistant_modifiers_from AS DATE)
),
whole_units AS (
    SELECT
        *,
        CAST(FLOOR(therapist_minutes / $unit_minutes) AS INTEGER) AS therapist_units,
        CAST(FLOOR(assistant_minutes / $unit_minutes) AS INTEGER) AS assistant_units
    FROM code_days
),
final_units AS (
    SELECT
        *,
        therapist_minutes - therapist_units * $unit_minutes AS therapist_rest,
        assistant_minutes - assistant_units * $unit_minutes AS assistant_rest,
        units_supported - therapist_units - assistant_units AS final_count
    FROM whole_units
),
assistant_share AS (
    SELECT
        *,
        assistant_rest > $de_minimis_fraction * (therapist_rest + assistant_rest)
            AS final_over_de_minimis,
        assistant_units + CASE
            WHEN final_count <= 0 THEN 0
            WHEN assistant_rest <= $de_minimis_fraction * (therapist_rest + assistant_rest) THEN 0
            WHEN final_count >= 2 AND therapist_rest >= $min_minutes THEN final_count - 1
            ELSE final_count
        END AS modifier_units_supported
    FROM final_units
),
needs AS (
    SELECT
        *,
        GREATEST(0, judged_units - (units_supported - modifier_units_supported))
            AS units_needing_modifier
    FROM assistant_share
),
needed_code_days AS (
    SELECT DISTINCT patient_id, service_date, cpt_code FROM needs WHERE units_needing_modifier > 0
),
-- A line counts in each discipline its GP/GO/GN names (modifier_disciplines in
-- claim_line_modifiers); a line with none takes the discipline that logged the most
-- minutes of the code that day, as code_day_units does (worked out only for the
-- code-days that need a modifier).
logged_majority AS (
    SELECT patient_id, service_date, cpt_code, discipline
    FROM (
        SELECT
            c.patient_id,
            c.service_date,
            c.cpt_code,
            c.discipline,
            ROW_NUMBER() OVER (
                PARTITION BY c.patient_id, c.service_date, c.cpt_code
                ORDER BY c.minutes DESC, c.discipline
            ) AS preference
        FROM code_day_units AS c
        JOIN needed_code_days USING (patient_id, service_date, cpt_code)
        WHERE c.segments > 0
    ) AS ranked
    WHERE preference = 1
),
lines AS (
    SELECT l.*, g.discipline AS logged_discipline
    FROM claim_line_modifiers AS l
    JOIN needed_code_days USING (patient_id, service_date, cpt_code)
    LEFT JOIN logged_majority AS g
        ON l.modifier_discipline IS NULL
        AND g.patient_id = l.patient_id
        AND g.service_date = l.service_date
        AND g.cpt_code = l.cpt_code
),
code_day_lines AS (
    SELECT
        n.patient_id,
        n.service_date,
        n.discipline,
        n.cpt_code,
        l.claim_id,
        l.line_number,
        l.units,
        l.payer,
        l.rendering_npi,
        l.modifiers,
        CASE
            WHEN n.assistant_modifier IN (l.modifier_1, l.modifier_2, l.modifier_3, l.modifier_4)
                THEN 1
            ELSE 0
        END AS carries_modifier
    FROM needs AS n
    JOIN lines AS l
        ON l.patient_id = n.patient_id
        AND l.service_date = n.service_date
        AND l.cpt_code = n.cpt_code
        AND (
            list_contains(l.modifier_disciplines, n.discipline)
            OR l.logged_discipline = n.discipline
        )
    WHERE n.units_needing_modifier > 0
),
billed AS (
    SELECT
        patient_id,
        service_date,
        discipline,
        cpt_code,
        CAST(SUM(units * carries_modifier) AS INTEGER) AS modifier_units_billed,
        CAST(SUM(units * (1 - carries_modifier)) AS INTEGER) AS other_units_billed
    FROM code_day_lines
    GROUP BY patient_id, service_date, discipline, cpt_code
),
short AS (
    SELECT
        n.*,
        b.modifier_units_billed,
        b.other_units_billed,
        CAST(n.units_needing_modifier - b.modifier_units_billed AS INTEGER) AS units_at_risk
    FROM needs AS n
    JOIN billed AS b USING (patient_id, service_date, discipline, cpt_code)
    WHERE n.units_needing_modifier > b.modifier_units_billed
),
-- The lines of the code-days short of the modifier, listed for the message: most
-- code-days that need it carry it, and the text is built for the others alone.
short_lines AS (
    SELECT
        l.patient_id,
        l.service_date,
        l.discipline,
        l.cpt_code,
        STRING_AGG(
            l.claim_id || ' line ' || CAST(l.line_number AS VARCHAR) || ' x'
                || CAST(l.units AS VARCHAR) || ' ' || COALESCE(l.modifiers, 'no modifiers'),
            '; '
            ORDER BY l.claim_id, l.line_number
        ) AS line_detail,
        -- Findings point at the first line lacking the modifier.
        MIN(CASE WHEN l.line_rank = 1 THEN l.claim_id END) AS claim_id,
        MIN(CASE WHEN l.line_rank = 1 THEN l.line_number END) AS line_number,
        MIN(CASE WHEN l.line_rank = 1 THEN l.payer END) AS payer,
        MIN(CASE WHEN l.line_rank = 1 THEN l.rendering_npi END) AS rendering_npi
    FROM (
        SELECT
            c.*,
            ROW_NUMBER() OVER (
                PARTITION BY c.patient_id, c.service_date, c.discipline, c.cpt_code
                ORDER BY c.carries_modifier, c.claim_id, c.line_number
            ) AS line_rank
        FROM code_day_lines AS c
        SEMI JOIN short USING (patient_id, service_date, discipline, cpt_code)
    ) AS l
    GROUP BY l.patient_id, l.service_date, l.discipline, l.cpt_code
),
at_risk AS (
    SELECT s.*, l.line_detail, l.claim_id, l.line_number, l.payer, l.rendering_npi
    FROM short AS s
    JOIN short_lines AS l USING (patient_id, service_date, discipline, cpt_code)
)
SELECT
    patient_id,
    rendering_npi AS provider_npi,
    service_date,
    claim_id,
    line_number,
    cpt_code,
    payer,
    other_units_billed AS units_billed,
    other_units_billed - units_at_risk AS units_supported,
    units_at_risk,
    CASE
        WHEN service_date >= CAST($assistant_rate_from AS DATE) THEN 1 - $assistant_rate_fraction
        ELSE 0
    END AS rate_fraction,
    cpt_code || ' (' || discipline || ') on ' || CAST(service_date AS VARCHAR) || ': '
        || CAST(minutes AS VARCHAR) || ' logged minutes, ' || CAST(assistant_minutes AS VARCHAR)
        || ' by the assistant and ' || CAST(therapist_minutes AS VARCHAR)
        || ' by the therapist; ' || CAST(units_supported AS VARCHAR) || ' unit(s) supported, '
        || CAST(units_billed AS VARCHAR) || ' billed. Whole units by the therapist alone: '
        || CAST(therapist_units AS VARCHAR) || ', by the assistant alone: '
        || CAST(assistant_units AS VARCHAR)
        || CASE
            WHEN final_count <= 0 THEN ''
            ELSE '; final unit(s): ' || CAST(final_count AS VARCHAR) || ' from '
                || CAST(therapist_rest + assistant_rest AS VARCHAR) || ' minutes, '
                || CAST(assistant_rest AS VARCHAR) || ' by the assistant ('
                || CAST(CAST(ROUND(100.0 * assistant_rest / NULLIF(therapist_rest + assistant_rest, 0)) AS INTEGER)
                    AS VARCHAR)
                || '%, ' || CASE WHEN final_over_de_minimis THEN 'over' ELSE 'within' END
                || ' the ' || CAST(CAST(ROUND(100 * $de_minimis_fraction) AS INTEGER) AS VARCHAR)
                || '% de minimis)'
        END
        || '. ' || CAST(units_needing_modifier AS VARCHAR) || ' billed unit(s) need '
        || assistant_modifier || ', ' || CAST(modifier_units_billed AS VARCHAR) || ' carry it ('
        || line_detail || '): ' || CAST(units_at_risk AS VARCHAR) || ' unit(s) billed without '
        || assistant_modifier || '.' AS message
FROM at_risk
