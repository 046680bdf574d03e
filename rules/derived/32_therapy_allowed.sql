-- The lines that count toward the annual therapy thresholds, with the patient's running
-- total for the year. MODIFIER_KX_MISSING (the KX threshold) and KX_MEDICAL_REVIEW (the
-- targeted medical-review threshold) read it, so both judge the same total, over the
-- whole store's history, not only tonight's file.
--
-- A line counts when it is an audited line of a therapy code of a payer of
-- $accrual_profiles, and not of a code Medicare bundles ($bundled_codes: paid nothing, so
-- it adds nothing and needs no KX). Its allowed amount is the fee schedule rate x units,
-- at the assistant rate for CQ/CO lines from $assistant_rate_from; its threshold group
-- follows its discipline (line_discipline in claim_line_modifiers): PT and SLP share
-- one, OT has its own. The running total adds the lines per patient, calendar year and
-- group in service-date order (ties: claim id, line number); total_after includes the
-- line, total_before does not.
WITH therapy_lines AS (
    SELECT
        l.*,
        m.profile,
        l.line_discipline AS discipline,
        l.service_date >= CAST($assistant_rate_from AS DATE) AND l.has_assistant_modifier
            AS at_assistant_rate
    FROM claim_line_modifiers AS l
    JOIN ref_cpt_codes AS c USING (cpt_code)
    JOIN payer_methods AS m USING (payer)
),
accruing AS (
    SELECT *
    FROM therapy_lines
    WHERE profile IN (SELECT UNNEST($accrual_profiles))
        AND cpt_code NOT IN (SELECT UNNEST($bundled_codes))
),
allowed AS (
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
    FROM accruing AS t
    LEFT JOIN fee_schedule AS f
        ON f.cpt_code = t.cpt_code AND f.year = EXTRACT(YEAR FROM t.service_date)
),
running AS (
    SELECT
        *,
        SUM(allowed) OVER (
            PARTITION BY patient_id, service_year, threshold_group
            ORDER BY service_date, claim_id, line_number
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS total_after
    FROM allowed
)
SELECT *, total_after - allowed AS total_before
FROM running
