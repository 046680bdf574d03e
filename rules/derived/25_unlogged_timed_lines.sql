-- Timed claim lines on service dates the time-log exports do not cover at all (no
-- segment of any patient that day). The unit rules cannot judge them; the summary says
-- how many there were instead of calling those rules clean.
SELECT l.claim_id, l.line_number, l.patient_id, l.service_date, l.cpt_code
FROM audited_claim_lines AS l
JOIN ref_cpt_codes AS c ON c.cpt_code = l.cpt_code AND c.billing = 'timed'
WHERE l.service_date NOT IN (SELECT service_date FROM logged_days)
