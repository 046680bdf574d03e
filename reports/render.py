"""Report: write a run's outputs from the store into the --out folder.

report.html (auditors), findings.csv, findings.parquet and findings.xlsx (every
finding with its status against earlier runs, for other tools and for spreadsheets),
rejects.csv and summary.json. Each file is written under a temporary name and renamed
into place, so a killed run never leaves a half-written output behind. With pseudonyms,
every patient id in every file is replaced by its keyed pseudonym; the store keeps the
real ids.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import polars as pl

from pipeline import progress
from pipeline.catalog import Catalog
from pipeline.changes import compare
from pipeline.columns import FINDINGS_COLUMNS
from pipeline.config import Config
from pipeline.scope import Scope
from pipeline.store import frame
from reports import evidence, measures, page, xlsx
from reports.pseudonym import Pseudonymizer, pseudonymize, pseudonymize_rejects
from reports.summary import build_summary

log = logging.getLogger(__name__)

# Every patient id the store knows: the ids a finding's message may name.
PATIENT_IDS = "SELECT patient_id FROM claim_lines UNION SELECT patient_id FROM time_segments"


def write_outputs(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    out: Path,
    config: Config,
    catalog: Catalog,
    pseudonyms: Pseudonymizer | None = None,
) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    progress.show("report: comparing with earlier runs")
    changes = compare(con, run_id)
    findings = _findings(con, run_id).join(
        changes.status, on="finding_id", how="left", maintain_order="left"
    )
    gone = changes.gone
    rejects = frame(
        con,
        'SELECT source_file, row_number, "column", value, reason FROM rejects '
        'WHERE run_id = $run_id ORDER BY source_file, row_number, "column"',
        {"run_id": run_id},
    )
    limits = page.Limits.from_config(config)
    # Evidence is looked up by the real ids, before any are replaced.
    with_evidence = page.first_per_rule(findings, limits.evidence_per_rule)
    if pseudonyms is not None:
        known = frame(con, PATIENT_IDS)["patient_id"].to_list()
        findings = pseudonymize(findings, pseudonyms, known)
        gone = pseudonymize(gone, pseudonyms, known)
        rejects = pseudonymize_rejects(rejects, pseudonyms)
        log.info("report: patient ids pseudonymized in every output")
    temporaries: list[Path] = []
    try:
        # The run's claim lines, for the summary's period and the providers' totals.
        scope = Scope.of_run(con, run_id)
        lines = measures.run_lines(con, scope.lines_run(con, run_id))
        summary = build_summary(con, run_id, catalog, findings, changes, scope, lines)
        progress.show("report: evidence")
        found = evidence.collect(con, with_evidence, config, catalog)
        if pseudonyms is not None:
            found = found.map(lambda rows: pseudonymize(rows, pseudonyms))
        provider_units = measures.provider_units(lines.billed, findings)
        progress.show("report: report.html")
        html = page.render(
            summary,
            findings,
            page.first_per_rule(findings, limits.findings_per_rule),
            gone,
            found,
            provider_units,
            rejects,
            catalog,
            config,
        )
        # The report's own time up to here: writing the files is what remains.
        summary["timings"].append(
            {"stage": "report", "seconds": round(time.perf_counter() - began, 3)}
        )
        writers: dict[str, Callable[[Path], None]] = {
            "findings.csv": findings.write_csv,
            "findings.parquet": findings.write_parquet,
            "rejects.csv": rejects.write_csv,
            "summary.json": lambda p: p.write_text(
                json.dumps(summary, indent=2, default=str) + "\n"
            ),
            "report.html": lambda p: p.write_text(html, encoding="utf-8"),
            "findings.xlsx": lambda p: xlsx.write(p, findings, summary),
        }
        for number, (name, writer) in enumerate(writers.items(), 1):
            progress.show(f"report: writing {name} ({number} of {len(writers)})")
            temporaries.append(_temporary(out / name))
            writer(temporaries[-1])
        # Every file is written under a temporary name, and all are renamed into place
        # once all are written: a report that fails leaves the outputs as they were.
        written = [out / name for name in writers]
        for path in written:
            os.replace(_temporary(path), path)
    finally:
        for temporary in temporaries:
            temporary.unlink(missing_ok=True)
    return written


def _temporary(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


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
