"""A machine out of disk or memory: the run stops with exit code 1 and one line saying
what ran out and that the stage kept nothing, not a traceback; any other error still
ends with its traceback. The errors here are the libraries' own, from writing to
/dev/full (every write fails with ENOSPC) and from a DuckDB held to a few megabytes."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipeline.cli import main
from pipeline.errors import out_of_room
from tests.conftest import SAMPLE

FULL = Path("/dev/full")
OUTPUTS = ("findings.csv", "findings.parquet", "rejects.csv", "summary.json", "report.html")

pytestmark = pytest.mark.skipif(not FULL.exists(), reason="needs /dev/full (Linux)")


def raised(work) -> BaseException:
    with pytest.raises(Exception) as caught:
        work()
    return caught.value


def write_unbuffered() -> None:
    descriptor = os.open(FULL, os.O_WRONLY)
    try:
        os.write(descriptor, b"x")
    finally:
        os.close(descriptor)


def test_a_full_disk_is_told_from_the_error_each_library_raises():
    frame = pl.DataFrame({"claim_id": ["C1"]})
    for error in (
        raised(lambda: duckdb.sql(f"COPY (SELECT 1) TO '{FULL}' (FORMAT csv)")),
        raised(lambda: frame.write_parquet(FULL)),  # polars' ComputeError, no errno
        raised(lambda: frame.write_csv(FULL)),  # OSError without its errno
        raised(write_unbuffered),  # OSError with its errno, ENOSPC
    ):
        message = out_of_room(error)
        assert message is not None, error
        assert message.startswith("the disk is full (") and "No space left on device" in message


def test_duckdb_out_of_memory_is_told_apart_from_other_errors():
    con = duckdb.connect()
    con.execute("SET memory_limit = '20MB'")
    con.execute("SET temp_directory = ''")  # nowhere to spill
    many = "SELECT count(DISTINCT range::VARCHAR || 'padding padding') FROM range(5000000)"
    message = out_of_room(raised(lambda: con.execute(many).fetchall()))
    assert message is not None and message.startswith("DuckDB ran out of memory (Out of Memory")
    assert "[store] memory_limit" in message
    for other in (
        raised(lambda: con.execute("SELECT * FROM no_such_table")),
        raised((FULL.parent / "no such file").read_bytes),
        ValueError("No space here, but not a disk"),
    ):
        assert out_of_room(other) is None, other


def test_a_report_on_a_full_disk_exits_1_with_one_line_and_leaves_the_outputs(tmp_path, capsys):
    db, out = tmp_path / "store.duckdb", tmp_path / "out"
    claims, timelogs = str(SAMPLE / "claims.csv"), str(SAMPLE / "timelogs.csv")
    args = ["--claims", claims, "--timelogs", timelogs, "--db", str(db), "--quiet"]
    assert main(["audit", *args, "--out", str(out)]) == 0
    before = {name: (out / name).read_bytes() for name in OUTPUTS}
    capsys.readouterr()
    # The report writes each file under a temporary name of its process first
    # (reports/render.py); this one is on a disk with no room.
    temporary = out / f".report.html.{os.getpid()}.tmp"
    temporary.symlink_to(FULL)

    assert main(["report", "--db", str(db), "--out", str(out), "--quiet"]) == 1

    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("ptaudit: error: report: the disk is full (")
    assert "No space left on device" in line and "Nothing this stage wrote was kept" in line
    assert {name: (out / name).read_bytes() for name in OUTPUTS} == before
    assert not temporary.is_symlink()
    assert sorted(p.name for p in out.iterdir()) == sorted([*OUTPUTS, "findings.xlsx"])


def test_any_other_error_still_ends_with_its_traceback(tmp_path):
    db = tmp_path / "store.duckdb"
    duckdb.connect(str(db)).execute("CREATE TABLE runs (nothing INTEGER)").close()
    with pytest.raises(duckdb.Error):
        main(["flag", "--db", str(db), "--quiet"])
