-- NCCI_PAIR_NOT_ALLOWED: both codes of an NCCI procedure-to-procedure edit whose
-- modifier indicator is 0 billed for one patient on one service date by one rendering
-- provider (CMS applies PTP edits per provider, across all of the provider's claims).
-- No modifier bypasses such an edit, so the column-two line is not payable. An edit
-- applies on or after its effective date and before its deletion date (the pairs in
-- force: derived/40_ncci_billed_pairs.sql). One finding per column-two line, however
-- many edits it falls under.
WITH ranked AS (
    SELECT
        *,
        ROW_NUMBER() OVER (
            PARTITION BY claim_id, line_number
            ORDER BY column_1, effective_date, column_1_claim_id, column_1_line_number
        ) AS pair_rank
    FROM ncci_billed_pairs
    WHERE modifier_indicator = 0
),
other_column_1 AS (
    SELECT
        claim_id,
        line_number,
        STRING_AGG(DISTINCT column_1, ', ' ORDER BY column_1) AS other_codes
    FROM ranked
    WHERE pair_rank > 1
    GROUP BY claim_id, line_number
)
SELECT
    r.patient_id,
    r.rendering_npi AS provider_npi,
    r.service_date,
    r.claim_id,
    r.line_number,
    r.cpt_code,
    r.payer,
    r.units AS units_billed,
    0 AS units_supported,
    r.units AS units_at_risk,
    r.cpt_code || ' (claim ' || r.claim_id || ' line ' || CAST(r.line_number AS VARCHAR)
        || ', x' || CAST(r.units AS VARCHAR) || ') billed with ' || r.column_1 || ' (claim '
        || r.column_1_claim_id || ' line ' || CAST(r.column_1_line_number AS VARCHAR)
        || ') for the same patient on ' || CAST(r.service_date AS VARCHAR)
        || ' by rendering NPI ' || r.rendering_npi || ': NCCI PTP edit ' || r.column_1 || '/'
        || r.cpt_code || ' (column one/column two), modifier indicator 0, effective '
        || CAST(r.effective_date AS VARCHAR)
        || '. No modifier allows both; the column-two code is not payable'
        || COALESCE(' (also column two to ' || o.other_codes || ' that day)', '') || '.' AS message
FROM ranked AS r
LEFT JOIN other_column_1 AS o USING (claim_id, line_number)
WHERE r.pair_rank = 1
