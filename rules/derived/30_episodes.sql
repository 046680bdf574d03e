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
-- (evaluations), else PT.
WITH therapy_lines AS (
    SELECT
        l.patient_id,
        l.service_date,
        l.claim_id,
        l.line_number,
        l.cpt_code,
        l.units,
        l.payer,
        l.rendering_npi,
        COALESCE(
            CASE
                WHEN 'GP' IN (l.modifier_1, l.modifier_2, l.modifier_3, l.modifier_4) THEN 'PT'
                WHEN 'GO' IN (l.modifier_1, l.modifier_2, l.modifier_3, l.modifier_4) THEN 'OT'
                WHEN 'GN' IN (l.modifier_1, l.modifier_2, l.modifier_3, l.modifier_4) THEN 'SLP'
            END,
            c.discipline_default,
            'PT'
        ) AS discipline
    FROM audited_claim_lines AS l
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
        s.cpt_code IS NOT NULL AS is_start_code,
        ROW_NUMBER() OVER (
            PARTITION BY t.patient_id, t.discipline, t.service_date
            ORDER BY t.claim_id, t.line_number
        ) AS line_rank,
        ROW_NUMBER() OVER (
            PARTITION BY t.patient_id, t.discipline, t.service_date
            ORDER BY s.cpt_code IS NULL, t.claim_id, t.line_number
        ) AS start_code_rank
    FROM therapy_lines AS t
    LEFT JOIN start_codes AS s ON s.payer = t.payer AND s.cpt_code = t.cpt_code
),
-- A visit speaks through its first line (claim, then line number); its evaluation code,
-- if any, is kept for the message.
visits AS (
    SELECT
        patient_id,
        discipline,
        service_date,
        MIN(CASE WHEN line_rank = 1 THEN claim_id END) AS claim_id,
        MIN(CASE WHEN line_rank = 1 THEN line_number END) AS line_number,
        MIN(CASE WHEN line_rank = 1 THEN cpt_code END) AS cpt_code,
        MIN(CASE WHEN line_rank = 1 THEN units END) AS units,
        MIN(CASE WHEN line_rank = 1 THEN payer END) AS payer,
        MIN(CASE WHEN line_rank = 1 THEN rendering_npi END) AS provider_npi,
        MIN(CASE WHEN start_code_rank = 1 AND is_start_code THEN cpt_code END) AS start_code
    FROM marked_lines
    GROUP BY patient_id, discipline, service_date
),
with_previous AS (
    SELECT
        v.*,
        m.episode_gap_days,
        LAG(v.service_date) OVER (
            PARTITION BY v.patient_id, v.discipline ORDER BY v.service_date
        ) AS previous_visit
    FROM visits AS v
    JOIN payer_methods AS m USING (payer)
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
numbered AS (
    SELECT
        *,
        CAST(
            SUM(CASE WHEN start_reason IS NOT NULL THEN 1 ELSE 0 END) OVER (
                PARTITION BY patient_id, discipline
                ORDER BY service_date
                ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
            ) AS INTEGER
        ) AS episode_number
    FROM starts
)
SELECT
    patient_id,
    discipline,
    episode_number,
    MIN(service_date) OVER episode AS episode_start,
    -- Every episode's first visit has a reason, so this names how the episode began.
    MAX(start_reason) OVER episode AS episode_started_by,
    ROW_NUMBER() OVER (episode ORDER BY service_date) AS episode_visit,
    -- Calendar days from the episode's first day to this visit, both counted.
    date_diff('day', MIN(service_date) OVER episode, service_date) + 1 AS episode_day,
    service_date,
    claim_id,
    line_number,
    cpt_code,
    units,
    payer,
    provider_npi
FROM numbered
WINDOW episode AS (PARTITION BY patient_id, discipline, episode_number)
