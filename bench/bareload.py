"""The baseline `make bench` compares the audit with: the same exports loaded into a
fresh DuckDB file by DuckDB's own readers, and nothing else.

    python -m bench.bareload --db FILE --claims FILE --timelogs FILE

Runs `CREATE TABLE ... AS SELECT * FROM read_csv(...)` (or `read_parquet`, by the file's
suffix) for each file and prints, as JSON, the rows loaded and the seconds the
statements took inside the process. A CSV is read as text (`all_varchar`), as the
audit reads it: types guessed from a sample fail on the planted bad values (a date
that does not exist) wherever the sample misses them.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import duckdb

READERS = {".csv": "read_csv", ".parquet": "read_parquet"}
OPTIONS = {".csv": ", all_varchar = true", ".parquet": ""}


def load(con: duckdb.DuckDBPyConnection, table: str, path: Path) -> int:
    reader = READERS[path.suffix]
    quoted = str(path).replace("'", "''")
    options = OPTIONS[path.suffix]
    con.execute(f"CREATE TABLE {table} AS SELECT * FROM {reader}('{quoted}'{options})")
    return con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bareload", description=__doc__)
    parser.add_argument("--db", type=Path, required=True, help="a DuckDB file; must not exist")
    parser.add_argument("--claims", type=Path, required=True)
    parser.add_argument("--timelogs", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.db.exists():
        parser.error(f"{args.db} exists: the baseline loads into a fresh file")
    began = time.perf_counter()
    con = duckdb.connect(str(args.db))
    try:
        rows = {"claims": load(con, "claims", args.claims)}
        rows["timelogs"] = load(con, "timelogs", args.timelogs)
    finally:
        con.close()
    print(json.dumps({"seconds": round(time.perf_counter() - began, 3), "rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
