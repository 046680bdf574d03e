"""NCCI edit tables: procedure-to-procedure (PTP) pairs and medically unlikely edits (MUE).

The bundled tables in rules/reference/ hold the therapy edits. A practice that
downloads CMS's quarterly practitioner files names them in the configuration
(`[reference] ncci_ptp = [...]`, `mue = "..."`) and they replace the bundled tables
whole. CMS publishes each file as text or CSV with title and copyright lines above the
column row (and as an xlsx workbook, which is not read here): the column row is found
by its titles, so the lines above it do not matter.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import polars as pl

from pipeline.errors import UsageError

PTP_SCHEMA = {
    "column_1": pl.String,
    "column_2": pl.String,
    "modifier_indicator": pl.Int32,
    "effective_date": pl.Date,
    "deletion_date": pl.Date,
    "source": pl.String,
}
MUE_SCHEMA = {
    "code": pl.String,
    "mue_value": pl.Int32,
    "adjudication_indicator": pl.Int32,
    "source": pl.String,
}
# CMS's column row sits below a few title and copyright lines; look this far for it.
HEADER_SEARCH_LINES = 50
CODE = re.compile(r"^[0-9A-Z]{5}$")
CMS_DATE = re.compile(r"^\d{8}$")
# "2 Date of Service Edit: Policy" -> 2; a bare "2" as well.
MAI = re.compile(r"^([123])(?:\D|$)")
XLSX_MAGIC = b"PK\x03\x04"


def bundled_ptp(path: Path) -> pl.DataFrame:
    """The bundled PTP table: ISO dates, an empty deletion date for an edit in force."""
    frame = pl.read_csv(path, infer_schema=False).select(
        pl.col("column_1"),
        pl.col("column_2"),
        pl.col("modifier_indicator").cast(pl.Int32),
        pl.col("effective_date").str.to_date("%Y-%m-%d"),
        pl.col("deletion_date").str.to_date("%Y-%m-%d"),
        pl.col("source"),
    )
    return frame.filter(pl.col("modifier_indicator") != 9)


def bundled_mue(path: Path) -> pl.DataFrame:
    return pl.read_csv(path, infer_schema=False).select(
        pl.col("code"),
        pl.col("mue_value").cast(pl.Int32),
        pl.col("adjudication_indicator").cast(pl.Int32),
        pl.col("source"),
    )


def read_ptp_files(paths: Sequence[Path]) -> pl.DataFrame:
    """CMS practitioner PTP files, concatenated (CMS splits one release into several).

    Columns: Column 1, Column 2, "*=in existence prior to 1996", Effective Date
    (YYYYMMDD), Deletion Date (YYYYMMDD, or * while in force), Modifier (0 not
    allowed, 1 allowed, 9 not applicable), PTP Edit Rationale. Indicator 9 rows are
    dropped: such a pair is no edit at all.
    """
    frames = [_read_ptp(Path(path)) for path in paths]
    return pl.concat(frames).unique(maintain_order=True) if frames else _empty(PTP_SCHEMA)


def read_mue_file(path: Path) -> pl.DataFrame:
    """CMS practitioner MUE file.

    Columns: HCPCS/CPT Code, Practitioner Services MUE Values, MUE Adjudication
    Indicator ("1 Line Edit", "2 Date of Service Edit: Policy", "3 Date of Service
    Edit: Clinical"), MUE Rationale.
    """
    path = Path(path)
    rows = _read_rows(
        path,
        wanted={
            "code": _is_code_title,
            "mue_value": lambda c: "mue value" in c,
            "adjudication_indicator": lambda c: "adjudication" in c,
        },
        header_hint="'HCPCS/CPT Code' and '... MUE Values' columns",
    )
    _check(path, rows, "code", CODE, "is not a HCPCS/CPT code")
    _check(path, rows, "mue_value", r"^\d{1,6}$", "is not a whole number of units")
    _check(path, rows, "adjudication_indicator", MAI, "does not start with 1, 2 or 3")
    repeated = rows.filter(~pl.col("code").is_first_distinct())
    if repeated.height:
        raise UsageError(
            f"{path}: line {repeated['line'][0]}: code {repeated['code'][0]} is listed again"
        )
    return rows.select(
        pl.col("code"),
        pl.col("mue_value").cast(pl.Int32),
        pl.col("adjudication_indicator").str.extract(MAI.pattern, 1).cast(pl.Int32),
        pl.lit(path.name).alias("source"),
    )


def _read_ptp(path: Path) -> pl.DataFrame:
    rows = _read_rows(
        path,
        wanted={
            "column_1": lambda c: c in ("column 1", "column1"),
            "column_2": lambda c: c in ("column 2", "column2"),
            "effective_date": lambda c: "effective" in c,
            "deletion_date": lambda c: "deletion" in c,
            "modifier_indicator": lambda c: "modifier" in c,
        },
        header_hint="'Column 1' and 'Column 2' columns",
    )
    _check(path, rows, "column_1", CODE, "is not a HCPCS/CPT code")
    _check(path, rows, "column_2", CODE, "is not a HCPCS/CPT code")
    _check(path, rows, "effective_date", CMS_DATE, "is not a date in YYYYMMDD form")
    _check(path, rows, "deletion_date", r"^(\d{8}|\*?)$", "is not YYYYMMDD, or * while in force")
    _check(path, rows, "modifier_indicator", r"^[019]$", "is not 0, 1 or 9")
    dated = rows.with_columns(
        pl.col("effective_date").str.to_date("%Y%m%d", strict=False),
        pl.when(pl.col("deletion_date").str.contains(r"^\d{8}$"))
        .then(pl.col("deletion_date"))
        .str.to_date("%Y%m%d", strict=False),
    )
    impossible = dated.filter(
        pl.col("effective_date").is_null()
        | (pl.col("deletion_date").is_null() & rows["deletion_date"].str.contains(r"^\d{8}$"))
    )
    if impossible.height:
        raise UsageError(f"{path}: line {impossible['line'][0]}: a date that does not exist")
    return dated.filter(pl.col("modifier_indicator") != "9").select(
        "column_1",
        "column_2",
        pl.col("modifier_indicator").cast(pl.Int32),
        "effective_date",
        "deletion_date",
        pl.lit(path.name).alias("source"),
    )


def _read_rows(
    path: Path, wanted: dict[str, Callable[[str], bool]], header_hint: str
) -> pl.DataFrame:
    """The wanted columns (as trimmed, upper-case text) of every data row below the
    column row, with each row's line number.

    The column row is the first line holding the titles of the first two wanted
    columns. A title may run over two lines (as when CMS's workbook is saved as CSV):
    the lines between the column row and the first data row are read as more of the
    titles. Rows whose first wanted cell is empty (blank or note lines) are skipped.
    """
    lines = _text(path).splitlines()
    head = lines[:HEADER_SEARCH_LINES]
    delimiter = "\t" if any("\t" in line for line in head) else ","

    def cells(line: str) -> list[str]:
        if delimiter == "\t":
            return line.split("\t")
        return next(csv.reader([line]), [])

    key_tests = list(wanted.values())[:2]
    header = None
    for number, line in enumerate(head):
        candidate = [_title(c) for c in cells(line)]
        found = [_find(candidate, test) for test in key_tests]
        if None not in found and len(set(found)) == len(found):
            header, titles = number, candidate
            break
    if header is None:
        raise UsageError(
            f"{path}: no column row with {header_hint} in its first "
            f"{HEADER_SEARCH_LINES} lines; is this CMS's file in text or CSV form?"
        )
    first = _find(titles, key_tests[0])
    start = header + 1
    while start < len(lines):
        row = cells(lines[start])
        if first < len(row) and CODE.match(row[first].strip().upper()):
            break
        titles = [f"{t} {_title(c)}".strip() for t, c in _zip_longest(titles, row)]
        start += 1
    else:
        raise UsageError(f"{path}: no edits below the column row (line {header + 1})")
    indices = _indices(path, header + 1, titles, wanted)
    # The first row decides how many columns are read: pad it to the widest one wanted.
    body = lines[start:]
    missing = max(indices.values()) + 1 - len(cells(body[0]))
    body[0] += delimiter * max(0, missing)
    table = pl.read_csv(
        io.BytesIO("\n".join(body).encode()),
        separator=delimiter,
        has_header=False,
        infer_schema=False,
        truncate_ragged_lines=True,
        quote_char=None if delimiter == "\t" else '"',
    )
    # Blank lines read as rows too, so a row's index gives its line.
    return (
        table.select(
            pl.col(f"column_{index}").str.strip_chars().str.to_uppercase().alias(name)
            for name, index in indices.items()
        )
        .with_columns(pl.int_range(pl.len(), dtype=pl.Int64).add(start + 1).alias("line"))
        .filter(pl.col(next(iter(indices))).fill_null("") != "")
        .with_columns(pl.exclude("line").fill_null(""))
    )


def _indices(
    path: Path, header_line: int, titles: list[str], wanted: dict[str, Callable[[str], bool]]
) -> dict[str, int]:
    indices = {}
    for name, test in wanted.items():
        index = _find(titles, test)
        if index is None:
            title = name.replace("_", " ")
            raise UsageError(f"{path}: line {header_line}: no {title} column in the column row")
        indices[name] = index
    return indices


def _check(
    path: Path, rows: pl.DataFrame, column: str, pattern: re.Pattern | str, problem: str
) -> None:
    """Stop at the first row whose value does not match: a CMS file that does not
    read as expected is not trusted for any row."""
    regex = pattern.pattern if isinstance(pattern, re.Pattern) else pattern
    bad = rows.filter(~pl.col(column).str.contains(regex))
    if bad.height:
        title = column.replace("_", " ")
        raise UsageError(f"{path}: line {bad['line'][0]}: {title} {bad[column][0]!r} {problem}")


def _text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{path}: file not found") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if raw.startswith(XLSX_MAGIC):
        raise UsageError(
            f"{path}: an Excel workbook (or zip archive); use CMS's text file, "
            "or save the sheet as tab-delimited text or CSV"
        )
    if b"\x00" in raw[:4096]:
        raise UsageError(f"{path}: not a text file")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        # CMS's text files are not always UTF-8 (a copyright sign in cp1252).
        return raw.decode("cp1252", errors="replace")


def _title(cell: str) -> str:
    return " ".join(cell.replace('"', " ").lower().split())


def _is_code_title(cell: str) -> bool:
    return "hcpcs" in cell or "cpt code" in cell


def _find(cells: list[str], test: Callable[[str], bool]) -> int | None:
    return next((i for i, cell in enumerate(cells) if test(cell)), None)


def _zip_longest(titles: list[str], cells: list[str]) -> list[tuple[str, str]]:
    width = max(len(titles), len(cells))
    return [
        (titles[i] if i < len(titles) else "", cells[i] if i < len(cells) else "")
        for i in range(width)
    ]


def _empty(schema: dict[str, pl.DataType]) -> pl.DataFrame:
    return pl.DataFrame(schema=schema)
