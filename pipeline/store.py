"""Store: the DuckDB file that keeps every accepted claim line and time segment.

History across nightly runs lives here: later rules count visits and running totals
over months. Loading is idempotent (the same rows again add nothing) and a whole load
is one transaction, so a failed or killed load leaves the store as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from pipeline.errors import UsageError

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY,
    started_at TIMESTAMP NOT NULL,
    loaded_at TIMESTAMP,
    flagged_at TIMESTAMP,
    config_source VARCHAR
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
    rows_changed BIGINT NOT NULL
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
    content_hash VARCHAR NOT NULL,
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
    content_hash VARCHAR NOT NULL,
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
-- What a run reports on: the claims and patient-days of the files given to it.
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

-- The claim lines that are audited. A void (frequency 8) takes a claim out; a
-- replacement (7) supersedes every original line of the same claim id. Neither
-- deletes anything: history stays in claim_lines.
CREATE OR REPLACE VIEW audited_claim_lines AS
WITH claim_precedence AS (
    SELECT
        claim_id,
        MAX(CASE claim_frequency WHEN '8' THEN 3 WHEN '7' THEN 2 ELSE 1 END) AS precedence
    FROM claim_lines
    GROUP BY claim_id
)
SELECT lines.*
FROM claim_lines AS lines
JOIN claim_precedence AS p USING (claim_id)
WHERE CASE lines.claim_frequency WHEN '8' THEN 3 WHEN '7' THEN 2 ELSE 1 END = p.precedence
    AND lines.claim_frequency <> '8';
"""

CLAIM_KEY = ("claim_id", "claim_frequency", "line_number")
SEGMENT_KEY = ("patient_id", "provider_npi", "cpt_code", "start_time", "end_time")


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
    return con


def upsert(
    con: duckdb.DuckDBPyConnection,
    table: str,
    rows: pl.DataFrame,
    key: tuple[str, ...],
    run_id: str,
) -> LoadCounts:
    """Add rows whose key is new; update rows whose key is known but content differs.

    A row identical to the stored one is left alone, so loading an export twice adds
    nothing. The caller owns the transaction.
    """
    columns = [c for c in rows.columns if c not in ("source_file", "row_number")]
    content = [c for c in columns if c not in key]
    hashed = ", ".join(f"coalesce(CAST({c} AS VARCHAR), '')" for c in content)
    content_hash = f"md5(concat_ws('|', {hashed}))"
    con.register("incoming_rows", rows)
    try:
        if not _holds_any_key(con, table, key):
            # Every row is new (a first load, or a new period): nothing to compare or
            # update, so the rows go from the frame into the table in one pass.
            new = con.execute(
                f"""
                INSERT INTO {table} ({", ".join(columns)}, content_hash, loaded_run_id)
                SELECT {", ".join(columns)}, {content_hash}, $run_id FROM incoming_rows
                """,
                {"run_id": run_id},
            ).fetchall()[0][0]
            return LoadCounts(new=new, changed=0)
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE incoming AS
            SELECT {", ".join(columns)}, {content_hash} AS content_hash
            FROM incoming_rows
            """
        )
    finally:
        con.unregister("incoming_rows")
    on = " AND ".join(f"t.{c} = i.{c}" for c in key)
    changed = con.execute(
        f"SELECT count(*) FROM incoming i JOIN {table} t ON {on} "
        "WHERE t.content_hash <> i.content_hash"
    ).fetchall()[0][0]
    if changed:
        assignments = ", ".join(f"{c} = i.{c}" for c in [*content, "content_hash"])
        con.execute(
            f"UPDATE {table} AS t SET {assignments}, loaded_run_id = $run_id "
            f"FROM incoming AS i WHERE {on} AND t.content_hash <> i.content_hash",
            {"run_id": run_id},
        )
    new = con.execute(
        f"""
        INSERT INTO {table} ({", ".join(columns)}, content_hash, loaded_run_id)
        SELECT i.*, $run_id FROM incoming i
        WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE {on})
        """,
        {"run_id": run_id},
    ).fetchall()[0][0]
    return LoadCounts(new=new, changed=changed)


def _holds_any_key(con: duckdb.DuckDBPyConnection, table: str, key: tuple[str, ...]) -> bool:
    """Whether the table already holds a key of the registered incoming rows."""
    if first_row(con, f"SELECT 1 FROM {table} LIMIT 1") is None:
        return False
    on = " AND ".join(f"t.{c} = i.{c}" for c in key)
    return (
        first_row(con, f"SELECT 1 FROM incoming_rows AS i JOIN {table} AS t ON {on} LIMIT 1")
        is not None
    )


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
