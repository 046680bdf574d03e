"""summary.json: the run in numbers, for scripts and for the report's summary.

The scope the findings cover, rows read, accepted and rejected per input (with
checksums, and whether the file was loaded or skipped as already loaded), findings and
dollars per rule with each rule's status, the findings new, still open and no longer
present since earlier runs, the audited period, run times and the versions of the rule
catalog and reference data. It names no patient.
"""

from __future__ import annotations

from importlib import metadata
from typing import Any

import duckdb
import polars as pl

from pipeline.catalog import Catalog
from pipeline.changes import Changes
from pipeline.loaded import SKIPPED, History
from pipeline.scope import Scope
from pipeline.store import first_row, frame, utc_now
from reports.measures import RunLines


def build_summary(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    catalog: Catalog,
    findings: pl.DataFrame,
    changes: Changes,
    scope: Scope,
    lines: RunLines,
) -> dict[str, Any]:
    """The run in numbers, for its `scope` (Scope.of_run); its audited period is that of
    its claim lines in force."""
    params = {"run_id": run_id}
    run = first_row(
        con,
        "SELECT started_at, loaded_at, flagged_at, config_source FROM runs WHERE run_id = $run_id",
        params,
    )
    inputs = frame(
        con,
        "SELECT kind, source_file, checksum, rows_read, rows_accepted, rows_rejected, rows_new, "
        "rows_changed, coalesce(status, 'loaded') AS status, loaded_in_run, previous_version_run "
        "FROM run_inputs WHERE run_id = $run_id ORDER BY kind, source_file",
        params,
    )
    results = {
        row[0]: {
            "status": row[1],
            "findings": row[2],
            "amount_at_risk": float(row[3]),
            "note": row[4],
        }
        for row in con.execute(
            "SELECT rule_id, status, findings, amount_at_risk, note FROM rule_results "
            "WHERE run_id = $run_id",
            params,
        ).fetchall()
    }
    timings = frame(
        con,
        "SELECT stage, round(seconds, 3) AS seconds FROM run_timings WHERE run_id = $run_id "
        "ORDER BY rowid",
        params,
    ).to_dicts()
    references = dict(
        con.execute(
            "SELECT name, checksum FROM run_reference WHERE run_id = $run_id", params
        ).fetchall()
    )
    totals = {
        column: int(inputs[column].sum())
        for column in ("rows_read", "rows_accepted", "rows_rejected")
    }
    return {
        "run_id": run_id,
        "started_at": run[0],
        "loaded_at": run[1],
        "flagged_at": run[2],
        "reported_at": utc_now(),
        "config": run[3],
        "scope": {"kind": scope.kind, "since": scope.since, "description": scope.describe()},
        "inputs": [_input(row) for row in inputs.to_dicts()],
        "totals": {
            **totals,
            "files_skipped": int((inputs["status"] == SKIPPED).sum()),
            "reconciled": totals["rows_read"] == totals["rows_accepted"] + totals["rows_rejected"],
        },
        "audited": {
            "first_service_date": lines.first_service_date,
            "last_service_date": lines.last_service_date,
            "claims": lines.claims,
            "claim_lines": lines.claim_lines,
        },
        "findings": {
            "total": findings.height,
            "amount_at_risk": _money_total(findings, catalog, "at_risk"),
            "revenue_missed": _money_total(findings, catalog, "missed"),
            "by_rule": {
                rule.id: {
                    "title": rule.title,
                    "severity": rule.severity,
                    "money": rule.money,
                    **results.get(
                        rule.id,
                        {"status": "not run", "findings": 0, "amount_at_risk": 0.0, "note": None},
                    ),
                }
                for rule in catalog.rules
            },
        },
        "changes": changes.counts(findings),
        "timings": timings,
        "versions": {
            "ptaudit": metadata.version("ptaudit") if _installed() else "source",
            "rule_catalog": catalog.version,
            "reference": references,
        },
    }


def _input(row: dict[str, Any]) -> dict[str, Any]:
    """One input file: its rows (none read for a skipped file) and what earlier loads
    make of it."""
    history = History(row.pop("loaded_in_run"), row.pop("previous_version_run"))
    source_file = row.pop("source_file")
    return {
        "kind": row.pop("kind"),
        "file": source_file,
        "sha256": row.pop("checksum"),
        **row,
        "reconciled": row["rows_read"] == row["rows_accepted"] + row["rows_rejected"],
        "loaded_in_run": history.loaded_in_run,
        "previous_version_run": history.previous_version_run,
        "note": history.note(source_file),
    }


def _money_total(findings: pl.DataFrame, catalog: Catalog, kind: str) -> float:
    """Dollars of the rules whose amounts mean `kind`; at-risk and missed never mix."""
    rule_ids = [rule.id for rule in catalog.rules if rule.money == kind]
    amounts = findings.filter(pl.col("rule_id").is_in(rule_ids))["amount_at_risk"]
    return round(float(amounts.sum() or 0), 2)


def _installed() -> bool:
    try:
        metadata.version("ptaudit")
    except metadata.PackageNotFoundError:
        return False
    return True
