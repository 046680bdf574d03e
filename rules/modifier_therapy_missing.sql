-- MODIFIER_THERAPY_MISSING: an always-therapy code billed without GP/GO/GN, with two of
-- them, or with one whose discipline logged none of that code's minutes that day.
-- The expected modifier is the one of the discipline that logged the most minutes of the
-- code for the patient that day; with nothing logged, the code's own discipline (the
-- evaluation codes have one). A line whose discipline logged some of the code's minutes
-- is accepted even when another logged more: on a co-treatment day both are right.
WITH role_modifiers AS (
    SELECT m.role, m.discipline, m.modifier
    FROM (SELECT UNNEST($therapy_modifier_by_role) AS m) AS listed
),
discipline_modifiers AS (
    SELECT DISTINCT discipline, modifier FROM role_modifiers
),
modifier_names AS (
    SELECT STRING_AGG(modifier, ', ' ORDER BY modifier) AS all_modifiers
    FROM discipline_modifiers
),
-- The line's therapy modifiers as claim_line_modifiers reads them: how many it carries
-- (a modifier repeated on a line counts once) and, with one, its discipline.
therapy_lines AS (
    SELECT
        l.*,
        c.discipline_default,
        l.therapy_modifier_count AS found_count,
        l.modifier_discipline AS found_discipline
    FROM claim_line_modifiers AS l
    JOIN ref_cpt_codes AS c USING (cpt_code)
    WHERE c.always_therapy = 'yes'
),
-- Each discipline as one bit, so the disciplines that logged a code on a day are one
-- number: a single aggregate over the segments, where the set of disciplines as rows
-- would take three passes (and a list per code-day costs more than all of them).
discipline_bits AS (
    SELECT
        discipline,
        CAST(1 AS BIGINT) << CAST(ROW_NUMBER() OVER (ORDER BY discipline) - 1 AS INTEGER) AS bit
    FROM (SELECT DISTINCT discipline FROM role_modifiers) AS disciplines
),
role_bits AS (
    SELECT DISTINCT r.role, b.bit
    FROM role_modifiers AS r
    JOIN discipline_bits AS b USING (discipline)
),
logged_codes AS (
    SELECT s.patient_id, s.service_date, s.cpt_code, BIT_OR(r.bit) AS disciplines
    FROM time_segments AS s
    JOIN role_bits AS r ON r.role = s.provider_role
    GROUP BY s.patient_id, s.service_date, s.cpt_code
),
judged AS (
    SELECT
        f.*,
        CASE
            WHEN f.found_count <> 1 THEN NULL
            WHEN c.disciplines IS NOT NULL THEN COALESCE(c.disciplines & own.bit <> 0, FALSE)
            WHEN f.discipline_default IS NOT NULL THEN f.found_discipline = f.discipline_default
            ELSE TRUE
        END AS found_matches
    FROM therapy_lines AS f
    LEFT JOIN logged_codes AS c USING (patient_id, service_date, cpt_code)
    LEFT JOIN discipline_bits AS own ON own.discipline = f.found_discipline
),
-- From here on only the flagged lines: the text that explains them is built for them
-- alone.
flagged_lines AS (
    SELECT * FROM judged WHERE found_count <> 1 OR NOT found_matches
),
found_text AS (
    SELECT claim_id, line_number, STRING_AGG(modifier, ' and ' ORDER BY modifier) AS found_modifiers
    FROM (
        SELECT DISTINCT t.claim_id, t.line_number, d.discipline, d.modifier
        FROM flagged_lines AS t
        JOIN discipline_modifiers AS d
            ON d.modifier IN (t.modifier_1, t.modifier_2, t.modifier_3, t.modifier_4)
    ) AS line_modifiers
    GROUP BY claim_id, line_number
),
-- The minutes each discipline logged, for the flagged lines' code-days: a semi-join on
-- the few flagged lines, since DuckDB cannot tell how few they are and for an inner join
-- hashed every segment.
logged AS (
    SELECT
        s.patient_id,
        s.service_date,
        s.cpt_code,
        r.discipline,
        r.modifier,
        CAST(FLOOR(SUM(s.duration_seconds) / 60) AS INTEGER) AS minutes
    FROM time_segments AS s
    SEMI JOIN flagged_lines USING (patient_id, service_date, cpt_code)
    JOIN role_modifiers AS r ON r.role = s.provider_role
    GROUP BY s.patient_id, s.service_date, s.cpt_code, r.discipline, r.modifier
),
logged_summary AS (
    SELECT
        patient_id,
        service_date,
        cpt_code,
        MIN(CASE WHEN preference = 1 THEN discipline END) AS logged_discipline,
        MIN(CASE WHEN preference = 1 THEN modifier END) AS logged_modifier,
        STRING_AGG(discipline || ' ' || CAST(minutes AS VARCHAR) || ' min', ', '
            ORDER BY preference) AS logged_detail
    FROM (
        SELECT
            g.*,
            ROW_NUMBER() OVER (
                PARTITION BY g.patient_id, g.service_date, g.cpt_code
                ORDER BY g.minutes DESC, g.discipline
            ) AS preference
        FROM logged AS g
    ) AS ranked
    GROUP BY patient_id, service_date, cpt_code
),
explained AS (
    SELECT
        j.*,
        t.found_modifiers,
        s.logged_detail,
        s.logged_discipline,
        COALESCE(s.logged_modifier, dm.modifier) AS expected_modifier,
        COALESCE(s.logged_discipline, j.discipline_default) AS expected_discipline
    FROM flagged_lines AS j
    LEFT JOIN found_text AS t USING (claim_id, line_number)
    LEFT JOIN logged_summary AS s USING (patient_id, service_date, cpt_code)
    LEFT JOIN discipline_modifiers AS dm ON dm.discipline = j.discipline_default
),
flagged AS (
    SELECT
        j.*,
        n.all_modifiers,
        CASE
            WHEN j.logged_discipline IS NOT NULL
                THEN 'the time log has ' || j.cpt_code || ' that day under ' || j.logged_detail
                    || ', so ' || j.expected_modifier || ' (' || j.expected_discipline
                    || ') is expected'
            WHEN j.expected_modifier IS NOT NULL
                THEN 'no minutes of ' || j.cpt_code || ' are logged that day and the code belongs to '
                    || j.expected_discipline || ', so ' || j.expected_modifier || ' is expected'
            ELSE 'no minutes of ' || j.cpt_code || ' are logged that day to tell the discipline by,'
                || ' so one of ' || n.all_modifiers || ' is expected'
        END AS expectation
    FROM explained AS j
    CROSS JOIN modifier_names AS n
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
    0 AS units_supported,
    units AS units_at_risk,
    CASE
        WHEN found_count = 0
            THEN cpt_code || ' x' || CAST(units AS VARCHAR) || ' billed with none of the therapy'
                || ' modifiers ' || all_modifiers || '; '
        WHEN found_count > 1
            THEN cpt_code || ' x' || CAST(units AS VARCHAR) || ' carries ' || found_modifiers
                || ', where a line carries exactly one therapy modifier; '
        ELSE cpt_code || ' x' || CAST(units AS VARCHAR) || ' billed with ' || found_modifiers
            || ' (' || found_discipline || '), which does not match: '
    END || expectation || '. A therapy line without its one matching modifier is returned'
        || ' unpaid or paid under the wrong plan of care.' AS message
FROM flagged
