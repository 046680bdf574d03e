"""The stages as jobs: load (ingest + validate + store), flag (rules), report (outputs).

Each stage reads what the previous one left in the store, never in-memory state, so an
orchestrator can run and retry them as separate tasks.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from pipeline import loaded, progress, store
from pipeline.audit import flag as run_rules
from pipeline.catalog import load_catalog
from pipeline.columns import CLAIMS, TIMELOGS
from pipeline.config import Config
from pipeline.errors import UsageError
from pipeline.ingest import RawInput, read_batches, read_inputs
from pipeline.keys import KeyHashes
from pipeline.logs import fields
from pipeline.scope import Scope
from pipeline.staging import Staging
from pipeline.timing import StageTimer
from pipeline.validate import validate
from reports.pseudonym import Pseudonymizer
from reports.render import write_outputs

log = logging.getLogger(__name__)


def load(claims: list[Path], timelogs: list[Path], db: Path, config: Config) -> str:
    """Read, validate and store the exports; return the new run's id.

    Every file's header is checked before the store is opened, so a missing file or
    column stops the run with the store untouched. Files are then read and validated a
    batch at a time (memory holds one batch, not a file) into staging files
    (pipeline/staging.py), and stored all in one transaction: a load that fails or is
    killed half-way leaves the store's tables as they were. A file whose content the
    store already holds is skipped (pipeline/loaded.py).
    """
    started = datetime.now(UTC).replace(microsecond=0)
    timer = StageTimer()
    files = [(path, CLAIMS) for path in claims] + [(path, TIMELOGS) for path in timelogs]
    inputs = read_inputs(files, config.columns)
    run_id = f"{started:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"
    con = store.connect(db, config.store.get("memory_limit"))
    staging = Staging(db)
    try:
        staged: list[_Staged] = []
        for position, raw in enumerate(inputs):
            staged.append(_stage_input(con, run_id, raw, position, staged, staging, config, timer))
        with store.transaction(con):
            con.execute(
                "INSERT INTO runs (run_id, started_at, config_source) VALUES (?, ?, ?)",
                [run_id, started.replace(tzinfo=None), config.source],
            )
            tallies = [_store_input(con, run_id, item, staging, timer) for item in staged]
            store.keep_rejects(con, staging)
            with timer.stage("load: scope of the run"):
                store.scope_of_inputs(con, run_id)
            timer.save(con, run_id)
            con.execute("UPDATE runs SET loaded_at = ? WHERE run_id = ?", [store.utc_now(), run_id])
    finally:
        con.close()
        staging.clear()
    read = sum(t.read for t in tallies)
    rejected = sum(t.rejected for t in tallies)
    skipped = sum(t.skipped for t in tallies)
    log.info(
        "load: run %s: %d files (%d already loaded, skipped), %d rows read, %d accepted, "
        "%d rejected",
        run_id,
        len(inputs),
        skipped,
        read,
        read - rejected,
        rejected,
        extra=fields(
            stage="load",
            run_id=run_id,
            files=len(inputs),
            files_skipped=skipped,
            rows_read=read,
            rows_accepted=read - rejected,
            rows_rejected=rejected,
        ),
    )
    return run_id


def flag(db: Path, config: Config, run_id: str | None = None, scope: Scope | None = None) -> str:
    """Run the rules; the findings kept are those in the scope (default: the run's files)."""
    scope = scope or Scope()
    con = _open_existing(db, config)
    try:
        run_id = run_id or _latest_run(con, "loaded_at")
        results = run_rules(con, run_id, config, load_catalog(config), scope)
    finally:
        con.close()
    found = sum(r.findings for r in results)
    log.info(
        "flag: run %s: %d rules, %d findings in scope %s",
        run_id,
        len(results),
        found,
        scope.stored,
        extra=fields(
            stage="flag", run_id=run_id, rules=len(results), findings=found, scope=scope.stored
        ),
    )
    return run_id


def report(
    db: Path,
    out: Path,
    config: Config,
    run_id: str | None = None,
    pseudonyms: Pseudonymizer | None = None,
    scope: Scope | None = None,
) -> str:
    """Write the run's outputs. A scope other than the one the run was flagged for is
    flagged first, since the store keeps the findings of the flagged scope only."""
    if scope is not None:
        run_id = _flagged_for(db, config, run_id, scope)
    con = _open_existing(db, config)
    try:
        run_id = run_id or _latest_run(con, "flagged_at")
        written = write_outputs(con, run_id, out, config, load_catalog(config), pseudonyms)
    finally:
        con.close()
    names = [p.name for p in written]
    log.info(
        "report: run %s: wrote %s",
        run_id,
        ", ".join(names),
        extra=fields(stage="report", run_id=run_id, outputs=names),
    )
    return run_id


def _flagged_for(db: Path, config: Config, run_id: str | None, scope: Scope) -> str:
    con = _open_existing(db, config)
    try:
        run_id = run_id or _latest_run(con, "flagged_at")
        flagged = Scope.of_run(con, run_id)
    finally:
        con.close()
    if flagged != scope:
        log.info(
            "report: run %s was flagged for scope %s; flagging it for %s",
            run_id,
            flagged.stored,
            scope.stored,
            extra=fields(stage="report", run_id=run_id, scope=scope.stored),
        )
        flag(db, config, run_id, scope)
    return run_id


@dataclass
class _Tally:
    """One file's rows: every row read is accepted or rejected, never lost."""

    read: int = 0
    rejected: int = 0
    skipped: bool = False
    # Whether two accepted rows may share a key (pipeline/keys.py).
    may_repeat: bool = True


@dataclass
class _Staged:
    """One export after reading: its rows staged (as the load's `position`-th file), or
    skipped."""

    raw: RawInput
    earlier: loaded.History
    tally: _Tally
    position: int


def _stage_input(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    raw: RawInput,
    position: int,
    before: list[_Staged],
    staging: Staging,
    config: Config,
    timer: StageTimer,
) -> _Staged:
    """Stage one export, or skip it when the store (or an earlier file of this run)
    already holds exactly this content: then no row is read, and the file still brings
    its claims to the run's scope."""
    earlier = _history(con, run_id, raw, before)
    note = earlier.note(str(raw.path))
    if note:
        log.info(
            "load: %s: %s",
            raw.path,
            note,
            extra=fields(
                stage="load",
                file=str(raw.path),
                skipped=earlier.skipped,
                loaded_in_run=earlier.loaded_in_run,
                previous_version_run=earlier.previous_version_run,
            ),
        )
    if earlier.skipped:
        return _Staged(raw, earlier, _Tally(skipped=True), position)
    tally = _read_input(run_id, raw, position, staging, config, timer)
    return _Staged(raw, earlier, tally, position)


def _history(
    con: duckdb.DuckDBPyConnection, run_id: str, raw: RawInput, before: list[_Staged]
) -> loaded.History:
    """What earlier loads mean for the export; a copy of a file this run already read
    is skipped as loaded by this run."""
    if any(
        s.raw.kind is raw.kind and s.raw.checksum == raw.checksum and not s.tally.skipped
        for s in before
    ):
        return loaded.History(loaded_in_run=run_id, previous_version_run=None)
    return loaded.history(con, raw)


def _read_input(
    run_id: str,
    raw: RawInput,
    position: int,
    staging: Staging,
    config: Config,
    timer: StageTimer,
) -> _Tally:
    """Validate one export batch by batch into its staging files."""
    kind = raw.kind
    tally = _Tally()
    shown = progress.FileProgress(f"load: {kind.name} {raw.path.name}", raw.path)
    shown.read(0)
    batches = read_batches(raw, config.store["batch_rows"], staging.spill(position))
    keys = KeyHashes(kind)
    while True:
        with timer.stage(f"load: read {kind.name}"):
            batch = next(batches, None)
        if batch is None:
            break
        with timer.stage(f"load: validate {kind.name}"):
            item = validate(raw, batch)
            keys.add(item.accepted)
        with timer.stage(f"load: stage {kind.name}"):
            staging.add_rows(position, item.accepted)
            staging.add_rejects(run_id, item.rejects)
        tally.read += item.rows_read
        tally.rejected += item.rows_rejected
        shown.read(tally.read)
    with timer.stage(f"load: validate {kind.name}"):
        tally.may_repeat = keys.may_repeat()
    return tally


def _store_input(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    item: _Staged,
    staging: Staging,
    timer: StageTimer,
) -> _Tally:
    """Store one staged export whole; the caller owns the transaction."""
    raw, tally = item.raw, item.tally
    counts = store.LoadCounts(new=0, changed=0)
    if not tally.skipped:
        kind, source = raw.kind, str(raw.path)
        progress.show(f"load: {kind.name} {raw.path.name}: storing {tally.read:,} rows")
        with timer.stage(f"load: store {kind.name}"):
            staged = staging.rows(item.position)
            tally.rejected += store.keep_first_of_keys(
                con, staged, kind, source, run_id, may_repeat=tally.may_repeat
            )
            target = "claim_lines" if kind is CLAIMS else "time_segments"
            counts = store.upsert(con, store.KEPT, target, kind.key, run_id)
            store.record_input_scope(con, store.KEPT, raw.checksum, with_claims=kind is CLAIMS)
            store.forget_kept(con)
    _record_input(con, run_id, raw, tally, counts, item.earlier)
    return tally


def _record_input(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    raw: RawInput,
    tally: _Tally,
    counts: store.LoadCounts,
    earlier: loaded.History,
) -> None:
    con.execute(
        "INSERT INTO run_inputs (run_id, kind, source_file, checksum, rows_read, rows_accepted, "
        "rows_rejected, rows_new, rows_changed, status, loaded_in_run, previous_version_run) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            run_id,
            raw.kind.name,
            str(raw.path),
            raw.checksum,
            tally.read,
            tally.read - tally.rejected,
            tally.rejected,
            counts.new,
            counts.changed,
            loaded.SKIPPED if tally.skipped else loaded.LOADED,
            earlier.loaded_in_run,
            earlier.previous_version_run,
        ],
    )


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
