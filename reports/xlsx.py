"""findings.xlsx: every finding, for auditors who work the audit in a spreadsheet.

A summary sheet (the run, then one row per rule linking to its sheet), then a sheet
per rule with its findings: header frozen, columns sized to their contents, dates and
dollars as Excel dates and numbers. Written in xlsxwriter's constant-memory mode, row
after row, so memory stays flat however many findings there are.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

# Excel's limit, header row included; a rule with more findings continues on "RULE (2)".
MAX_ROWS = 1_048_576
MAX_NAME = 31
MAX_WIDTH = 80
RULE_COLUMNS = ("rule_id", "title", "severity", "status", "findings", "amount_at_risk", "note")


def write_workbook(path: Path, findings: pl.DataFrame, summary: dict[str, Any]) -> None:
    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    formats = {
        "header": workbook.add_format({"bold": True, "bg_color": "#F3F5F8", "bottom": 1}),
        "date": workbook.add_format({"num_format": "yyyy-mm-dd"}),
        "usd": workbook.add_format({"num_format": "$#,##0.00"}),
        "link": workbook.add_format({"font_color": "blue", "underline": 1}),
    }
    try:
        sheets = _rule_sheets(findings)
        _summary_sheet(workbook, formats, summary, sheets)
        for name, rows in sheets.items():
            _findings_sheet(workbook.add_worksheet(name), formats, rows)
    finally:
        workbook.close()


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
    workbook: xlsxwriter.Workbook,
    formats: dict[str, Format],
    summary: dict[str, Any],
    sheets: dict[str, pl.DataFrame],
) -> None:
    sheet = workbook.add_worksheet("Summary")
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
    # Column widths must be set before any row is written in constant-memory mode.
    for col, width in enumerate(_widths(rows)):
        sheet.set_column(col, col, width)
    sheet.freeze_panes(1, 0)
    for col, name in enumerate(rows.columns):
        sheet.write_string(0, col, name, formats["header"])
    writers = [_writer(sheet, rows.schema[name], name, formats) for name in rows.columns]
    for row, values in enumerate(rows.iter_rows(), 1):
        for col, value in enumerate(values):
            if value is not None:
                writers[col](row, col, value)
    sheet.autofilter(0, 0, rows.height, rows.width - 1)


def _widths(rows: pl.DataFrame) -> list[int]:
    """Each column as wide as its longest value or header, within reason."""
    longest = rows.select(pl.all().cast(pl.String).str.len_chars().max().fill_null(0)).row(0)
    return [
        min(MAX_WIDTH, max(len(name), n) + 2) for name, n in zip(rows.columns, longest, strict=True)
    ]


def _writer(
    sheet: Worksheet, dtype: pl.DataType, name: str, formats: dict[str, Format]
) -> Callable[[int, int, Any], Any]:
    if dtype == pl.Date:
        return lambda r, c, v: sheet.write_datetime(r, c, v, formats["date"])
    if name == "amount_at_risk":
        return lambda r, c, v: sheet.write_number(r, c, float(v), formats["usd"])
    if dtype.is_numeric():
        return sheet.write_number
    return sheet.write_string
