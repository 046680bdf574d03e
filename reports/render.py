"""Report: write a run's outputs from the store into the --out folder.

report.html (auditors), findings.csv and findings.parquet (other tools), rejects.csv
and summary.json. Each file is written under a temporary name and renamed into
place, so a killed run never leaves a half-written output behind.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import duckdb
import jinja2
import polars as pl

from pipeline.catalog import Catalog
from pipeline.columns import FINDINGS_COLUMNS
from pipeline.config import Config
from pipeline.store import first_row, frame

TEMPLATES = Path(__file__).with_name("templates")
SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}


def write_outputs(
    con: duckdb.DuckDBPyConnection, run_id: str, out: Path, config: Config, catalog: Catalog
) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    findings = _findings(con, run_id)
    rejects = frame(
        con,
        'SELECT source_file, row_number, "column", value, reason FROM rejects '
        'WHERE run_id = $run_id ORDER BY source_file, row_number, "column"',
        {"run_id": run_id},
    )
    summary = _summary(con, run_id, catalog, findings)
    html = _render_html(summary, findings, rejects, catalog, config)
    # The report's own time up to here: writing the files is what remains.
    summary["timings"].append({"stage": "report", "seconds": round(time.perf_counter() - began, 3)})
    writers: dict[str, Callable[[Path], None]] = {
        "findings.csv": findings.write_csv,
        "findings.parquet": findings.write_parquet,
        "rejects.csv": rejects.write_csv,
        "summary.json": lambda p: p.write_text(json.dumps(summary, indent=2, default=str) + "\n"),
        "report.html": lambda p: p.write_text(html, encoding="utf-8"),
    }
    return [_write_atomically(out / name, writer) for name, writer in writers.items()]


def _write_atomically(path: Path, writer: Callable[[Path], None]) -> Path:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        writer(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def _findings(con: duckdb.DuckDBPyConnection, run_id: str) -> pl.DataFrame:
    return frame(
        con,
        f"""
        SELECT {", ".join(FINDINGS_COLUMNS)} FROM findings WHERE run_id = $run_id
        ORDER BY CASE severity WHEN 'high' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END,
                 rule_id, service_date, claim_id, line_number, finding_id
        """,
        {"run_id": run_id},
    )


def _summary(
    con: duckdb.DuckDBPyConnection, run_id: str, catalog: Catalog, findings: pl.DataFrame
) -> dict[str, Any]:
    params = {"run_id": run_id}
    run = first_row(
        con,
        "SELECT started_at, loaded_at, flagged_at, config_source FROM runs WHERE run_id = $run_id",
        params,
    )
    inputs = frame(
        con,
        "SELECT kind, source_file, checksum, rows_read, rows_accepted, rows_rejected, rows_new, "
        "rows_changed FROM run_inputs WHERE run_id = $run_id ORDER BY kind, source_file",
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
    period = first_row(
        con,
        "SELECT min(service_date), max(service_date), count(DISTINCT claim_id), count(*) "
        "FROM audited_claim_lines WHERE claim_id IN "
        "(SELECT claim_id FROM run_scope_claims WHERE run_id = $run_id)",
        params,
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
        "reported_at": datetime.now(UTC).replace(tzinfo=None),
        "config": run[3],
        "inputs": [
            {**row, "reconciled": row["rows_read"] == row["rows_accepted"] + row["rows_rejected"]}
            for row in inputs.rename({"source_file": "file", "checksum": "sha256"}).to_dicts()
        ],
        "totals": {
            **totals,
            "reconciled": totals["rows_read"] == totals["rows_accepted"] + totals["rows_rejected"],
        },
        "audited": {
            "first_service_date": period[0],
            "last_service_date": period[1],
            "claims": period[2],
            "claim_lines": period[3],
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
        "timings": timings,
        "versions": {
            "ptaudit": metadata.version("ptaudit") if _installed() else "source",
            "rule_catalog": catalog.version,
            "reference": references,
        },
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


def _render_html(
    summary: dict[str, Any],
    findings: pl.DataFrame,
    rejects: pl.DataFrame,
    catalog: Catalog,
    config: Config,
) -> str:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    cap = int(config.report.get("max_findings_per_rule", 500))
    shown = findings.filter(pl.int_range(pl.len()).over("rule_id") < cap)
    by_provider = (
        findings.group_by("provider_npi")
        .agg(
            pl.len().alias("findings"),
            pl.col("amount_at_risk").sum().round(2).alias("amount_at_risk"),
            pl.col("units_at_risk").sum().alias("units_at_risk"),
        )
        .sort(["amount_at_risk", "provider_npi"], descending=[True, False])
    )
    reject_reasons = (
        rejects.group_by("reason").agg(pl.len().alias("rows")).sort("rows", descending=True)
    )
    return environment.get_template("report.html.j2").render(
        summary=summary,
        rules={rule.id: rule for rule in catalog.rules},
        findings=shown.to_dicts(),
        findings_hidden=findings.height - shown.height,
        cap=cap,
        by_provider=by_provider.to_dicts(),
        rejects=rejects.head(cap).to_dicts(),
        rejects_hidden=max(0, rejects.height - cap),
        reject_reasons=reject_reasons.to_dicts(),
        stylesheet=(TEMPLATES / "report.css").read_text(),
    )
