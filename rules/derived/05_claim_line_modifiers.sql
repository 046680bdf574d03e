-- Every audited claim line with what its modifiers say, worked out once here so that
-- code_day_units, episodes and therapy_allowed (derived) and MODIFIER_THERAPY_MISSING
-- and MODIFIER_ASSISTANT_MISSING read the lines the same way:
--   modifier_discipline     the discipline of the line's therapy modifier (GP/GO/GN, as
--                           $therapy_modifier_by_role maps them to PT/OT/SLP); with more
--                           than one, that of the first in the list's order (GP, GO, GN);
--                           NULL with none
--   modifier_disciplines    every discipline the line's therapy modifiers name, sorted
--                           (empty with none)
--   therapy_modifier_count  the line's therapy modifiers, each counted once however often
--                           it is repeated on the line (once per discipline it names)
--   line_discipline         modifier_discipline, else the code's default discipline
--                           (evaluations), else PT
--   has_kx                  the line carries KX
--   has_assistant_modifier  the line carries CQ or CO (paid at the assistant rate from
--                           assistant_rate_from)
WITH role_modifiers AS (
    SELECT listed.entry.discipline, listed.entry.modifier, listed.position
    FROM (
        SELECT
            UNNEST($therapy_modifier_by_role) AS entry,
            generate_subscripts($therapy_modifier_by_role, 1) AS position
    ) AS listed
),
-- Each therapy modifier with the disciplines it names (one, unless configured otherwise)
-- and its first entry in the list, which decides between two modifiers on one line.
therapy_modifiers AS (
    SELECT
        modifier,
        COUNT(DISTINCT discipline) AS discipline_count,
        LIST(DISTINCT discipline) AS disciplines,
        MIN({'position': position, 'discipline': discipline}) AS first_entry
    FROM role_modifiers
    GROUP BY modifier
),
-- The modifiers are read once per combination of the four slots (a few dozen), not once
-- per line.
modifier_sets AS (
    SELECT DISTINCT modifier_1, modifier_2, modifier_3, modifier_4
    FROM audited_claim_lines
),
-- Each slot is looked up on its own, an equi-join on a tiny table.
read_sets AS (
    SELECT
        s.modifier_1,
        s.modifier_2,
        s.modifier_3,
        s.modifier_4,
        -- LEAST skips NULLs (slots without a therapy modifier): the first in list order.
        LEAST(m1.first_entry, m2.first_entry, m3.first_entry, m4.first_entry).discipline
            AS modifier_discipline,
        list_sort(list_distinct(list_concat(
            m1.disciplines, m2.disciplines, m3.disciplines, m4.disciplines
        ))) AS modifier_disciplines,
        COALESCE(m1.discipline_count, 0)
            + CASE WHEN s.modifier_2 IS DISTINCT FROM s.modifier_1
                THEN COALESCE(m2.discipline_count, 0) ELSE 0 END
            + CASE WHEN s.modifier_3 IS DISTINCT FROM s.modifier_1
                    AND s.modifier_3 IS DISTINCT FROM s.modifier_2
                THEN COALESCE(m3.discipline_count, 0) ELSE 0 END
            + CASE WHEN s.modifier_4 IS DISTINCT FROM s.modifier_1
                    AND s.modifier_4 IS DISTINCT FROM s.modifier_2
                    AND s.modifier_4 IS DISTINCT FROM s.modifier_3
                THEN COALESCE(m4.discipline_count, 0) ELSE 0 END
            AS therapy_modifier_count,
        -- IN over empty modifier slots is NULL, not false: hence the COALESCE.
        COALESCE('KX' IN (s.modifier_1, s.modifier_2, s.modifier_3, s.modifier_4), FALSE)
            AS has_kx,
        COALESCE(
            'CQ' IN (s.modifier_1, s.modifier_2, s.modifier_3, s.modifier_4)
            OR 'CO' IN (s.modifier_1, s.modifier_2, s.modifier_3, s.modifier_4),
            FALSE
        ) AS has_assistant_modifier
    FROM modifier_sets AS s
    LEFT JOIN therapy_modifiers AS m1 ON m1.modifier = s.modifier_1
    LEFT JOIN therapy_modifiers AS m2 ON m2.modifier = s.modifier_2
    LEFT JOIN therapy_modifiers AS m3 ON m3.modifier = s.modifier_3
    LEFT JOIN therapy_modifiers AS m4 ON m4.modifier = s.modifier_4
)
SELECT
    l.claim_id,
    l.line_number,
    l.patient_id,
    l.service_date,
    l.cpt_code,
    l.units,
    l.payer,
    l.rendering_npi,
    l.modifiers,
    l.modifier_1,
    l.modifier_2,
    l.modifier_3,
    l.modifier_4,
    r.modifier_discipline,
    r.modifier_disciplines,
    r.therapy_modifier_count,
    COALESCE(r.modifier_discipline, c.discipline_default, 'PT') AS line_discipline,
    r.has_kx,
    r.has_assistant_modifier
FROM audited_claim_lines AS l
JOIN read_sets AS r
    ON r.modifier_1 IS NOT DISTINCT FROM l.modifier_1
    AND r.modifier_2 IS NOT DISTINCT FROM l.modifier_2
    AND r.modifier_3 IS NOT DISTINCT FROM l.modifier_3
    AND r.modifier_4 IS NOT DISTINCT FROM l.modifier_4
LEFT JOIN ref_cpt_codes AS c USING (cpt_code)
