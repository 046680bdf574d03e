"""The stages as jobs: load (ingest + validate + store), flag (rules), report (outputs).

Each stage reads what the previous one left in the store, never in-memory state, so an
orchestrator can run and retry them as separate tasks.
"""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from pipeline import store
from pipeline.audit import flag as run_rules
from pipeline.catalog import load_catalog
from pipeline.columns import CLAIMS, TIMELOGS
from pipeline.config import Config
from pipeline.errors import UsageError
from pipeline.ingest import read_inputs
from pipeline.timing import StageTimer
from pipeline.validate import Validated, read_rows, validate
from reports.pseudonym import Pseudonymizer
from reports.render import write_outputs

log = logging.getLogger(__name__)


def load(claims: list[Path], timelogs: list[Path], db: Path, config: Config) -> str:
    """Read, validate and store the exports; return the new run's id.

    Every file's header is checked before the store is opened, so a missing file or
    column stops the run with the store untouched. Files are then validated and stored
    one at a time (memory holds one file, not all), inside one transaction: a file that
    fails half-way rolls the whole load back.
    """
    started = datetime.now(UTC).replace(microsecond=0)
    timer = StageTimer()
    inputs = read_inputs(claims, CLAIMS, config.columns) + read_inputs(
        timelogs, TIMELOGS, config.columns
    )
    run_id = f"{started:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"
    read = rejected = 0
    con = store.connect(db, config.store.get("memory_limit"))
    try:
        con.execute("BEGIN TRANSACTION")
        con.execute(
            "INSERT INTO runs (run_id, started_at, config_source) VALUES (?, ?, ?)",
            [run_id, started.replace(tzinfo=None), config.source],
        )
        for raw in inputs:
            with timer.stage(f"load: read {raw.kind.name}"):
                frame = read_rows(raw)
            with timer.stage(f"load: validate {raw.kind.name}"):
                item = validate(raw, frame)
            del frame
            with timer.stage(f"load: store {raw.kind.name}"):
                _store_input(con, run_id, item)
            read, rejected = read + item.rows_read, rejected + item.rows_rejected
        timer.save(con, run_id)
        con.execute("UPDATE runs SET loaded_at = now() WHERE run_id = ?", [run_id])
        con.execute("COMMIT")
    finally:
        con.close()
    log.info(
        "load: run %s: %d files, %d rows read, %d accepted, %d rejected",
        run_id,
        len(inputs),
        read,
        read - rejected,
        rejected,
    )
    return run_id


def flag(db: Path, config: Config, run_id: str | None = None) -> str:
    con = _open_existing(db, config)
    try:
        run_id = run_id or _latest_run(con, "loaded_at")
        results = run_rules(con, run_id, config, load_catalog(config))
    finally:
        con.close()
    found = sum(r.findings for r in results)
    log.info("flag: run %s: %d rules, %d findings", run_id, len(results), found)
    return run_id


def report(
    db: Path,
    out: Path,
    config: Config,
    run_id: str | None = None,
    pseudonyms: Pseudonymizer | None = None,
) -> str:
    con = _open_existing(db, config)
    try:
        run_id = run_id or _latest_run(con, "flagged_at")
        written = write_outputs(con, run_id, out, config, load_catalog(config), pseudonyms)
    finally:
        con.close()
    log.info("report: run %s: wrote %s", run_id, ", ".join(p.name for p in written))
    return run_id


def _store_input(con: duckdb.DuckDBPyConnection, run_id: str, item: Validated) -> None:
    kind = item.source.kind
    table, key = (
        ("claim_lines", store.CLAIM_KEY) if kind is CLAIMS else ("time_segments", store.SEGMENT_KEY)
    )
    counts = store.upsert(con, table, item.accepted, key, run_id)
    con.execute(
        "INSERT INTO run_inputs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            run_id,
            kind.name,
            str(item.source.path),
            item.source.checksum,
            item.rows_read,
            item.accepted.height,
            item.rows_rejected,
            counts.new,
            counts.changed,
        ],
    )
    con.register("accepted_rows", item.accepted)
    con.register("rejected_rows", item.rejects)
    con.execute("INSERT INTO rejects SELECT $run_id, * FROM rejected_rows", {"run_id": run_id})
    if kind is CLAIMS:
        con.execute(
            "INSERT INTO run_scope_claims SELECT DISTINCT $run_id, claim_id FROM accepted_rows",
            {"run_id": run_id},
        )
    con.execute(
        "INSERT INTO run_scope_days SELECT DISTINCT $run_id, patient_id, service_date "
        "FROM accepted_rows",
        {"run_id": run_id},
    )
    con.unregister("accepted_rows")
    con.unregister("rejected_rows")


def _open_existing(db: Path, config: Config) -> duckdb.DuckDBPyConnection:
    if not db.is_file():
        raise UsageError(f"{db}: no store here; run `python -m pipeline load` first")
    return store.connect(db, config.store.get("memory_limit"))


def _latest_run(con: duckdb.DuckDBPyConnection, stage_column: str) -> str:
    row = store.first_row(
        con,
        f"SELECT run_id FROM runs WHERE {stage_column} IS NOT NULL "
        "ORDER BY started_at DESC LIMIT 1",
    )
    if row is None:
        stage = "load" if stage_column == "loaded_at" else "flag"
        raise UsageError(f"the store holds no run that has finished `{stage}`")
    return row[0]
