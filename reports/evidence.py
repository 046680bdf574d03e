"""The evidence behind the findings embedded in the report, read from the store.

Only the embedded findings' patient-days and patients are looked up, with one
set-based query per kind of evidence. The units the minutes support and the episodes
of care come from the rules' own derived tables (rules/derived), rebuilt over those
patients alone: the report shows the computation the rules judged by rather than a
second implementation of it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields

import duckdb
import polars as pl

from pipeline import audit, reference
from pipeline.catalog import Catalog
from pipeline.config import Config
from pipeline.store import frame

# The rule whose parameters give the KX thresholds the episodes mark.
KX_RULE = "MODIFIER_KX_MISSING"

# Temporary copies of the store's lines and segments, limited to the patients of the
# embedded findings, shadow the store's own tables on this connection, so the derived
# tables are built over those patients only. Their whole history is kept: episodes
# and yearly totals count every earlier visit.
SCOPE = """
CREATE TEMP TABLE report_days AS
    SELECT DISTINCT patient_id, service_date FROM shown_findings
    WHERE patient_id IS NOT NULL AND service_date IS NOT NULL;
CREATE TEMP TABLE report_patients AS SELECT DISTINCT patient_id FROM report_days;
CREATE TEMP TABLE audited_claim_lines AS
    SELECT * FROM main.audited_claim_lines
    WHERE patient_id IN (SELECT patient_id FROM report_patients);
CREATE TEMP TABLE time_segments AS
    SELECT s.* FROM main.time_segments AS s JOIN report_days USING (patient_id, service_date);
"""

SEGMENTS = """
SELECT
    s.patient_id, s.service_date, s.provider_npi, s.provider_role, s.cpt_code,
    s.start_time, s.end_time,
    -- Minutes counted toward the units: a segment inside an earlier one counts only
    -- from where that ends (NULL for untimed codes, which count none).
    t.counted_seconds / 60.0 AS counted_minutes
FROM time_segments AS s
LEFT JOIN timed_segments AS t USING (patient_id, provider_npi, cpt_code, start_time, end_time)
ORDER BY s.patient_id, s.service_date, s.start_time, s.end_time, s.cpt_code
"""

CLAIM_LINES = """
SELECT
    l.patient_id, l.service_date, l.claim_id, l.line_number, l.cpt_code, l.modifiers,
    l.units, l.payer, l.rendering_npi
FROM audited_claim_lines AS l
JOIN report_days USING (patient_id, service_date)
ORDER BY l.patient_id, l.service_date, l.claim_id, l.line_number
"""

UNITS = """
SELECT
    u.patient_id, u.service_date, u.discipline, u.cpt_code, u.payer, u.unit_method,
    u.units_billed, u.minutes, u.units_supported, u.day_minutes, u.day_units_billed,
    u.day_units_supported, u.unit_basis
FROM code_day_units AS u
JOIN report_days USING (patient_id, service_date)
ORDER BY u.patient_id, u.service_date, u.discipline, u.cpt_code
"""

# The visits of every episode that holds an embedded finding's day, with the payer's
# course thresholds and the day the patient's yearly allowed amounts passed the KX
# threshold of the visit's group.
VISITS = """
WITH touched AS (
    SELECT DISTINCT e.patient_id, e.discipline, e.episode_number
    FROM episodes AS e
    JOIN report_days USING (patient_id, service_date)
),
thresholds AS (
    SELECT t.year AS service_year, t.pt_slp, t.ot
    FROM (SELECT UNNEST($kx_thresholds) AS t) AS listed
),
kx_crossings AS (
    SELECT a.patient_id, a.service_year, a.threshold_group, MIN(a.service_date) AS kx_date
    FROM therapy_allowed AS a
    JOIN thresholds AS t USING (service_year)
    WHERE a.total_after > CASE WHEN a.threshold_group = 'OT' THEN t.ot ELSE t.pt_slp END
    GROUP BY a.patient_id, a.service_year, a.threshold_group
)
SELECT
    e.patient_id, e.discipline, e.episode_number, e.episode_start, e.episode_started_by,
    e.episode_visit, e.episode_day, e.service_date, e.payer,
    m.course_visits_medium, m.course_visits_high, m.course_max_days,
    k.kx_date
FROM episodes AS e
JOIN touched USING (patient_id, discipline, episode_number)
LEFT JOIN payer_methods AS m USING (payer)
LEFT JOIN kx_crossings AS k
    ON k.patient_id = e.patient_id
    AND k.service_year = year(e.service_date)
    AND k.threshold_group = CASE WHEN e.discipline = 'OT' THEN 'OT' ELSE 'PT/SLP' END
ORDER BY e.patient_id, e.discipline, e.episode_number, e.service_date
"""


@dataclass(frozen=True)
class Evidence:
    segments: pl.DataFrame
    claim_lines: pl.DataFrame
    units: pl.DataFrame
    visits: pl.DataFrame

    def map(self, change: Callable[[pl.DataFrame], pl.DataFrame]) -> Evidence:
        """The same evidence with every frame changed alike (e.g. pseudonymized)."""
        return Evidence(*(change(getattr(self, field.name)) for field in fields(self)))


def collect(
    con: duckdb.DuckDBPyConnection, shown: pl.DataFrame, config: Config, catalog: Catalog
) -> Evidence:
    """The evidence for the findings in `shown` (patient_id, service_date)."""
    # A connection of its own: its temporary tables shadow the store's for these
    # queries only, and go with it.
    cursor = con.cursor()
    try:
        cursor.register("shown_findings", shown.select("patient_id", "service_date"))
        cursor.execute(SCOPE)
        reference.install(cursor, config, catalog)
        audit.derive(cursor, catalog)
        kx_rule = next(rule for rule in catalog.rules if rule.id == KX_RULE)
        return Evidence(
            segments=frame(cursor, SEGMENTS),
            claim_lines=frame(cursor, CLAIM_LINES),
            units=frame(cursor, UNITS),
            visits=frame(cursor, VISITS, {"kx_thresholds": kx_rule.params["kx_thresholds"]}),
        )
    finally:
        cursor.close()
