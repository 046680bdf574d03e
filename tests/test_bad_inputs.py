"""Broken exports, survived. Each file of the corpus either runs to exit 0 with exactly
its bad rows in rejects.csv (and every good row stored and audited), or stops the run
with exit 2 and one line naming the file and the problem: never a traceback, never a
lost good row."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import duckdb
import polars as pl
import pytest

from pipeline.columns import CLAIMS, TIMELOGS
from pipeline.ingest import REPEATED_HEADER_REASON
from pipeline.schemas import UTF8_CHECK
from tests.conftest import back_to_back, claim, csv_bytes, segment, write_csv

GOOD_CLAIMS = [
    claim("97110", 3, claim_id="C1"),
    claim("97140", 1, claim_id="C1", line=2),
    claim("97112", 1, claim_id="C2", patient="P2"),
]
GOOD_SEGMENTS = [
    *back_to_back(("97110", 23), ("97140", 15)),
    segment("97112", 15, patient="P2", start="10:00"),
]
# 38 minutes support 2 units of 97110 under the 8-minute rule; 3 were billed.
GOOD_FINDINGS = [("UNITS_OVERBILLED", "C1", "97110")]

UNITS = "units must be a whole number from 1 to 99"
LINE = "line number must be a whole number from 1 to 999"
DATE = "not a real calendar date in YYYY-MM-DD form"
TIME = "not a real date and time in 'YYYY-MM-DD HH:MM[:SS]' form"
DIAGNOSES = "diagnosis codes must be ICD-10-CM codes separated by ','"
MEGABYTE = 1 << 20

# (file, row number, column, value, reason), as rejects.csv holds them.
Reject = tuple[str, int, str, str | None, str]


def bad_claim(**change: str) -> dict[str, Any]:
    """A fourth claim line, after the good ones: row 4 of the claims file."""
    return claim("97530", 1, claim_id="BAD") | change


def bad_segment(**change: str) -> dict[str, Any]:
    """A fourth segment, after the good ones: row 4 of the time-log file."""
    return segment("97530", 15, patient="P3", start="11:00") | change


def with_blank_lines() -> bytes:
    """Blank lines and a line of empty cells between the rows, and at the end."""
    header, first, second, third, bad = (
        csv_bytes([*GOOD_CLAIMS, bad_claim(units="0")]).decode().splitlines()
    )
    empty_cells = "," * header.count(",")
    return "\n".join([header, first, "", second, empty_cells, third, "", bad, "", ""]).encode()


def with_header_repeated() -> bytes:
    """Two exports joined into one file: the second one's header among the rows."""
    header, *rows = csv_bytes(GOOD_CLAIMS).decode().splitlines()
    return "\n".join([header, *rows[:2], header, rows[2]]).encode() + b"\n"


@dataclass(frozen=True)
class Survived:
    claims: bytes
    timelogs: bytes = csv_bytes(GOOD_SEGMENTS)
    rejects: tuple[Reject, ...] = ()


SURVIVED = {
    "utf-8 BOM": Survived(b"\xef\xbb\xbf" + csv_bytes(GOOD_CLAIMS)),
    "CRLF line endings": Survived(
        csv_bytes(GOOD_CLAIMS, newline="\r\n"), csv_bytes(GOOD_SEGMENTS, newline="\r\n")
    ),
    "no newline after the last line": Survived(
        csv_bytes(GOOD_CLAIMS).rstrip(b"\n"), csv_bytes(GOOD_SEGMENTS).rstrip(b"\n")
    ),
    "blank lines": Survived(with_blank_lines(), rejects=(("claims", 7, "units", "0", UNITS),)),
    "latin-1 text": Survived(
        csv_bytes([*GOOD_CLAIMS, bad_claim(payer="Société Générale")], encoding="latin-1"),
        rejects=(("claims", 4, "payer", "Soci\ufffdt\ufffd G\ufffdn\ufffdrale", UTF8_CHECK.error),),
    ),
    "a quoted line break inside a field": Survived(
        csv_bytes(
            [
                *GOOD_CLAIMS[:2],
                GOOD_CLAIMS[2] | {"diagnosis_codes": "M54.50\nM25.561"},
                bad_claim(units="0"),
            ]
        ),
        rejects=(("claims", 4, "units", "0", UNITS),),
    ),
    "the header again among the rows": Survived(
        with_header_repeated(),
        rejects=(("claims", 3, "claim_id", "claim_id", REPEATED_HEADER_REASON),),
    ),
    "extra unknown columns": Survived(
        csv_bytes([row | {"Referring NPI": "1234567893", "Notes": "a, b"} for row in GOOD_CLAIMS])
    ),
    "wrong types": Survived(
        csv_bytes([*GOOD_CLAIMS, bad_claim(line_number="one", units="two")]),
        rejects=(("claims", 4, "line_number", "one", LINE), ("claims", 4, "units", "two", UNITS)),
    ),
    "impossible dates and times": Survived(
        csv_bytes([*GOOD_CLAIMS, bad_claim(service_date="2025-02-30")]),
        csv_bytes([*GOOD_SEGMENTS, bad_segment(start_time="2025-10-06 24:30")]),
        rejects=(
            ("claims", 4, "service_date", "2025-02-30", DATE),
            ("timelogs", 4, "start_time", "2025-10-06 24:30", TIME),
        ),
    ),
    "end before start": Survived(
        csv_bytes(GOOD_CLAIMS),
        csv_bytes([*GOOD_SEGMENTS, bad_segment(end_time="2025-10-06 10:50")]),
        rejects=(
            ("timelogs", 4, "end_time", "2025-10-06 10:50", "end_time must be after start_time"),
        ),
    ),
    "duplicate rows": Survived(
        csv_bytes([*GOOD_CLAIMS, GOOD_CLAIMS[0]]),
        csv_bytes([*GOOD_SEGMENTS, GOOD_SEGMENTS[0]]),
        rejects=(
            ("claims", 4, "line_number", "1", CLAIMS.repeat_reason),
            ("timelogs", 4, "start_time", "2025-10-06 08:00:00", TIMELOGS.repeat_reason),
        ),
    ),
    "negative units": Survived(
        csv_bytes([*GOOD_CLAIMS, bad_claim(units="-1")]),
        rejects=(("claims", 4, "units", "-1", UNITS),),
    ),
    "a 1 MB cell": Survived(
        csv_bytes([*GOOD_CLAIMS, bad_claim(diagnosis_codes="X" * MEGABYTE)]),
        rejects=(
            ("claims", 4, "diagnosis_codes", "X" * 200 + f"... ({MEGABYTE} characters)", DIAGNOSES),
        ),
    ),
}


def stored(db, sql: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


@pytest.mark.parametrize("case", SURVIVED.values(), ids=SURVIVED.keys())
def test_a_broken_export_is_survived_with_exactly_its_bad_rows_set_aside(tmp_path, cli, case):
    files = {"claims": tmp_path / "claims.csv", "timelogs": tmp_path / "timelogs.csv"}
    files["claims"].write_bytes(case.claims)
    files["timelogs"].write_bytes(case.timelogs)
    outputs = cli([files["claims"]], [files["timelogs"]])
    assert outputs.exit_code == 0

    expected = sorted((str(files[f]), str(row), *rest) for f, row, *rest in case.rejects)
    assert sorted(outputs.rejects.rows()) == expected
    for source in outputs.summary["inputs"]:
        good = len(GOOD_CLAIMS if source["kind"] == "claims" else GOOD_SEGMENTS)
        rejected = len({row for f, row, *_ in case.rejects if f == source["kind"]})
        assert (source["rows_read"], source["rows_accepted"], source["rows_rejected"]) == (
            good + rejected,
            good,
            rejected,
        )
    lines = stored(outputs.db, "SELECT claim_id, line_number FROM claim_lines ORDER BY ALL")
    assert lines == [("C1", 1), ("C1", 2), ("C2", 1)]
    assert stored(outputs.db, "SELECT count(*) FROM time_segments") == [(len(GOOD_SEGMENTS),)]
    assert outputs.findings.select("rule_id", "claim_id", "cpt_code").rows() == GOOD_FINDINGS


def test_a_line_break_inside_a_list_cell_separates_its_codes(tmp_path, cli):
    claims = tmp_path / "claims.csv"
    claims.write_bytes(csv_bytes([GOOD_CLAIMS[0] | {"diagnosis_codes": "M54.50\r\nm25.561"}]))
    timelogs = tmp_path / "timelogs.csv"
    timelogs.write_bytes(csv_bytes(GOOD_SEGMENTS))
    outputs = cli([claims], [timelogs])
    assert outputs.rejects.is_empty()
    assert stored(outputs.db, "SELECT diagnosis_codes FROM claim_lines") == [("M54.50,M25.561",)]


@pytest.mark.parametrize("kind", ["claims", "timelogs"])
def test_a_header_only_export_is_a_file_of_no_rows(tmp_path, cli, kind):
    rows = {"claims": GOOD_CLAIMS, "timelogs": GOOD_SEGMENTS}
    files = {name: tmp_path / f"{name}.csv" for name in rows}
    for name, path in files.items():
        content = csv_bytes(rows[name])
        path.write_bytes(content.splitlines(keepends=True)[0] if name == kind else content)
    outputs = cli([files["claims"]], [files["timelogs"]])
    assert outputs.exit_code == 0
    assert outputs.rejects.is_empty()
    read = {i["kind"]: (i["rows_read"], i["rows_accepted"]) for i in outputs.summary["inputs"]}
    assert read == {
        name: (0, 0) if name == kind else (len(rows[name]), len(rows[name])) for name in rows
    }
    assert outputs.findings.is_empty()


def truncated_parquet() -> bytes:
    buffer = io.BytesIO()
    pl.DataFrame(GOOD_CLAIMS).write_parquet(buffer)
    return buffer.getvalue()[: buffer.tell() // 2]


@dataclass(frozen=True)
class Stopped:
    content: bytes
    message: tuple[str, ...]
    name: str = "claims.csv"


REQUIRED = ", ".join(CLAIMS.required)
STOPPED = {
    "semicolon-separated": Stopped(
        csv_bytes(GOOD_CLAIMS, separator=";"),
        (
            f"required column {REQUIRED} is missing",
            f"columns found: {';'.join(GOOD_CLAIMS[0])}",
            "the file seems separated by ';', not ','",
        ),
    ),
    "a column named twice": Stopped(
        csv_bytes([row | {"Units": row["units"]} for row in GOOD_CLAIMS]).replace(
            b"Units", b"units", 1
        ),
        ("the header names units more than once",),
    ),
    "a required column missing": Stopped(
        csv_bytes([{k: v for k, v in row.items() if k != "units"} for row in GOOD_CLAIMS]),
        ("required column units is missing (claims export; columns found: claim_id, ",),
    ),
    "0 bytes": Stopped(b"", ("the file is empty",)),
    "truncated Parquet": Stopped(
        truncated_parquet(), ("cannot be read as Parquet",), name="claims.parquet"
    ),
}


@pytest.mark.parametrize("case", STOPPED.values(), ids=STOPPED.keys())
def test_an_unusable_export_stops_the_run_with_one_line_naming_it(tmp_path, cli, capsys, case):
    claims = tmp_path / case.name
    claims.write_bytes(case.content)
    timelogs = tmp_path / "timelogs.csv"
    timelogs.write_bytes(csv_bytes(GOOD_SEGMENTS))
    outputs = cli([claims], [timelogs])
    assert outputs.exit_code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"ptaudit: error: {claims}: ")
    for part in case.message:
        assert part in line
    assert not outputs.db.exists(), "nothing is stored from a run stopped by its input"


def test_an_export_without_its_header_row_exits_2_without_echoing_the_data(tmp_path, cli, capsys):
    """The first line is then a data row, and data rows hold patient ids: the message
    counts the columns instead of listing them."""
    claims = write_csv(tmp_path / "c.csv", [claim("97110", 2, patient="PATIENT-0042")])
    headerless = tmp_path / "headerless.csv"
    headerless.write_text("".join(claims.read_text().splitlines(keepends=True)[1:]))
    outputs = cli([headerless], [write_csv(tmp_path / "t.csv", [segment("97110", 15)])])
    err = capsys.readouterr().err
    assert outputs.exit_code == 2
    assert "PATIENT-0042" not in err
    assert "none of them a known column: is the header row missing?" in err
