"""Store: the DuckDB file that keeps every accepted claim line and time segment.

History across nightly runs lives here: later rules count visits and running totals
over months. Loading is idempotent (the same rows again add nothing) and a load changes
the store's tables in one transaction, so a failed or killed load leaves them as they
were (its staging folder, pipeline/staging.py, is removed when the store is next opened).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl

from pipeline.catalog import bind
from pipeline.columns import CLAIMS, InputKind
from pipeline.errors import UsageError
from pipeline.staging import Staging

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY,
    started_at TIMESTAMP NOT NULL,
    loaded_at TIMESTAMP,
    flagged_at TIMESTAMP,
    config_source VARCHAR,
    -- what the findings cover (pipeline/scope.py): inputs, since YYYY-MM-DD, all
    scope VARCHAR
);
CREATE TABLE IF NOT EXISTS run_inputs (
    run_id VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    source_file VARCHAR NOT NULL,
    checksum VARCHAR NOT NULL,
    rows_read BIGINT NOT NULL,
    rows_accepted BIGINT NOT NULL,
    rows_rejected BIGINT NOT NULL,
    rows_new BIGINT NOT NULL,
    rows_changed BIGINT NOT NULL,
    -- loaded, or skipped (the same content was loaded before, in loaded_in_run)
    status VARCHAR,
    loaded_in_run VARCHAR,
    -- a loaded file whose path an earlier run loaded with other content
    previous_version_run VARCHAR
);
CREATE TABLE IF NOT EXISTS claim_lines (
    claim_id VARCHAR NOT NULL,
    claim_frequency VARCHAR NOT NULL,
    line_number INTEGER NOT NULL,
    patient_id VARCHAR NOT NULL,
    payer VARCHAR NOT NULL,
    rendering_npi VARCHAR NOT NULL,
    service_date DATE NOT NULL,
    cpt_code VARCHAR NOT NULL,
    modifiers VARCHAR,
    modifier_1 VARCHAR,
    modifier_2 VARCHAR,
    modifier_3 VARCHAR,
    modifier_4 VARCHAR,
    units INTEGER NOT NULL,
    charge DECIMAL(12, 2),
    diagnosis_codes VARCHAR,
    place_of_service VARCHAR,
    loaded_run_id VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS time_segments (
    patient_id VARCHAR NOT NULL,
    provider_npi VARCHAR NOT NULL,
    provider_role VARCHAR NOT NULL,
    service_date DATE NOT NULL,
    cpt_code VARCHAR NOT NULL,
    start_time TIMESTAMP NOT NULL,
    end_time TIMESTAMP NOT NULL,
    duration_seconds BIGINT NOT NULL,
    session_id VARCHAR,
    note_type VARCHAR,
    loaded_run_id VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS rejects (
    run_id VARCHAR NOT NULL,
    source_file VARCHAR,
    row_number BIGINT,
    "column" VARCHAR,
    value VARCHAR,
    reason VARCHAR
);
-- The claims and patient-days each loaded file holds, by its checksum: a file loaded
-- before and skipped still brings them to the scope of the run it is given to.
CREATE TABLE IF NOT EXISTS input_scope_claims (
    checksum VARCHAR NOT NULL,
    claim_id VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS input_scope_days (
    checksum VARCHAR NOT NULL,
    patient_id VARCHAR NOT NULL,
    service_date DATE NOT NULL
);
-- What a run reports on: by default the claims and patient-days of the files given to
-- it (the union of their input scopes), or the wider scope flag was asked for.
CREATE TABLE IF NOT EXISTS run_scope_claims (run_id VARCHAR NOT NULL, claim_id VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS run_scope_days (
    run_id VARCHAR NOT NULL,
    patient_id VARCHAR NOT NULL,
    service_date DATE NOT NULL
);
CREATE TABLE IF NOT EXISTS findings (
    run_id VARCHAR NOT NULL,
    finding_id VARCHAR NOT NULL,
    rule_id VARCHAR NOT NULL,
    severity VARCHAR NOT NULL,
    patient_id VARCHAR,
    provider_npi VARCHAR,
    service_date DATE,
    claim_id VARCHAR,
    line_number INTEGER,
    cpt_code VARCHAR,
    units_billed INTEGER,
    units_supported INTEGER,
    amount_at_risk DECIMAL(12, 2),
    message VARCHAR NOT NULL,
    payer VARCHAR,
    units_at_risk INTEGER
);
CREATE TABLE IF NOT EXISTS rule_results (
    run_id VARCHAR NOT NULL,
    rule_id VARCHAR NOT NULL,
    status VARCHAR NOT NULL,
    findings BIGINT NOT NULL,
    amount_at_risk DECIMAL(14, 2) NOT NULL,
    note VARCHAR
);
CREATE TABLE IF NOT EXISTS run_timings (
    run_id VARCHAR NOT NULL,
    stage VARCHAR NOT NULL,
    seconds DOUBLE NOT NULL
);
CREATE TABLE IF NOT EXISTS run_reference (
    run_id VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    checksum VARCHAR NOT NULL
);

-- Stores written before rows were compared column by column carry a content hash.
ALTER TABLE claim_lines DROP COLUMN IF EXISTS content_hash;
ALTER TABLE time_segments DROP COLUMN IF EXISTS content_hash;
-- Stores written before inputs were checked against earlier loads: their inputs keep a
-- NULL status (loaded, but with no input scope recorded, so never skipped).
ALTER TABLE run_inputs ADD COLUMN IF NOT EXISTS status VARCHAR;
ALTER TABLE run_inputs ADD COLUMN IF NOT EXISTS loaded_in_run VARCHAR;
ALTER TABLE run_inputs ADD COLUMN IF NOT EXISTS previous_version_run VARCHAR;
-- ... and before a run's scope could be chosen (NULL: its files).
ALTER TABLE runs ADD COLUMN IF NOT EXISTS scope VARCHAR;

-- The claim lines that are audited. A void (frequency 8) takes a claim out; a
-- replacement (7) supersedes every original line of the same claim id. Neither
-- deletes anything: history stays in claim_lines. Only amended claims have versions
-- to rank ('8' > '7' > '1' as text), so the view is one filtered scan of claim_lines
-- joined to that short list, cheap enough to read once per share of patients when the
-- derived tables are built (pipeline/shares.py).
-- Of a run's scope claims only (scope_run_id; NULL: every claim): a claim's versions
-- share its id, so the claims are picked first, which costs a night's report a fraction
-- of working out the whole store's lines and then picking. (lines is not materialized:
-- DuckDB would otherwise write the whole store's lines once to read them twice.)
CREATE OR REPLACE MACRO claim_lines_in_force(scope_run_id) AS TABLE
WITH lines AS NOT MATERIALIZED (
    SELECT *
    FROM claim_lines
    WHERE scope_run_id IS NULL
        OR claim_id IN (SELECT claim_id FROM run_scope_claims WHERE run_id = scope_run_id)
),
amended_claims AS (
    SELECT claim_id, MAX(claim_frequency) AS latest_frequency
    FROM lines
    WHERE claim_frequency IN ('7', '8')
    GROUP BY claim_id
)
SELECT lines.*
FROM lines
LEFT JOIN amended_claims AS amended USING (claim_id)
WHERE lines.claim_frequency <> '8'
    AND (amended.latest_frequency IS NULL OR lines.claim_frequency = amended.latest_frequency);
CREATE OR REPLACE VIEW audited_claim_lines AS FROM claim_lines_in_force(NULL);
"""

# Before staging moved to Parquet files (pipeline/staging.py), a load staged its rows in
# tables of the store named so; a store such a load was killed in still holds them.
OLD_STAGING_PREFIX = "staged_"
# Before the rules ran a share of patients at a time in memory (pipeline/shares.py), flag
# built a large store's derived tables in a scratch database beside it; a killed flag
# left it behind.
OLD_SCRATCH_SUFFIXES = (".work", ".work.wal")
# The rows of a staged file that are stored: all but those repeating an earlier key.
KEPT = "kept_rows"


@dataclass(frozen=True)
class LoadCounts:
    new: int
    changed: int


def connect(path: Path, memory_limit: str | None = None) -> duckdb.DuckDBPyConnection:
    """Open (or create) the store. A store held by another run is a usage error."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path))
    except duckdb.IOException as exc:
        raise UsageError(
            f"{path}: the store cannot be opened ({exc}); is another run using it?"
        ) from None
    if memory_limit:
        con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute(SCHEMA)
    _drop_old_staging_tables(con)
    Staging(path).clear()
    for suffix in OLD_SCRATCH_SUFFIXES:
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return con


def _drop_old_staging_tables(con: duckdb.DuckDBPyConnection) -> None:
    tables = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
        "AND NOT temporary AND starts_with(table_name, $prefix)",
        {"prefix": OLD_STAGING_PREFIX},
    ).fetchall()
    for (table,) in tables:
        con.execute(f'DROP TABLE "{table}"')


def keep_rejects(con: duckdb.DuckDBPyConnection, staging: Staging) -> None:
    """The staged rejects into the store's; the caller owns the transaction."""
    staged = staging.rejects()
    if staged:
        con.execute(f"INSERT INTO rejects SELECT * FROM {staged}")


def record_input_scope(
    con: duckdb.DuckDBPyConnection, staged: str, checksum: str, *, with_claims: bool
) -> None:
    """The staged file's claims and patient-days, kept under its checksum."""
    params = {"checksum": checksum}
    con.execute("DELETE FROM input_scope_claims WHERE checksum = $checksum", params)
    con.execute("DELETE FROM input_scope_days WHERE checksum = $checksum", params)
    if with_claims:
        con.execute(
            f"INSERT INTO input_scope_claims SELECT DISTINCT $checksum, claim_id FROM {staged}",
            params,
        )
    con.execute(
        "INSERT INTO input_scope_days "
        f"SELECT DISTINCT $checksum, patient_id, service_date FROM {staged}",
        params,
    )


# The claims and patient-days of a run's input files (their input scopes); $run_id.
INPUT_SCOPE_CLAIMS = (
    "SELECT claim_id FROM input_scope_claims "
    "WHERE checksum IN (SELECT checksum FROM run_inputs WHERE run_id = $run_id)"
)
INPUT_SCOPE_DAYS = (
    "SELECT patient_id, service_date FROM input_scope_days "
    "WHERE checksum IN (SELECT checksum FROM run_inputs WHERE run_id = $run_id)"
)


def write_scope(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    claims: str,
    days: str,
    params: dict[str, object],
    *,
    claims_distinct: bool = False,
) -> None:
    """Make the run's scope rows those of two SELECTs, of claim ids (`claims_distinct`
    when it gives each claim once) and of patient-days (patient_id, service_date), with
    `params` and $run_id to bind; the caller owns the transaction."""
    params = {**params, "run_id": run_id}
    distinct = "" if claims_distinct else "DISTINCT"
    for statement in (
        "DELETE FROM run_scope_claims WHERE run_id = $run_id",
        "DELETE FROM run_scope_days WHERE run_id = $run_id",
        f"INSERT INTO run_scope_claims SELECT {distinct} $run_id, claim_id FROM ({claims})",
        "INSERT INTO run_scope_days "
        f"SELECT DISTINCT $run_id, patient_id, service_date FROM ({days})",
    ):
        con.execute(statement, bind(statement, params, "run scope"))


def scope_of_inputs(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    """The run's scope: the union of its input files' scopes, skipped files included.
    A file's claims are each kept once, so those of a run with one claims file (most
    runs) need no DISTINCT: 1 s of a first load of 10M lines."""
    (claims_files,) = first_row(
        con,
        "SELECT count(DISTINCT checksum) FROM run_inputs WHERE run_id = $run_id AND kind = $claims",
        {"run_id": run_id, "claims": CLAIMS.name},
    )
    write_scope(
        con, run_id, INPUT_SCOPE_CLAIMS, INPUT_SCOPE_DAYS, {}, claims_distinct=claims_files <= 1
    )


def utc_now() -> datetime:
    """A timestamp for the store: UTC, without a zone (DuckDB's TIMESTAMP), from the
    clock (DuckDB's now() is when the transaction began)."""
    return datetime.now(UTC).replace(tzinfo=None)


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """One transaction: committed whole, or rolled back on any error (the connection
    is then free for what comes after, such as detaching a database)."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def keep_first_of_keys(
    con: duckdb.DuckDBPyConnection,
    staged: str,
    kind: InputKind,
    source_file: str,
    run_id: str,
    *,
    may_repeat: bool,
) -> int:
    """Reject every staged row whose key an earlier row of the same file holds; the
    rows kept become the temporary view KEPT. Returns the rows rejected.

    The first row of a key is kept. Only keys seen more than once are joined back,
    so the cost is one aggregation over the file, spared when the file's key hashes
    say no key repeats (`may_repeat`, pipeline/keys.py).
    """
    repeated = _reject_repeated_keys(con, staged, kind, source_file, run_id) if may_repeat else 0
    kept = (
        f"SELECT * FROM {staged} WHERE row_number NOT IN (SELECT row_number FROM repeated_rows)"
        if repeated
        else f"SELECT * FROM {staged}"
    )
    con.execute(f"CREATE OR REPLACE TEMP VIEW {KEPT} AS {kept}")
    return repeated


def _reject_repeated_keys(
    con: duckdb.DuckDBPyConnection, staged: str, kind: InputKind, source_file: str, run_id: str
) -> int:
    """The staged rows after the first of their key, as rejects and as the temporary
    table repeated_rows; returns how many."""
    key = ", ".join(kind.key)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE repeated_rows AS
        WITH repeated_keys AS (
            SELECT {key}, min(row_number) AS first_row
            FROM {staged} GROUP BY ALL HAVING count(*) > 1
        )
        SELECT s.row_number, CAST(s.{kind.repeat_column} AS VARCHAR) AS value
        FROM {staged} AS s JOIN repeated_keys AS r USING ({key})
        WHERE s.row_number > r.first_row
        """
    )
    return con.execute(
        "INSERT INTO rejects SELECT $run_id, $source_file, row_number, $column, value, $reason "
        "FROM repeated_rows",
        {
            "run_id": run_id,
            "source_file": source_file,
            "column": kind.repeat_column,
            "reason": kind.repeat_reason,
        },
    ).fetchall()[0][0]


def forget_kept(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"DROP VIEW IF EXISTS {KEPT}")
    con.execute("DROP TABLE IF EXISTS repeated_rows")


def upsert(
    con: duckdb.DuckDBPyConnection, staged: str, table: str, key: tuple[str, ...], run_id: str
) -> LoadCounts:
    """Add the staged rows whose key is new; update those whose key is known but whose
    content differs.

    A row identical to the stored one is left alone, so loading an export twice adds
    nothing. New rows are stored in patient order: flag reads the store a range of
    patient ids at a time (pipeline/shares.py), and DuckDB then skips the row groups
    outside the range. The caller owns the transaction.
    """
    columns = [name for name, *_ in con.execute(f"DESCRIBE {staged}").fetchall()]
    columns.remove("row_number")
    listed = ", ".join(columns)
    if not _holds_any_key(con, staged, table, key):
        # Every row is new (a first load, or a new period): nothing to compare.
        new = con.execute(
            f"INSERT INTO {table} ({listed}, loaded_run_id) "
            f"SELECT {listed}, $run_id FROM {staged} ORDER BY patient_id",
            {"run_id": run_id},
        ).fetchall()[0][0]
        return LoadCounts(new=new, changed=0)
    on = " AND ".join(f"t.{c} = i.{c}" for c in key)
    content = [c for c in columns if c not in key]
    differs = " OR ".join(f"t.{c} IS DISTINCT FROM i.{c}" for c in content)
    assignments = ", ".join(f"{c} = i.{c}" for c in content)
    changed = con.execute(
        f"UPDATE {table} AS t SET {assignments}, loaded_run_id = $run_id "
        f"FROM {staged} AS i WHERE {on} AND ({differs})",
        {"run_id": run_id},
    ).fetchall()[0][0]
    new = con.execute(
        f"""
        INSERT INTO {table} ({listed}, loaded_run_id)
        SELECT {listed}, $run_id FROM {staged} AS i
        WHERE NOT EXISTS (SELECT 1 FROM {table} AS t WHERE {on})
        ORDER BY patient_id
        """,
        {"run_id": run_id},
    ).fetchall()[0][0]
    return LoadCounts(new=new, changed=changed)


def _holds_any_key(
    con: duckdb.DuckDBPyConnection, staged: str, table: str, key: tuple[str, ...]
) -> bool:
    """Whether the table already holds a key of the staged rows."""
    if first_row(con, f"SELECT 1 FROM {table} LIMIT 1") is None:
        return False
    on = " AND ".join(f"t.{c} = i.{c}" for c in key)
    overlap = f"SELECT 1 FROM {staged} AS i JOIN {table} AS t ON {on} LIMIT 1"
    return first_row(con, overlap) is not None


# DuckDB 2 refuses new work on a connection while an execute() result is unread, so
# every read goes through one of these two helpers, which always read to the end.
def first_row(
    con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, object] | None = None
) -> tuple | None:
    rows = con.execute(sql, params or {}).fetchall()
    return rows[0] if rows else None


def frame(
    con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, object] | None = None
) -> pl.DataFrame:
    return con.sql(sql, params=params or {}).pl()
