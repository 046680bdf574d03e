-- Episodes of care: one row per visit (patient, discipline, service day with a billed
-- therapy line), numbered within its episode. COURSE_LONG and PROGRESS_REPORT_OVERDUE
-- read it, so both count visits and episodes the same way.
--
-- An episode starts at the patient's first visit of the discipline, at a visit with an
-- evaluation code (episode_start_codes), and after a gap of more than episode_gap_days
-- since the previous visit. Both are per payer profile ([profile_params] in the
-- catalog), taken from the profile of the visit's payer. Lines of payers that match no
-- profile are not audited, so they make no visit.
--
-- A line's discipline: its GP/GO/GN modifier, else the code's default discipline
-- (evaluations), else PT (line_discipline in claim_line_modifiers).
WITH therapy_lines AS (
    SELECT l.*, l.line_discipline AS discipline
    FROM claim_line_modifiers AS l
    JOIN ref_cpt_codes AS c USING (cpt_code)
    JOIN payer_methods AS m USING (payer)
),
-- The profile's list arrives as VARCHAR[]; the cast keeps the build working when no
-- payer matches a profile and payer_methods is empty (its list column is then text).
start_codes AS (
    SELECT DISTINCT payer, cpt_code
    FROM (
        SELECT payer, UNNEST(CAST(episode_start_codes AS VARCHAR[])) AS cpt_code
        FROM payer_methods
    ) AS listed
),
marked_lines AS (
    SELECT
        t.*,
        s.cpt_code IS NOT NULL AS is_start_code
    FROM therapy_lines AS t
    LEFT JOIN start_codes AS s ON s.payer = t.payer AND s.cpt_code = t.cpt_code
),
-- A visit speaks through its first line (claim, then line number); its first evaluation
-- code, if any, is kept for the message. The least of DuckDB structs (compared field by
-- field) picks those lines in the one aggregate, where ranking windows would sort every
-- line. The first line's key alone is carried through it, and the line joined back: a
-- struct of every column the visit shows made the aggregate a tenth slower.
first_keys AS (
    SELECT
        patient_id,
        discipline,
        service_date,
        MIN({'claim_id': claim_id, 'line_number': line_number}) AS first_key,
        MIN(
            CASE WHEN is_start_code
                THEN {'claim_id': claim_id, 'line_number': line_number, 'cpt_code': cpt_code}
            END
        ) AS first_start_line
    FROM marked_lines
    GROUP BY patient_id, discipline, service_date
),
-- claim_line_modifiers holds each line in force once, by claim and line number.
visits AS (
    SELECT
        k.patient_id,
        k.discipline,
        k.service_date,
        l.claim_id,
        l.line_number,
        l.cpt_code,
        l.units,
        l.payer,
        l.rendering_npi AS provider_npi,
        k.first_start_line.cpt_code AS start_code
    FROM first_keys AS k
    JOIN claim_line_modifiers AS l
        ON l.claim_id = k.first_key.claim_id AND l.line_number = k.first_key.line_number
),
-- Visits in date order (one a day, so the date orders them), numbered.
with_previous AS (
    SELECT
        v.*,
        m.episode_gap_days,
        LAG(v.service_date) OVER in_order AS previous_visit,
        ROW_NUMBER() OVER in_order AS visit_number
    FROM visits AS v
    JOIN payer_methods AS m USING (payer)
    WINDOW in_order AS (PARTITION BY v.patient_id, v.discipline ORDER BY v.service_date)
),
starts AS (
    SELECT
        *,
        CASE
            WHEN start_code IS NOT NULL THEN 'evaluation ' || start_code
            WHEN previous_visit IS NULL THEN 'first visit on record'
            WHEN date_diff('day', previous_visit, service_date) > episode_gap_days
                THEN CAST(date_diff('day', previous_visit, service_date) AS VARCHAR)
                    || ' days after the previous visit'
        END AS start_reason
    FROM with_previous
),
-- Only an episode's first visit has a start reason, so the latest start so far is the
-- first visit of this visit's episode: its day, number and reason come with it (a
-- DuckDB struct, the last one so far), in the same pass that numbers the episodes.
numbered AS (
    SELECT
        *,
        CAST(SUM(CASE WHEN start_reason IS NOT NULL THEN 1 ELSE 0 END) OVER so_far AS INTEGER)
            AS episode_number,
        LAST_VALUE(
            CASE WHEN start_reason IS NOT NULL THEN {
                'service_date': service_date,
                'visit_number': visit_number,
                'start_reason': start_reason
            } END IGNORE NULLS
        ) OVER so_far AS episode_first
    FROM starts
    WINDOW so_far AS (
        PARTITION BY patient_id, discipline
        ORDER BY service_date
        ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    )
)
SELECT
    patient_id,
    discipline,
    episode_number,
    episode_first.service_date AS episode_start,
    -- Every episode's first visit has a reason, so this names how the episode began.
    episode_first.start_reason AS episode_started_by,
    visit_number - episode_first.visit_number + 1 AS episode_visit,
    -- Calendar days from the episode's first day to this visit, both counted.
    date_diff('day', episode_first.service_date, service_date) + 1 AS episode_day,
    service_date,
    claim_id,
    line_number,
    cpt_code,
    units,
    payer,
    provider_npi
FROM numbered
