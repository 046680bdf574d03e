"""A run's findings compared with earlier runs: new, still open, no longer present.

A finding is about a claim (or, when it names no claim line, a patient-day), and runs
differ in what they cover, so each claim and patient-day of this run's scope is compared
with its own baseline: the latest earlier run (by load) that was flagged and whose scope
covered it. A finding of this run is still open when its baseline produced the same
finding_id, and new otherwise (nothing earlier covered it, or it was not there then). A
finding of a baseline that this run does not produce on the claim or patient-day the
baseline reported it on is no longer present: a replacement claim fixed the units, a
void took the claim out, a time log came in.

Everything is computed from the findings and scopes the store keeps, so a report
written again gives the same comparison.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import polars as pl

from pipeline.columns import FINDINGS_COLUMNS
from pipeline.store import first_row, frame

NEW, STILL_OPEN, NO_LONGER_PRESENT = "new", "still_open", "no_longer_present"
STATUSES = (NEW, STILL_OPEN, NO_LONGER_PRESENT)

# The runs flagged before the run loaded at $loaded_at.
EARLIER_RUNS = "SELECT * FROM runs WHERE flagged_at IS NOT NULL AND loaded_at < $loaded_at"

# Each claim and patient-day of the run's scope, with the latest earlier flagged run
# that covered it. `$earlier` says whether there is any earlier run: a first run's
# baselines are then empty without hashing its whole scope to match nothing (4.3M
# claims and as many patient-days in a first load of 10M lines, 0.7 s).
BASELINES = (
    f"""
    CREATE OR REPLACE TEMP TABLE baseline_claims AS
    SELECT s.claim_id, arg_max(s.run_id, r.loaded_at) AS previous_run_id
    FROM run_scope_claims AS s JOIN ({EARLIER_RUNS}) AS r USING (run_id)
    WHERE $earlier AND EXISTS (
        SELECT 1 FROM run_scope_claims AS t WHERE t.run_id = $run_id AND t.claim_id = s.claim_id)
    GROUP BY s.claim_id
    """,
    f"""
    CREATE OR REPLACE TEMP TABLE baseline_days AS
    SELECT s.patient_id, s.service_date, arg_max(s.run_id, r.loaded_at) AS previous_run_id
    FROM run_scope_days AS s JOIN ({EARLIER_RUNS}) AS r USING (run_id)
    WHERE $earlier AND EXISTS (
        SELECT 1 FROM run_scope_days AS t WHERE t.run_id = $run_id
            AND t.patient_id = s.patient_id AND t.service_date = s.service_date)
    GROUP BY s.patient_id, s.service_date
    """,
)

BASELINE_RUNS = (
    "SELECT previous_run_id FROM baseline_claims UNION SELECT previous_run_id FROM baseline_days"
)
LOAD_ORDER = f"SELECT run_id FROM runs WHERE run_id IN ({BASELINE_RUNS}) ORDER BY loaded_at"

# The baseline each finding of a run is compared with (by its claim, or its day).
BASELINE_OF = """
    LEFT JOIN baseline_claims AS c ON c.claim_id = {f}.claim_id
    LEFT JOIN baseline_days AS d ON {f}.claim_id IS NULL
        AND d.patient_id = {f}.patient_id AND d.service_date = {f}.service_date
"""

STATUS = f"""
SELECT DISTINCT f.finding_id,
    CASE WHEN p.finding_id IS NULL THEN '{NEW}' ELSE '{STILL_OPEN}' END AS status
FROM findings AS f
{BASELINE_OF.format(f="f")}
LEFT JOIN findings AS p
    ON p.run_id = coalesce(c.previous_run_id, d.previous_run_id) AND p.finding_id = f.finding_id
WHERE f.run_id = $run_id
"""

GONE = f"""
SELECT {", ".join(f"p.{column}" for column in FINDINGS_COLUMNS)}, p.run_id AS previous_run_id
FROM findings AS p
{BASELINE_OF.format(f="p")}
WHERE p.run_id IN ({BASELINE_RUNS})
    AND p.run_id = coalesce(c.previous_run_id, d.previous_run_id)
    AND NOT EXISTS (
        SELECT 1 FROM findings AS f WHERE f.run_id = $run_id AND f.finding_id = p.finding_id)
ORDER BY CASE p.severity WHEN 'high' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END,
    p.rule_id, p.service_date, p.claim_id, p.line_number, p.finding_id
"""


@dataclass(frozen=True)
class Changes:
    # The earlier runs the run's claims and patient-days were compared with.
    compared_with: list[str]
    # finding_id, status (new or still_open) of each finding of the run.
    status: pl.DataFrame
    # The earlier findings no longer present, as they were reported, with their run.
    gone: pl.DataFrame

    def counts(self, findings: pl.DataFrame) -> dict[str, object]:
        """Findings (with their status) per status, in all and per rule."""
        statuses = findings.select("rule_id", "status").vstack(
            self.gone.select("rule_id", pl.lit(NO_LONGER_PRESENT).alias("status"))
        )
        by_rule: dict[str, dict[str, int]] = {}
        for rule_id, status, count in statuses.group_by("rule_id", "status").len().iter_rows():
            by_rule.setdefault(rule_id, dict.fromkeys(STATUSES, 0))[status] = count
        return {
            "compared_with": self.compared_with,
            **{status: int((statuses["status"] == status).sum()) for status in STATUSES},
            "by_rule": dict(sorted(by_rule.items())),
        }


def compare(con: duckdb.DuckDBPyConnection, run_id: str) -> Changes:
    params = {"run_id": run_id}
    (loaded_at,) = first_row(con, "SELECT loaded_at FROM runs WHERE run_id = $run_id", params)
    (earlier,) = first_row(
        con, f"SELECT count(*) > 0 FROM ({EARLIER_RUNS})", {"loaded_at": loaded_at}
    )
    for sql in BASELINES:
        con.execute(sql, {**params, "loaded_at": loaded_at, "earlier": earlier})
    try:
        return Changes(
            # In the order they were loaded: run ids sort by their start to the second,
            # and two runs can start in the same second.
            compared_with=[row[0] for row in con.execute(LOAD_ORDER).fetchall()],
            status=frame(con, STATUS, params),
            gone=frame(con, GONE, params),
        )
    finally:
        con.execute("DROP TABLE baseline_claims")
        con.execute("DROP TABLE baseline_days")
