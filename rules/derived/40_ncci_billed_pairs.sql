-- Both codes of an NCCI procedure-to-procedure edit billed for one patient on one service
-- date by one rendering provider (CMS applies PTP edits per provider, across all of the
-- provider's claims), with the edit in force that day: on or after its effective date
-- and before its deletion date. One row per column-two line, edit and column-one line,
-- every modifier indicator; the column-two line's own columns, then the edit's, then the
-- column-one line's. NCCI_PAIR_MODIFIER_MISSING (indicator 1) and NCCI_PAIR_NOT_ALLOWED
-- (indicator 0) read it.
WITH lines AS (
    SELECT
        claim_id,
        line_number,
        patient_id,
        rendering_npi,
        service_date,
        cpt_code,
        payer,
        units,
        modifiers,
        modifier_1,
        modifier_2,
        modifier_3,
        modifier_4
    FROM audited_claim_lines
)
SELECT
    c2.*,
    e.column_1,
    e.modifier_indicator,
    e.effective_date,
    c1.claim_id AS column_1_claim_id,
    c1.line_number AS column_1_line_number,
    c1.modifier_1 AS column_1_modifier_1,
    c1.modifier_2 AS column_1_modifier_2,
    c1.modifier_3 AS column_1_modifier_3,
    c1.modifier_4 AS column_1_modifier_4
FROM lines AS c2
JOIN lines AS c1
    ON c1.patient_id = c2.patient_id
    AND c1.service_date = c2.service_date
    AND c1.rendering_npi = c2.rendering_npi
    AND c1.cpt_code <> c2.cpt_code
JOIN ref_ncci_ptp AS e
    ON e.column_1 = c1.cpt_code
    AND e.column_2 = c2.cpt_code
    AND c2.service_date >= e.effective_date
    AND (e.deletion_date IS NULL OR c2.service_date < e.deletion_date)
