"""findings.xlsx: the findings rows made a column at a time are the cells xlsxwriter
itself writes, and read back as the findings' values and formats."""

from __future__ import annotations

import re
import zipfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import openpyxl
import polars as pl
import pytest
import xlsxwriter

from reports import xlsx

LONG = "x" * 32_766 + "😀" + "y" * 10  # past Excel's 32,767 UTF-16 units, mid-pair
TEXTS = [
    "plain",
    "a & b < c > d \"quoted\" 'single'",
    "  leading spaces",
    "trailing spaces  ",
    "\ttab first",
    "two\nlines",
    "control \x01 and \x1f",
    "_x0041_ looks escaped",
    "é ü 漢字 and 😀",
    "non-character \ufffe",
    "",
    None,
    LONG,
]
DATES = [date(2025, 1, 6), date(1900, 2, 28), date(1900, 3, 1), None]
AMOUNTS = ["28.10", "100.00", "0.00", "28.79", None, "1234567890.12", "-5.50"]
UNITS = [0, -1, None, 2_147_483_647]


def _findings(rows: int) -> pl.DataFrame:
    def cycle(values: list) -> list:
        return [values[i % len(values)] for i in range(rows)]

    return pl.DataFrame(
        {
            "finding_id": [f"F{i}" for i in range(rows)],
            "rule_id": ["UNITS_OVERBILLED"] * rows,
            "service_date": cycle(DATES),
            "units_billed": cycle(UNITS),
            "amount_at_risk": [None if a is None else Decimal(a) for a in cycle(AMOUNTS)],
            "message": cycle(TEXTS),
        },
        schema={
            "finding_id": pl.String,
            "rule_id": pl.String,
            "service_date": pl.Date,
            "units_billed": pl.Int32,
            "amount_at_risk": pl.Decimal(12, 2),
            "message": pl.String,
        },
    )


SUMMARY = {
    "run_id": "R1",
    "scope": {"description": "the claims and patient-days of this run's files"},
    "audited": {
        "first_service_date": "2025-01-06",
        "last_service_date": "2025-01-06",
        "claims": 1,
        "claim_lines": 2,
    },
    "findings": {
        "total": 3,
        "amount_at_risk": 28.79,
        "revenue_missed": 0.0,
        "by_rule": {
            "UNITS_OVERBILLED": {
                "title": "Units billed beyond the minutes",
                "severity": "high",
                "status": "findings",
                "findings": 3,
                "amount_at_risk": 28.79,
                "note": None,
            }
        },
    },
    "changes": {"new": 3, "still_open": 0, "no_longer_present": 0},
    "totals": {"rows_rejected": 0},
}


def _written_by_xlsxwriter(path: Path, rows: pl.DataFrame) -> None:
    """The findings sheet written cell by cell with xlsxwriter's own calls."""
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    formats = {
        pl.Date: book.add_format({"num_format": "yyyy-mm-dd"}),
        pl.Decimal: book.add_format({"num_format": "$#,##0.00"}),
    }
    sheet = book.add_worksheet("UNITS_OVERBILLED")
    sheet.write_row(0, 0, rows.columns)
    for row, values in enumerate(rows.iter_rows(), 1):
        for col, value in enumerate(values):
            dtype = rows.dtypes[col]
            if value is None:
                continue
            if dtype == pl.Date:
                sheet.write_datetime(row, col, value, formats[pl.Date])
            elif isinstance(dtype, pl.Decimal):
                sheet.write_number(row, col, float(value), formats[pl.Decimal])
            elif dtype == pl.String:
                sheet.write_string(row, col, value)
            else:
                sheet.write_number(row, col, value)
    book.close()


def _data_cells(path: Path, sheet: str) -> list[str]:
    """The cells after the header row as XML, without their style numbers (which
    depend on the order formats were first used in)."""
    with zipfile.ZipFile(path) as book:
        xml = book.read(f"xl/worksheets/{sheet}.xml").decode()
    rows = xml[xml.index("</row>") + len("</row>") : xml.index("</sheetData>")]
    return [re.sub(r' s="\d+"', "", c) for c in re.findall(r"<c .*?</c>", rows)]


def _cells(path: Path, sheet: str) -> list[list[tuple[object, str]]]:
    book = openpyxl.load_workbook(path, read_only=True)
    cells = [[(c.value, c.number_format) for c in row] for row in book[sheet].iter_rows()]
    book.close()
    return cells


@pytest.mark.parametrize("chunk_rows", [xlsx.CHUNK_ROWS, 4], ids=["one chunk", "chunks of 4"])
def test_the_rows_are_the_cells_xlsxwriter_writes(tmp_path, monkeypatch, chunk_rows):
    monkeypatch.setattr(xlsx, "CHUNK_ROWS", chunk_rows)
    findings = _findings(2 * len(TEXTS) + 1)
    ours, theirs = tmp_path / "ours.xlsx", tmp_path / "theirs.xlsx"
    xlsx.write(ours, findings, SUMMARY)
    _written_by_xlsxwriter(theirs, findings)

    assert _data_cells(ours, "sheet2") == _data_cells(theirs, "sheet1")
    assert _cells(ours, "UNITS_OVERBILLED") == _cells(theirs, "UNITS_OVERBILLED")


def test_the_rows_read_back_as_the_findings(tmp_path):
    findings = _findings(len(TEXTS))
    path = tmp_path / "findings.xlsx"
    xlsx.write(path, findings, SUMMARY)
    with zipfile.ZipFile(path) as book:
        sheet = book.read("xl/worksheets/sheet2.xml").decode()
    assert f'<dimension ref="A1:F{len(TEXTS) + 1}"/>' in sheet
    assert f'<autoFilter ref="A1:F{len(TEXTS) + 1}"/>' in sheet

    header, *rows = _cells(path, "UNITS_OVERBILLED")
    assert [value for value, _ in header] == findings.columns
    assert [row[0][0] for row in rows] == findings["finding_id"].to_list()
    assert rows[0][2] == (datetime(2025, 1, 6), "yyyy-mm-dd")
    assert rows[1][2] == (datetime(1900, 2, 28), "yyyy-mm-dd")
    assert rows[2][2] == (datetime(1900, 3, 1), "yyyy-mm-dd")
    assert rows[0][4] == (28.1, "$#,##0.00") and rows[5][4] == (1234567890.12, "$#,##0.00")
    assert rows[1][3][0] == -1 and rows[3][3][0] == 2_147_483_647
    messages = [row[5][0] for row in rows]
    assert messages[:5] == TEXTS[:5]
    assert messages[6] == "control _x0001_ and _x001F_"
    assert messages[7] == "_x005F_x0041_ looks escaped"
    assert messages[8] == TEXTS[8]
    assert messages[11] is None  # no cell for a missing value
    assert messages[12] == "x" * 32_766  # cut before the pair that would pass the limit


def test_the_summary_sheet_comes_first_and_links_to_each_rule(tmp_path):
    path = tmp_path / "findings.xlsx"
    xlsx.write(path, _findings(3), SUMMARY)
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Summary", "UNITS_OVERBILLED"]
    summary = book["Summary"]
    assert summary["A1"].value == "Run" and summary["B1"].value == "R1"
    assert summary["B7"].number_format == "$#,##0.00" and summary["B7"].value == 28.79
    link = summary["A12"]
    assert (link.value, link.hyperlink.location) == ("UNITS_OVERBILLED", "'UNITS_OVERBILLED'!A1")
    book.close()


def test_each_rules_rows_land_on_its_own_sheet(tmp_path):
    findings = _findings(6).with_columns(
        rule_id=pl.when(pl.int_range(pl.len()) % 2 == 0)
        .then(pl.lit("UNITS_OVERBILLED"))
        .otherwise(pl.lit("TIME_LOG_MISSING"))
    )
    path = tmp_path / "findings.xlsx"
    xlsx.write(path, findings, SUMMARY)
    book = openpyxl.load_workbook(path, read_only=True)
    for rule_id in ("UNITS_OVERBILLED", "TIME_LOG_MISSING"):
        _, *rows = book[rule_id].iter_rows(values_only=True)
        expected = findings.filter(pl.col("rule_id") == rule_id)["finding_id"].to_list()
        assert [row[0] for row in rows] == expected
        assert {row[1] for row in rows} == {rule_id}
    book.close()


def test_a_sheet_that_could_pass_the_zip_limit_is_written_as_zip64(tmp_path, monkeypatch):
    findings = _findings(len(TEXTS))
    small, large = tmp_path / "small.xlsx", tmp_path / "large.xlsx"
    xlsx.write(small, findings, SUMMARY)
    monkeypatch.setattr(xlsx, "ZIP_LIMIT", 10_000)
    xlsx.write(large, findings, SUMMARY)
    assert _with_local_extra(small) == []
    assert _with_local_extra(large) == ["xl/worksheets/sheet2.xml"]  # its ZIP64 sizes
    assert _cells(large, "UNITS_OVERBILLED") == _cells(small, "UNITS_OVERBILLED")


def _with_local_extra(path: Path) -> list[str]:
    """The parts whose local file header carries an extra field (ZIP64's sizes)."""
    data = path.read_bytes()
    with zipfile.ZipFile(path) as book:
        infos = book.infolist()
    return [
        info.filename
        for info in infos
        if int.from_bytes(data[info.header_offset + 28 : info.header_offset + 30], "little")
    ]
