-- The service dates the time-log exports cover: a segment of any patient that day. A
-- timed line on a date outside them cannot be judged (unlogged_timed_lines) rather than
-- called unlogged. Read across patients, so it is built over the whole store before the
-- per-patient tables (see pipeline/audit.py, ACROSS_PATIENTS).
SELECT DISTINCT service_date FROM time_segments
