-- TELEHEALTH_MODIFIER_MISSING: a therapy line billed at a telehealth place of service
-- without the telehealth modifier, on a date inside one of the configured periods of
-- Medicare's telehealth flexibilities for PT/OT/SLP. A line without a place of service is
-- not judged. Whether therapy by telehealth is covered at all outside the periods is not
-- this rule's question.
WITH periods AS (
    SELECT
        CAST(p."from" AS DATE) AS starts,
        CAST(p."to" AS DATE) AS ends,
        p.source
    FROM (SELECT UNNEST($telehealth_periods) AS p) AS listed
),
telehealth_places AS (
    SELECT UNNEST($telehealth_places_of_service) AS place_of_service
),
therapy_modifiers AS (
    SELECT UNNEST($therapy_modifiers) AS modifier
),
telehealth_lines AS (
    SELECT l.*
    FROM audited_claim_lines AS l
    JOIN telehealth_places USING (place_of_service)
    WHERE CASE
            WHEN $telehealth_modifier IN (l.modifier_1, l.modifier_2, l.modifier_3, l.modifier_4)
                THEN 1
            ELSE 0
        END = 0
        AND (
            l.cpt_code IN (SELECT cpt_code FROM ref_cpt_codes)
            OR EXISTS (
                SELECT 1 FROM therapy_modifiers AS m
                WHERE m.modifier IN (l.modifier_1, l.modifier_2, l.modifier_3, l.modifier_4)
            )
        )
),
-- Overlapping periods in a configuration give one finding, citing the earliest period.
in_period AS (
    SELECT claim_id, line_number, starts, ends, source
    FROM (
        SELECT
            t.claim_id,
            t.line_number,
            p.starts,
            p.ends,
            p.source,
            ROW_NUMBER() OVER (
                PARTITION BY t.claim_id, t.line_number ORDER BY p.starts, p.ends
            ) AS preference
        FROM telehealth_lines AS t
        JOIN periods AS p ON t.service_date BETWEEN p.starts AND p.ends
    ) AS ranked
    WHERE preference = 1
)
SELECT
    t.patient_id,
    t.rendering_npi AS provider_npi,
    t.service_date,
    t.claim_id,
    t.line_number,
    t.cpt_code,
    t.payer,
    t.units AS units_billed,
    0 AS units_supported,
    t.units AS units_at_risk,
    t.cpt_code || ' x' || CAST(t.units AS VARCHAR) || ' billed at place of service '
        || t.place_of_service || ' (telehealth) on ' || CAST(t.service_date AS VARCHAR)
        || ' without modifier ' || $telehealth_modifier || ' (modifiers: '
        || COALESCE(t.modifiers, 'none') || '). The date falls in Medicare''s telehealth period for'
        || ' PT/OT/SLP ' || CAST(p.starts AS VARCHAR) || ' to ' || CAST(p.ends AS VARCHAR) || ' ('
        || p.source || '), when therapy furnished by telehealth carries '
        || $telehealth_modifier || '.' AS message
FROM telehealth_lines AS t
JOIN in_period AS p USING (claim_id, line_number)
