"""The DuckDB store across runs: idempotent loads, replacements and voids, stable
finding ids, and the stages run as separate jobs."""

from __future__ import annotations

import json
import subprocess
import sys

import duckdb
import polars as pl

from pipeline import store
from pipeline.cli import main
from pipeline.scope import ALL, Scope
from pipeline.staging import Staging
from tests.conftest import back_to_back, claim, segment, write_csv

SEGMENTS = back_to_back(("97110", 23), ("97140", 15))
OVERBILLED = [claim("97110", 3), claim("97140", 1, line=2)]


def count(db, table: str) -> int:
    with duckdb.connect(str(db)) as con:
        return con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]


def test_loading_the_same_exports_twice_adds_nothing_and_finds_the_same(tmp_path, cli):
    claims = write_csv(tmp_path / "c.csv", OVERBILLED)
    timelogs = write_csv(tmp_path / "t.csv", SEGMENTS)
    first = cli([claims], [timelogs])
    first_ids, first_run = first.findings["finding_id"].to_list(), first.summary["run_id"]
    lines, segments = count(first.db, "claim_lines"), count(first.db, "time_segments")
    second = cli([claims], [timelogs])
    assert (count(second.db, "claim_lines"), count(second.db, "time_segments")) == (
        lines,
        segments,
    )
    assert second.findings["finding_id"].to_list() == first_ids
    assert [i["rows_new"] for i in second.summary["inputs"]] == [0, 0]
    assert second.summary["run_id"] != first_run


def test_a_changed_line_is_updated_not_duplicated(tmp_path, cli):
    timelogs = write_csv(tmp_path / "t.csv", SEGMENTS)
    cli([write_csv(tmp_path / "c.csv", OVERBILLED)], [timelogs])
    corrected = [claim("97110", 2), claim("97140", 1, line=2)]
    outputs = cli([write_csv(tmp_path / "c.csv", corrected)], [timelogs])
    assert count(outputs.db, "claim_lines") == 2
    (claims_input,) = [i for i in outputs.summary["inputs"] if i["kind"] == "claims"]
    assert (claims_input["rows_new"], claims_input["rows_changed"]) == (0, 1)
    assert outputs.findings.is_empty()


def test_each_loads_new_rows_are_stored_in_patient_order(tmp_path, cli):
    """Flag reads a large store a range of patient ids at a time: rows stored in patient
    order let DuckDB skip the row groups outside the range."""
    first = [
        claim("97110", 1, claim_id=f"C{n}", patient=p) for n, p in enumerate(["P3", "P1", "P2"])
    ]
    segments = [segment("97110", 15, patient=p) for p in ("P2", "P3", "P1")]
    timelogs = write_csv(tmp_path / "t.csv", segments)
    cli([write_csv(tmp_path / "c.csv", first)], [timelogs])
    # A later export with the same lines and two new ones: only those are added.
    later = [*first, claim("97110", 1, claim_id="C8", patient="P5")]
    later.append(claim("97110", 1, claim_id="C9", patient="P0"))
    outputs = cli([write_csv(tmp_path / "c2.csv", later)], [timelogs])
    with duckdb.connect(str(outputs.db)) as con:
        stored = {
            table: [p for (p,) in con.execute(f"SELECT patient_id FROM {table}").fetchall()]
            for table in ("claim_lines", "time_segments")
        }
    assert stored == {
        "claim_lines": ["P1", "P2", "P3", "P0", "P5"],
        "time_segments": ["P1", "P2", "P3"],
    }


def test_a_replacement_claim_supersedes_the_original(tmp_path, cli):
    timelogs = write_csv(tmp_path / "t.csv", SEGMENTS)
    cli([write_csv(tmp_path / "day1.csv", OVERBILLED)], [timelogs])
    replacement = [claim("97110", 2, frequency="7"), claim("97140", 1, line=2, frequency="7")]
    outputs = cli([write_csv(tmp_path / "day2.csv", replacement)], [timelogs])
    assert outputs.findings.is_empty()
    assert count(outputs.db, "claim_lines") == 4, "the original stays in history"
    assert count(outputs.db, "audited_claim_lines") == 2


def test_a_replacement_in_the_same_file_wins_over_the_original(tmp_path, cli):
    replacement = [claim("97110", 2, frequency="7"), claim("97140", 1, line=2, frequency="7")]
    claims = write_csv(tmp_path / "c.csv", OVERBILLED + replacement)
    outputs = cli([claims], [write_csv(tmp_path / "t.csv", SEGMENTS)])
    assert outputs.rejects.is_empty()
    assert outputs.findings.is_empty()


def test_a_void_takes_the_claim_out_of_auditing(tmp_path, cli):
    timelogs = write_csv(tmp_path / "t.csv", SEGMENTS)
    first = cli([write_csv(tmp_path / "day1.csv", OVERBILLED)], [timelogs])
    assert not first.findings.is_empty()
    void = [claim("97110", 3, frequency="8"), claim("97140", 1, line=2, frequency="8")]
    outputs = cli([write_csv(tmp_path / "day2.csv", void)], [timelogs])
    assert outputs.findings.is_empty()
    assert count(outputs.db, "audited_claim_lines") == 0


def test_a_run_reports_its_own_claims_with_the_store_as_context(tmp_path, cli):
    timelogs = write_csv(
        tmp_path / "t.csv", [*SEGMENTS, segment("97110", 30, patient="P2", start="09:00")]
    )
    cli([write_csv(tmp_path / "day1.csv", OVERBILLED)], [timelogs])
    other = [claim("97110", 2, claim_id="C2", patient="P2")]
    outputs = cli([write_csv(tmp_path / "day2.csv", other)], [timelogs])
    # C1's finding belongs to the first run; this run's claim C2 is clean.
    assert outputs.findings.is_empty()
    assert outputs.summary["audited"]["claims"] == 1


def test_a_run_reads_the_whole_store_as_its_lines_only_when_it_loaded_every_one(tmp_path, cli):
    """Scope.lines_run: a first load's files hold every stored claim, so its lines are
    the store's; once another run has loaded lines, each run keeps to its own claims,
    the first one too when it is reported again."""
    timelogs = write_csv(
        tmp_path / "t.csv", [*SEGMENTS, segment("97110", 30, patient="P2", start="09:00")]
    )
    first = cli([write_csv(tmp_path / "day1.csv", OVERBILLED)], [timelogs])
    first_run = first.summary["run_id"]
    with duckdb.connect(str(first.db)) as con:
        assert Scope().lines_run(con, first_run) is None
    assert first.summary["audited"]["claims"] == 1
    assert first.summary["audited"]["claim_lines"] == 2

    other = [claim("97110", 2, claim_id="C2", patient="P2")]
    second = cli([write_csv(tmp_path / "day2.csv", other)], [timelogs])
    with duckdb.connect(str(second.db)) as con:
        assert Scope().lines_run(con, first_run) == first_run
        assert Scope().lines_run(con, second.summary["run_id"]) == second.summary["run_id"]
        assert Scope(ALL).lines_run(con, first_run) == first_run
    assert second.summary["audited"]["claim_lines"] == 1
    again = main(["report", "--db", str(second.db), "--run-id", first_run, "--out",
                  str(tmp_path / "again"), "--quiet"])  # fmt: skip
    assert again == 0
    summary = json.loads((tmp_path / "again" / "summary.json").read_text())
    assert (summary["audited"]["claims"], summary["audited"]["claim_lines"]) == (1, 2)


def test_a_runs_scope_holds_each_of_its_claims_once(tmp_path, cli):
    """Each file's claims are kept once (a claim has several lines); a run's scope is
    copied from its one claims file as it is, and made distinct across several."""
    timelogs = write_csv(tmp_path / "t.csv", SEGMENTS)
    first_run = cli([write_csv(tmp_path / "one.csv", OVERBILLED)], [timelogs]).summary["run_id"]
    second = [claim("97140", 1, line=2, claim_id="C2"), claim("97112", 1, claim_id="C3")]
    split = [
        write_csv(tmp_path / "a.csv", [claim("97110", 3, claim_id="C2")]),
        write_csv(tmp_path / "b.csv", second),
    ]
    two = cli(split, [timelogs])
    with duckdb.connect(str(two.db)) as con:
        scopes = con.execute(
            "SELECT run_id, list_sort(list(claim_id)) FROM run_scope_claims GROUP BY run_id"
        ).fetchall()
    assert dict(scopes) == {
        first_run: ["C1"],
        two.summary["run_id"]: ["C2", "C3"],
    }


def test_a_runs_lines_in_force_are_the_audited_lines_of_its_claims(tmp_path, cli):
    """claim_lines_in_force(run) picks the run's claims first, then their versions: the
    same rows as the store's audited lines of those claims, after a replacement and a
    void that came in a later run."""
    timelogs = write_csv(tmp_path / "t.csv", SEGMENTS)
    night1 = [*OVERBILLED, claim("97110", 2, claim_id="C2"), claim("97140", 1, claim_id="C3")]
    night2 = [
        claim("97110", 2, frequency="7"),
        claim("97110", 2, claim_id="C2", frequency="8"),
        claim("97112", 1, claim_id="C4"),
    ]
    cli([write_csv(tmp_path / "night1.csv", night1)], [timelogs])
    outputs = cli([write_csv(tmp_path / "night2.csv", night2)], [timelogs])
    assert outputs.summary["audited"]["claims"] == 2  # C1 as replaced, and C4
    assert outputs.summary["audited"]["claim_lines"] == 2
    with duckdb.connect(str(outputs.db)) as con:
        for (run_id,) in con.execute("SELECT run_id FROM runs").fetchall():
            scoped, picked = (
                con.execute(f"{sql} ORDER BY ALL", {"run_id": run_id}).fetchall()
                for sql in (
                    "FROM claim_lines_in_force($run_id)",
                    "FROM audited_claim_lines WHERE claim_id IN "
                    "(SELECT claim_id FROM run_scope_claims WHERE run_id = $run_id)",
                )
            )
            assert scoped == picked and scoped


def test_stages_run_as_separate_jobs_through_the_store(tmp_path):
    claims = write_csv(tmp_path / "c.csv", OVERBILLED)
    timelogs = write_csv(tmp_path / "t.csv", SEGMENTS)
    db, out = str(tmp_path / "s.duckdb"), str(tmp_path / "out")
    base = ["--db", db, "--quiet"]
    assert main(["load", "--claims", str(claims), "--timelogs", str(timelogs), *base]) == 0
    assert main(["flag", *base]) == 0
    assert main(["report", "--out", out, *base]) == 0
    assert (tmp_path / "out" / "findings.csv").read_text().count("UNITS_OVERBILLED") == 1


def test_flag_before_any_load_exits_2(tmp_path, capsys):
    assert main(["flag", "--db", str(tmp_path / "none.duckdb")]) == 2
    assert "no store here" in capsys.readouterr().err


def test_staged_batches_are_all_readable_inside_the_load_transaction(tmp_path):
    """More than one DuckDB row group (122,880 rows) per batch, two batches and an empty
    one, read back in one transaction: every staged row, as the load relies on; and
    the next opening of the store removes what a killed load staged."""
    rows = 130_000
    batch = pl.DataFrame({"claim_id": [f"C{i}" for i in range(rows)], "row_number": range(rows)})
    db = tmp_path / "store.duckdb"
    con = store.connect(db)
    staging = Staging(db)
    staging.add_rows(0, batch)
    staging.add_rows(0, batch.clear())
    staging.add_rows(0, batch.with_columns(pl.col("row_number") + rows))
    try:
        con.execute("BEGIN TRANSACTION")
        read_back = store.first_row(
            con,
            f"SELECT count(DISTINCT row_number), count(DISTINCT claim_id) FROM {staging.rows(0)}",
        )
        con.execute("ROLLBACK")
    finally:
        con.close()
    assert read_back == (2 * rows, rows)
    assert staging.folder.is_dir()
    store.connect(db).close()
    assert not staging.folder.exists()


def test_staging_tables_a_killed_load_of_an_earlier_version_left_are_dropped(tmp_path):
    """Loads once staged their rows in tables of the store; a store one of them was
    killed in loses those tables when it is next opened, and nothing else."""
    db = tmp_path / "store.duckdb"
    store.connect(db).close()
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE TABLE staged_rows_0 (claim_id VARCHAR)")
        con.execute("CREATE TABLE staged_rejects (run_id VARCHAR)")
    store.connect(db).close()
    with duckdb.connect(str(db)) as con:
        rows = con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
    tables = {table for (table,) in rows}
    assert not {"staged_rows_0", "staged_rejects"} & tables
    assert {"claim_lines", "time_segments", "rejects"} <= tables


def test_the_scratch_file_a_killed_flag_of_an_earlier_version_left_is_removed(tmp_path):
    """Flag once built a large store's derived tables in `<db>.work`; opening the store
    removes the file (and its write-ahead log) a killed flag left."""
    db = tmp_path / "store.duckdb"
    left = [tmp_path / "store.duckdb.work", tmp_path / "store.duckdb.work.wal"]
    for path in left:
        path.write_bytes(b"scratch")
    store.connect(db).close()
    assert not any(path.exists() for path in left)
    assert db.is_file()


def test_a_store_from_before_rows_were_compared_by_column_still_loads(tmp_path, cli):
    """Stores written by earlier versions carry a content-hash column the load no
    longer fills; opening the store drops it, so the next run loads normally."""
    db = tmp_path / "store.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute(
            "CREATE TABLE time_segments (patient_id VARCHAR NOT NULL, provider_npi VARCHAR "
            "NOT NULL, provider_role VARCHAR NOT NULL, service_date DATE NOT NULL, cpt_code "
            "VARCHAR NOT NULL, start_time TIMESTAMP NOT NULL, end_time TIMESTAMP NOT NULL, "
            "duration_seconds BIGINT NOT NULL, session_id VARCHAR, note_type VARCHAR, "
            "content_hash VARCHAR NOT NULL, loaded_run_id VARCHAR NOT NULL)"
        )
    outputs = cli(
        [write_csv(tmp_path / "c.csv", OVERBILLED)], [write_csv(tmp_path / "t.csv", SEGMENTS)]
    )
    assert outputs.exit_code == 0
    assert count(db, "time_segments") == len(SEGMENTS)


def test_a_second_run_on_a_store_in_use_exits_2_and_says_so(tmp_path, cli, capsys):
    """DuckDB lets one process write a store file; a second run stops at once, exit 2."""
    db = tmp_path / "store.duckdb"
    duckdb.connect(str(db)).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, sys; c = duckdb.connect({str(db)!r}); "
            "print('held', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        outputs = cli(
            [write_csv(tmp_path / "c.csv", OVERBILLED)], [write_csv(tmp_path / "t.csv", SEGMENTS)]
        )
    finally:
        holder.communicate("")
    assert outputs.exit_code == 2
    assert "the store cannot be opened" in capsys.readouterr().err
