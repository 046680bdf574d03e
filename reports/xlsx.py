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


class Workbook:
    """findings.xlsx as it is written: the findings sheets at once, the summary sheet
    (the first tab, added first) once the summary is known, which on a large run takes
    seconds to work out (`close`)."""

    def __init__(self, path: Path, findings: pl.DataFrame) -> None:
        self._book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
        self._formats = {
            "header": self._book.add_format({"bold": True, "bg_color": "#F3F5F8", "bottom": 1}),
            "date": self._book.add_format({"num_format": "yyyy-mm-dd"}),
            "usd": self._book.add_format({"num_format": "$#,##0.00"}),
            "link": self._book.add_format({"font_color": "blue", "underline": 1}),
        }
        try:
            # In constant-memory mode each sheet keeps its own rows, so the summary
            # sheet can be filled last.
            self._summary = self._book.add_worksheet("Summary")
            self._sheets = _rule_sheets(findings)
            for name, rows in self._sheets.items():
                _findings_sheet(self._book.add_worksheet(name), self._formats, rows)
        except BaseException:
            self._book.close()
            raise

    def close(self, summary: dict[str, Any]) -> None:
        try:
            _summary_sheet(self._summary, self._formats, summary, self._sheets)
        finally:
            self._book.close()


# A process of its own writes a large workbook in two calls, the findings sheets
# (`start_apart`), then the summary (`finish_apart`) once the report has worked it out;
# its pool has this one process, which holds the workbook open between them.
_open: Workbook | None = None


def start_apart(path: Path, findings: pl.DataFrame) -> None:
    global _open
    _open = Workbook(path, findings)


def finish_apart(summary: dict[str, Any]) -> None:
    global _open
    workbook, _open = _open, None
    if workbook is not None:  # None: starting failed, and the report says why
        workbook.close(summary)


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
