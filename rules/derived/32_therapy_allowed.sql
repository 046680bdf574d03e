-- Every audited line of a therapy code with its Medicare allowed amount (fee schedule
-- rate x units, at the assistant rate for CQ/CO lines from $assistant_rate_from) and the
-- annual therapy threshold it counts toward: PT and SLP share one, OT has its own.
-- MODIFIER_KX_MISSING and KX_MEDICAL_REVIEW keep running totals over it, so the whole
-- store's history counts, not only tonight's file.
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
        m.profile,
        COALESCE(
            CASE
                WHEN 'GP' IN (l.modifier_1, l.modifier_2, l.modifier_3, l.modifier_4) THEN 'PT'
                WHEN 'GO' IN (l.modifier_1, l.modifier_2, l.modifier_3, l.modifier_4) THEN 'OT'
                WHEN 'GN' IN (l.modifier_1, l.modifier_2, l.modifier_3, l.modifier_4) THEN 'SLP'
            END,
            c.discipline_default,
            'PT'
        ) AS discipline,
        -- IN over empty modifier slots is NULL, not false: hence the COALESCE.
        COALESCE('KX' IN (l.modifier_1, l.modifier_2, l.modifier_3, l.modifier_4), FALSE)
            AS has_kx,
        l.service_date >= CAST($assistant_rate_from AS DATE)
            AND COALESCE(
                'CQ' IN (l.modifier_1, l.modifier_2, l.modifier_3, l.modifier_4)
                OR 'CO' IN (l.modifier_1, l.modifier_2, l.modifier_3, l.modifier_4),
                FALSE
            ) AS at_assistant_rate
    FROM audited_claim_lines AS l
    JOIN ref_cpt_codes AS c USING (cpt_code)
    JOIN payer_methods AS m USING (payer)
)
SELECT
    t.patient_id,
    t.service_date,
    CAST(EXTRACT(YEAR FROM t.service_date) AS INTEGER) AS service_year,
    t.claim_id,
    t.line_number,
    t.cpt_code,
    t.units,
    t.payer,
    t.profile,
    t.rendering_npi,
    t.discipline,
    CASE WHEN t.discipline = 'OT' THEN 'OT' ELSE 'PT/SLP' END AS threshold_group,
    t.has_kx,
    f.rate,
    -- A code with no fee for the year adds nothing (and is reported unpriced).
    -- Exact cents, so running totals compare exactly with the thresholds.
    CAST(
        ROUND(
            COALESCE(f.rate, 0) * t.units
            * CASE WHEN t.at_assistant_rate THEN $assistant_rate_fraction ELSE 1.0 END,
            2
        ) AS DECIMAL(14, 2)
    ) AS allowed
FROM therapy_lines AS t
LEFT JOIN fee_schedule AS f
    ON f.cpt_code = t.cpt_code AND f.year = EXTRACT(YEAR FROM t.service_date)
