"""findings.xlsx: every finding, for auditors who work the audit in a spreadsheet.

A summary sheet (the run, then one row per rule linking to its sheet), then a sheet
per rule with its findings: header frozen, columns sized to their contents, dates and
dollars as Excel dates and numbers.

xlsxwriter writes the workbook: its styles, the summary sheet, and each rule's sheet
with its header row, widths, formats and filter. Its cell by cell writing costs about
5 µs a cell, all of it in Python (8 s for 87,000 findings), so the findings rows are
not written through it: they are made here a column at a time with polars, as the same
worksheet XML xlsxwriter writes in its constant-memory mode (inline strings, and each
control character as Excel's _xHHHH_ escape), and put into each rule's sheet after its
header row. tests/test_workbook.py holds them to what xlsxwriter itself writes.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.utility import xl_col_to_name
from xlsxwriter.worksheet import Worksheet

# Excel's limit, header row included; a rule with more findings continues on "RULE (2)".
MAX_ROWS = 1_048_576
MAX_NAME = 31
MAX_WIDTH = 80
RULE_COLUMNS = ("rule_id", "title", "severity", "status", "findings", "amount_at_risk", "note")
# Findings rows made into XML at a time: memory holds one chunk's text.
CHUNK_ROWS = 20_000
# Excel's longest text, in UTF-16 code units; a string of fewer characters than half of
# it cannot be longer.
MAX_TEXT_UNITS = 32_767
# Text the vectorised escaping does not cover (control characters, text that already
# looks like an _xHHHH_ escape, the two non-characters, text that may be too long): rare,
# so such a column's text is escaped in Python (`_escape_rare`).
RARE_TEXT = r"[\x00-\x08\x0b-\x1f\ufffe\uffff]|_x[0-9a-fA-F]{4}_"
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f]")
LOOKS_ESCAPED = re.compile(r"(_x[0-9a-fA-F]{4}_)")
# Excel counts days from 1899-12-31 and holds 1900-02-29 as a day (xlsxwriter's
# datetime_to_excel_datetime does the same).
EXCEL_EPOCH = pl.date(1899, 12, 31)
LEAP_DAY_1900 = 59
COLUMNS = re.compile(rb'<col min="(\d+)" max="(\d+)"([^>]*)/>')
STYLE = re.compile(rb' style="(\d+)"')
DIMENSION = re.compile(rb'<dimension ref="[^"]*"/>')
SHEET_DATA_END = b"</sheetData>"
ZIP_LIMIT = zipfile.ZIP64_LIMIT


def write(path: Path, findings: pl.DataFrame, summary: dict[str, Any]) -> None:
    """The workbook of the run's findings, with the summary's figures first."""
    sheets = _rule_sheets(findings)
    made = io.BytesIO()
    book = xlsxwriter.Workbook(made, {"in_memory": True})
    formats = {
        "header": book.add_format({"bold": True, "bg_color": "#F3F5F8", "bottom": 1}),
        "date": book.add_format({"num_format": "yyyy-mm-dd"}),
        "usd": book.add_format({"num_format": "$#,##0.00"}),
        "link": book.add_format({"font_color": "blue", "underline": 1}),
    }
    _summary_sheet(book.add_worksheet("Summary"), formats, summary, sheets)
    parts = {}
    for name, rows in sheets.items():
        sheet = book.add_worksheet(name)
        _findings_sheet(sheet, formats, rows)
        # xlsxwriter's part name for the sheet it added as number `index`, from 0.
        parts[f"xl/worksheets/sheet{sheet.index + 1}.xml"] = rows
    book.close()
    with (
        zipfile.ZipFile(made) as written,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out,
    ):
        for item in written.infolist():
            part = written.read(item)
            rows = parts.get(item.filename)
            if rows is None:
                out.writestr(item, part)
                continue
            with out.open(item, "w", force_zip64=_may_pass_zip_limit(rows)) as sheet_part:
                for piece in _sheet_with_rows(part, rows):
                    sheet_part.write(piece)


def _may_pass_zip_limit(rows: pl.DataFrame) -> bool:
    """Whether the sheet's XML could pass 2 GiB, which zipfile must know before writing
    it (ZIP64). Only then is it so written: Excel 2007 warns on ZIP64. The bound: the
    rows' bytes in memory (no fewer than their text's), each made seven by its escape
    (a control character becomes _xHHHH_), and 100 bytes a cell for its markup and a
    number or date as text."""
    return 7 * rows.estimated_size() + 100 * rows.width * rows.height > ZIP_LIMIT


def _rule_sheets(findings: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """Each rule's findings under a sheet name; past Excel's row limit, in parts."""
    sheets = {}
    per_sheet = MAX_ROWS - 1
    for (rule_id,), rows in findings.partition_by("rule_id", as_dict=True).items():
        for part in range(0, rows.height, per_sheet):
            suffix = f" ({part // per_sheet + 1})" if part else ""
            sheets[rule_id[: MAX_NAME - len(suffix)] + suffix] = rows.slice(part, per_sheet)
    return sheets


def _summary_sheet(
    sheet: Worksheet,
    formats: dict[str, Format],
    summary: dict[str, Any],
    sheets: dict[str, pl.DataFrame],
) -> None:
    audited = summary["audited"]
    facts = [
        ("Run", summary["run_id"]),
        ("Scope", summary["scope"]["description"]),
        ("Service dates", f"{audited['first_service_date']} to {audited['last_service_date']}"),
        ("Claims / lines audited", f"{audited['claims']} / {audited['claim_lines']}"),
        ("Findings", summary["findings"]["total"]),
        (
            "New / still open / no longer present",
            "{new} / {still_open} / {no_longer_present}".format(**summary["changes"]),
        ),
        ("Dollars at risk", summary["findings"]["amount_at_risk"]),
        ("Revenue missed", summary["findings"]["revenue_missed"]),
        ("Rows rejected", summary["totals"]["rows_rejected"]),
    ]
    for row, (label, value) in enumerate(facts):
        sheet.write_string(row, 0, label, formats["header"])
        sheet.write(
            row, 1, value, formats["usd"] if label.startswith(("Dollars", "Revenue")) else None
        )
    top = len(facts) + 1
    for col, name in enumerate(RULE_COLUMNS):
        sheet.write_string(top, col, name, formats["header"])
    for row, (rule_id, result) in enumerate(summary["findings"]["by_rule"].items(), top + 1):
        values = {"rule_id": rule_id, **result}
        for col, name in enumerate(RULE_COLUMNS):
            if name == "rule_id" and rule_id in sheets:
                sheet.write_url(row, col, f"internal:'{rule_id}'!A1", formats["link"], rule_id)
            elif values.get(name) is not None:
                sheet.write(
                    row, col, values[name], formats["usd"] if name == "amount_at_risk" else None
                )
    sheet.set_column(0, 0, 28)
    sheet.set_column(1, 1, 60)
    sheet.set_column(2, len(RULE_COLUMNS) - 1, 14)


def _findings_sheet(sheet: Worksheet, formats: dict[str, Format], rows: pl.DataFrame) -> None:
    """The sheet as xlsxwriter writes it: all but its findings rows. A date or dollar
    column carries its format, which the rows' cells take from it (`_sheet_with_rows`)."""
    for col, (name, width) in enumerate(zip(rows.columns, _widths(rows), strict=True)):
        dtype = rows.schema[name]
        style = formats["date"] if dtype == pl.Date else None
        style = formats["usd"] if isinstance(dtype, pl.Decimal) else style
        sheet.set_column(col, col, width, style)
    sheet.freeze_panes(1, 0)
    for col, name in enumerate(rows.columns):
        sheet.write_string(0, col, name, formats["header"])
    sheet.autofilter(0, 0, rows.height, rows.width - 1)


def _widths(rows: pl.DataFrame) -> list[int]:
    """Each column as wide as its longest value or header, within reason."""
    longest = rows.select(pl.all().cast(pl.String).str.len_chars().max().fill_null(0)).row(0)
    return [
        min(MAX_WIDTH, max(len(name), n) + 2) for name, n in zip(rows.columns, longest, strict=True)
    ]


def _sheet_with_rows(part: bytes, rows: pl.DataFrame) -> Iterator[bytes]:
    """The sheet's XML with the findings rows after its header row, and its dimension
    covering them."""
    styles = _column_styles(part, rows.width)
    last = f"{xl_col_to_name(rows.width - 1)}{rows.height + 1}"
    head, end, tail = part.partition(SHEET_DATA_END)
    assert end, "xlsxwriter wrote no sheetData for a findings sheet"
    yield DIMENSION.sub(f'<dimension ref="A1:{last}"/>'.encode(), head, count=1)
    for start in range(0, rows.height, CHUNK_ROWS):
        yield _rows_xml(rows.slice(start, CHUNK_ROWS), start + 2, styles)
    yield end + tail


def _column_styles(part: bytes, width: int) -> list[str | None]:
    """Each column's style index, as the sheet's <col> elements give it."""
    styles: list[str | None] = [None] * width
    for first, last, attributes in COLUMNS.findall(part):
        style = STYLE.search(attributes)
        for col in range(int(first) - 1, int(last)):
            styles[col] = style.group(1).decode() if style else None
    return styles


def _rows_xml(rows: pl.DataFrame, first_row: int, styles: list[str | None]) -> bytes:
    """<row> elements for the rows, numbered from `first_row`; a missing value has no
    cell, as xlsxwriter leaves it."""
    rare = [
        name
        for name, dtype in rows.schema.items()
        if dtype == pl.String and rows.select(_rare_text(pl.col(name)).any()).item()
    ]
    rows = rows.with_columns(
        pl.when(_rare_text(pl.col(name)))
        .then(pl.col(name).map_elements(_escape_rare, return_dtype=pl.String))
        .otherwise(pl.col(name))
        for name in rare
    )
    number = pl.int_range(first_row, first_row + rows.height, dtype=pl.Int64).cast(pl.String)
    cells = [
        _cell(name, rows.schema[name], xl_col_to_name(col), number, styles[col])
        for col, name in enumerate(rows.columns)
    ]
    row = pl.concat_str(
        [pl.lit('<row r="'), number, pl.lit('">'), *cells, pl.lit("</row>")], ignore_nulls=True
    )
    return rows.select(row.str.join("")).item().encode()


def _cell(
    name: str, dtype: pl.DataType, letter: str, number: pl.Expr, style: str | None
) -> pl.Expr:
    """One column's <c> elements (null where the value is missing)."""
    value = pl.col(name)
    opening = pl.concat_str([pl.lit(f'<c r="{letter}'), number, pl.lit('"')])
    if style is not None:
        opening = opening + pl.lit(f' s="{style}"')
    if dtype == pl.String:
        text = (
            value.str.replace_all("&", "&amp;", literal=True)
            .str.replace_all("<", "&lt;", literal=True)
            .str.replace_all(">", "&gt;", literal=True)
        )
        preserve = pl.when(text.str.contains(r"^\s|\s$")).then(pl.lit(' xml:space="preserve"'))
        return pl.concat_str(
            [
                opening,
                pl.lit(' t="inlineStr"><is><t'),
                preserve.fill_null(""),
                pl.lit(">"),
                text,
                pl.lit("</t></is></c>"),
            ]
        )
    if dtype == pl.Date:
        days = (value - EXCEL_EPOCH).dt.total_days()
        shown = (days + (days > LEAP_DAY_1900).cast(pl.Int64)).cast(pl.String)
    elif isinstance(dtype, pl.Decimal):
        # xlsxwriter writes float(value) as %.16G: no trailing zeros, no trailing point.
        shown = value.cast(pl.String).str.replace(r"(\.\d*?)0+$", "${1}").str.strip_suffix(".")
    elif dtype.is_integer():
        shown = value.cast(pl.String)
    else:
        raise TypeError(f"findings.xlsx has no way to write a {dtype} column ({name})")
    return pl.concat_str([opening, pl.lit("><v>"), shown, pl.lit("</v></c>")])


def _rare_text(text: pl.Expr) -> pl.Expr:
    return text.str.contains(RARE_TEXT) | (text.str.len_chars() > MAX_TEXT_UNITS // 2)


def _escape_rare(text: str) -> str:
    """Cut to Excel's longest text, then a literal _xHHHH_ kept as such (its underscore
    escaped), each control character and the two non-characters as _xHHHH_."""
    units = text.encode("utf-16-le")
    if len(units) > 2 * MAX_TEXT_UNITS:
        text = units[: 2 * MAX_TEXT_UNITS].decode("utf-16-le", errors="ignore")
    text = LOOKS_ESCAPED.sub(r"_x005F\1", text)
    text = CONTROL.sub(lambda match: f"_x{ord(match.group()):04X}_", text)
    return text.replace("\ufffe", "_xFFFE_").replace("\uffff", "_xFFFF_")
