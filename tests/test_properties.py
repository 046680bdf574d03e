"""Properties of the whole audit on random exports: mostly valid claim lines and time
segments, some values broken at random (empty, wrong type, out of range, garbage,
any unicode). Whatever the rows, every row read is accepted or rejected, every rejected
row says why, and the audit (load, flag, report) ends with exit 0, or 2 for a file that
is not text at all; never a fault."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pipeline.cli import main
from pipeline.columns import CLAIMS, TIMELOGS
from tests.conftest import OT_NPI, PT_NPI, PTA_NPI, claim, csv_bytes

# Each example is a real audit on its own DuckDB file: a few seconds apiece on 2 cores.
AUDITS = settings(
    max_examples=12,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# ingest takes a file with a NUL byte in its first 4 KiB for a binary file (exit 2).
SNIFFED_BYTES = 4096

BROKEN = st.one_of(
    st.none(),
    st.just(""),
    st.just("  "),
    st.sampled_from(["-1", "0", "100", "1.5", "1e3", "abc", "2025-02-30", "25:61", "99999999999"]),
    st.integers().map(str),
    st.text(max_size=12),
)
DAYS = st.integers(1, 28).map(lambda d: f"2025-10-{d:02d}")
TIMED = st.sampled_from(["97110", "97112", "97140", "97530", "97116"])
PATIENTS = st.sampled_from(["P1", "P2", "P3"])
CLAIM_COLUMNS = (*CLAIMS.required, "claim_frequency", "modifiers")
SEGMENT_COLUMNS = TIMELOGS.required


@st.composite
def claim_rows(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "claim_id": draw(st.sampled_from(["C1", "C2", "C3", "C4"])),
        "line_number": str(draw(st.integers(1, 4))),
        "claim_frequency": draw(st.sampled_from([None, "1", "7", "8"])),
        "patient_id": draw(PATIENTS),
        "payer": draw(st.sampled_from(["MEDICARE PART B", "ACME HEALTH"])),
        "rendering_npi": draw(st.sampled_from([PT_NPI, PTA_NPI, OT_NPI])),
        "service_date": draw(DAYS),
        "cpt_code": draw(TIMED),
        "modifiers": draw(st.sampled_from([None, "GP", "GP,59", "GO KX", "CQ GP"])),
        "units": str(draw(st.integers(1, 5))),
    }


@st.composite
def segment_rows(draw: st.DrawFn) -> dict[str, Any]:
    day = draw(DAYS)
    start = draw(st.integers(7 * 60, 18 * 60))
    minutes = draw(st.integers(1, 60))
    return {
        "patient_id": draw(PATIENTS),
        "provider_npi": draw(st.sampled_from([PT_NPI, PTA_NPI, OT_NPI])),
        "provider_role": draw(st.sampled_from(["PT", "PTA", "OT"])),
        "service_date": day,
        "cpt_code": draw(TIMED),
        "start_time": f"{day} {start // 60:02d}:{start % 60:02d}",
        "end_time": f"{day} {(start + minutes) // 60:02d}:{(start + minutes) % 60:02d}",
    }


def broken(rows: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """A row with, at times, some of its values replaced by broken ones."""

    @st.composite
    def draw_row(draw: st.DrawFn) -> dict[str, Any]:
        row = draw(rows)
        columns = draw(st.sets(st.sampled_from(sorted(row)), max_size=3))
        return row | {column: draw(BROKEN) for column in columns}

    return draw_row()


def rows_in(rows: list[dict[str, Any]]) -> int:
    """Rows an export holds: a row of only empty cells is a blank line, no row."""
    return sum(any(v not in (None, "") for v in row.values()) for row in rows)


@given(
    claim_files=st.lists(st.lists(broken(claim_rows()), max_size=12), min_size=1, max_size=2),
    segments=st.lists(broken(segment_rows()), max_size=12),
)
# Two claims files of the same bytes, as the search once found.
@example(claim_files=[[claim("97110", 2)], [claim("97110", 2)]], segments=[])
@AUDITS
def test_every_row_is_accounted_for_and_the_audit_never_faults(
    claim_files: list[list[dict[str, Any]]], segments: list[dict[str, Any]]
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        written = {tmp / f"claims-{i}.csv": rows for i, rows in enumerate(claim_files)}
        written[tmp / "timelogs.csv"] = segments
        for path, rows in written.items():
            header = CLAIM_COLUMNS if path.name.startswith("claims") else SEGMENT_COLUMNS
            path.write_bytes(csv_bytes(rows, columns=header))
        code = main(
            [
                "audit",
                "--claims",
                *(str(p) for p in written if p.name.startswith("claims")),
                "--timelogs",
                str(tmp / "timelogs.csv"),
                "--db",
                str(tmp / "store.duckdb"),
                "--out",
                str(tmp / "out"),
                "--quiet",
            ]
        )
        binary = any(b"\x00" in p.read_bytes()[:SNIFFED_BYTES] for p in written)
        assert code == (2 if binary else 0)
        if code == 0:
            check_accounts(tmp, {str(p): rows_in(rows) for p, rows in written.items()})


def check_accounts(tmp: Path, rows_written: dict[str, int]) -> None:
    inputs = json.loads((tmp / "out" / "summary.json").read_text())["inputs"]
    rejects = pl.read_csv(tmp / "out" / "rejects.csv", infer_schema=False)
    assert rejects.get_column("reason").null_count() == 0
    rejected_rows = rejects.group_by("source_file").agg(pl.col("row_number").n_unique())
    rejected = dict(rejected_rows.iter_rows())
    for source in inputs:
        if source["status"] == "skipped":
            # Two random exports can come out byte for byte the same: the copy of a file
            # this run read is skipped and reads no row (tests/test_nightly.py).
            assert source["sha256"] in {s["sha256"] for s in inputs if s["status"] == "loaded"}
            assert source["rows_read"] == 0
            continue
        assert source["rows_read"] == rows_written[source["file"]]
        assert source["rows_read"] == source["rows_accepted"] + source["rows_rejected"]
        assert source["rows_rejected"] == rejected.get(source["file"], 0)
    with duckdb.connect(str(tmp / "store.duckdb"), read_only=True) as con:
        ((runs,),) = con.execute("SELECT count(*) FROM runs WHERE flagged_at IS NULL").fetchall()
    assert runs == 0
