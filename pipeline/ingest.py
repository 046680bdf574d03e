"""Ingest: read claim and time-log exports into polars frames with canonical columns.

Every value is read as text. Types are decided by validation, so that one bad value
rejects one row with a reason instead of failing the whole file. Files are read in
batches, so memory holds one batch of a file, however large the file.

An X12 837P file (told by its content: it starts with an ISA header) is read by
pipeline.x12 into rows of the same shape, numbered by segment.

Text is read as UTF-8, lossily: a byte that is not UTF-8 (a Latin-1 export) becomes
U+FFFD, and validation rejects the row that holds it rather than guess what was meant.
A blank line (every cell empty) is no row: it is skipped, but still counted in the row
numbers, so they point at the line a spreadsheet shows.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pipeline import machine, x12, x12_segments
from pipeline.columns import MODIFIER_COLUMNS, InputKind
from pipeline.errors import UsageError

log = logging.getLogger(__name__)

PARQUET_MAGIC = b"PAR1"
ROW_NUMBER = "row_number"
SOURCE_FILE = "source_file"
# The rows' place in the file, before the export's own columns are chosen (a dotted
# name no export uses), and a mark on a row that repeats the header (exports joined
# together).
FILE_ROW = "file.row_number"
REPEATED_HEADER = "file.repeated_header"
REPEATED_HEADER_REASON = "the header row again, among the data (exports joined together?)"
# A row set aside while reading, which validate rejects whatever its values: the column,
# value and reason of its reject record (null reason: a row like any other).
SET_ASIDE_COLUMN = "file.reject_column"
SET_ASIDE_VALUE = "file.reject_value"
SET_ASIDE_REASON = "file.reject_reason"
SET_ASIDE = (SET_ASIDE_COLUMN, SET_ASIDE_VALUE, SET_ASIDE_REASON)
# polars renames a header's second `units` to `units_duplicated_0`.
POLARS_DUPLICATE = re.compile(r"^(.*)_duplicated_\d+$")
# Separators a CSV export is sometimes written with instead of ',', as a message names them.
OTHER_SEPARATORS = {";": "';'", "\t": "tabs", "|": "'|'"}
# Codes are compared upper-case; exports differ only in how they type them.
UPPERCASE = ("cpt_code", "modifiers", "provider_role", "diagnosis_codes")


@dataclass(frozen=True)
class RawInput:
    """One export file: its canonical text columns plus where each row came from."""

    path: Path
    kind: InputKind
    checksum: str
    frame: pl.LazyFrame
    # Batches of `rows` rows made by a reader of its own (X12), where `frame` is empty,
    # with a folder for what it sets aside while reading.
    reader: Callable[[int, Path], Iterator[pl.DataFrame]] | None = None


def read_inputs(files: list[tuple[Path, InputKind]], mapping: dict[str, str]) -> list[RawInput]:
    """Each export's header checked, in order. Their checksums are worked out first, side
    by side: hashing and reading a file let other threads run, and a checksum reads the
    whole file (0.8 s for 10M claim lines as CSV)."""
    with ThreadPoolExecutor(machine.cores()) as pool:
        checksums = list(pool.map(_checksum, [path for path, _ in files]))
    return [
        read_input(path, kind, mapping, checksum)
        for (path, kind), checksum in zip(files, checksums, strict=True)
    ]


def read_input(path: Path, kind: InputKind, mapping: dict[str, str], checksum: str) -> RawInput:
    with path.open("rb") as fh:
        head = fh.read(4096)
    if x12_segments.starts_interchange(head):
        return _x12_input(path, kind, checksum)
    frame = _scan(path, head)
    headers = frame.collect_schema().names()
    frame = _numbered_rows(frame, headers)
    frame = _canonical_columns(frame, headers, path, kind, mapping)
    frame = frame.with_columns(pl.lit(str(path)).alias(SOURCE_FILE))
    return RawInput(path=path, kind=kind, checksum=checksum, frame=frame)


def read_batches(raw: RawInput, rows: int, spill: Path) -> Iterator[pl.DataFrame]:
    """The export's rows as text, `rows` at a time, in file order: the moment the file
    is actually read (so a file that breaks half-way fails here, with its name). An X12
    file's segments wait in the folder `spill` between its two passes."""
    empty = True
    try:
        batches = (
            raw.reader(rows, spill)
            if raw.reader
            else raw.frame.collect_batches(chunk_size=rows, maintain_order=True)
        )
        for batch in batches:
            empty = False
            yield batch
    except pl.exceptions.PolarsError as exc:
        raise UsageError(f"{raw.path}: cannot be read: {first_line(exc)}") from None
    if empty:
        # A header-only export still goes through every step, as zero rows.
        yield raw.frame.clear().collect()


def _checksum(path: Path) -> str:
    if not path.is_file():
        raise UsageError(f"{path}: file not found")
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        head = fh.read(1 << 20)
        if not head:
            raise UsageError(f"{path}: the file is empty")
        while head:
            digest.update(head)
            head = fh.read(1 << 20)
    return digest.hexdigest()


def _x12_input(path: Path, kind: InputKind, checksum: str) -> RawInput:
    """An X12 837P file: its service lines as rows of a claims export."""
    if kind.name != "claims":
        raise UsageError(f"{path}: an X12 837P file holds claims, not {kind.name}")
    try:
        x12_segments.check_header(path)
    except x12_segments.NotX12Error as exc:
        raise UsageError(f"{path}: not a readable X12 file: {exc}") from None

    def batches(rows: int, spill: Path) -> Iterator[pl.DataFrame]:
        try:
            for lines in x12.read_lines(path, rows, spill):
                if lines.height:
                    yield _x12_rows(lines.lazy(), path, kind).collect()
        except x12_segments.NotX12Error as exc:
            raise UsageError(f"{path}: not a readable X12 file: {exc}") from None

    empty = _x12_rows(pl.LazyFrame(schema=x12.SCHEMA), path, kind)
    return RawInput(path=path, kind=kind, checksum=checksum, frame=empty, reader=batches)


def _x12_rows(lines: pl.LazyFrame, path: Path, kind: InputKind) -> pl.LazyFrame:
    return lines.select(
        pl.col(x12.SEGMENT).alias(ROW_NUMBER),
        *(_clean_text(c) for c in kind.columns),
        pl.col(x12.PROBLEM_COLUMN).alias(SET_ASIDE_COLUMN),
        pl.col(x12.PROBLEM_VALUE).alias(SET_ASIDE_VALUE),
        pl.col(x12.PROBLEM_REASON).alias(SET_ASIDE_REASON),
        pl.lit(str(path)).alias(SOURCE_FILE),
    )


def _scan(path: Path, head: bytes) -> pl.LazyFrame:
    if head.startswith(PARQUET_MAGIC):
        return _scan_parquet(path)
    if b"\x00" in head:
        raise UsageError(f"{path}: not a CSV or Parquet file")
    return _scan_csv(path)


def _scan_csv(path: Path) -> pl.LazyFrame:
    try:
        # infer_schema=False reads every column as text; the header is checked eagerly
        # here so a broken file fails now, with its name, not deep inside a later stage.
        frame = pl.scan_csv(path, infer_schema=False, encoding="utf8-lossy")
        frame.collect_schema()
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError) as exc:
        raise UsageError(f"{path}: cannot be read as CSV: {first_line(exc)}") from None
    return frame


def _scan_parquet(path: Path) -> pl.LazyFrame:
    try:
        frame = pl.scan_parquet(path)
        schema = frame.collect_schema()
    except (pl.exceptions.ComputeError, OSError) as exc:
        raise UsageError(f"{path}: cannot be read as Parquet: {first_line(exc)}") from None
    return frame.select(_as_text(name, dtype) for name, dtype in schema.items())


def _as_text(name: str, dtype: pl.DataType) -> pl.Expr:
    """Typed Parquet columns become the same text a CSV export would hold."""
    column = pl.col(name)
    if dtype == pl.Date:
        return column.dt.strftime("%Y-%m-%d")
    if isinstance(dtype, pl.Datetime):
        return column.dt.strftime("%Y-%m-%d %H:%M:%S")
    return column.cast(pl.String)


def _numbered_rows(frame: pl.LazyFrame, headers: list[str]) -> pl.LazyFrame:
    """Rows numbered from 1 as they stand in the file, blank lines then left out, and
    each row marked where it repeats the header."""
    return (
        frame.with_row_index(FILE_ROW, offset=1)
        .filter(~pl.all_horizontal(pl.col(h).is_null() for h in headers))
        .with_columns(
            pl.all_horizontal(pl.col(h) == h for h in headers)
            .fill_null(False)
            .alias(REPEATED_HEADER)
        )
    )


def _canonical_columns(
    frame: pl.LazyFrame, headers: list[str], path: Path, kind: InputKind, mapping: dict[str, str]
) -> pl.LazyFrame:
    renames = {h: _canonical_name(_as_written(h, headers), mapping) for h in headers}
    canonical = list(renames.values())
    duplicated = sorted({c for c in canonical if canonical.count(c) > 1})
    if duplicated:
        raise UsageError(
            f"{path}: the header names {', '.join(duplicated)} more than once "
            "(directly or through [columns]); which one holds the data is unknown"
        )
    frame = frame.rename(renames)

    present = set(canonical)
    if "modifiers" in kind.optional and present & set(MODIFIER_COLUMNS):
        frame = _combine_modifiers(frame, present)
        present = (present - set(MODIFIER_COLUMNS)) | {"modifiers"}

    missing = [c for c in kind.required if c not in present]
    if missing:
        raise UsageError(
            f"{path}: required column {', '.join(missing)} is missing "
            f"({kind.name} export; {_columns_found(headers, kind, mapping)})"
            f"{_separator_hint(headers)}"
        )
    unused = [h for h, c in renames.items() if c not in kind.columns and c not in MODIFIER_COLUMNS]
    if unused:
        log.info("%s: %d columns not used: %s", path, len(unused), ", ".join(unused))
    return frame.select(
        pl.col(FILE_ROW).alias(ROW_NUMBER),
        *(
            _clean_text(c) if c in present else pl.lit(None, pl.String).alias(c)
            for c in kind.columns
        ),
        *_repeated_header(kind),
    )


def _repeated_header(kind: InputKind) -> list[pl.Expr]:
    """A row repeating the header is set aside, against the first required column."""
    marked, column = pl.col(REPEATED_HEADER), kind.required[0]
    return [
        pl.when(marked).then(pl.lit(column)).alias(SET_ASIDE_COLUMN),
        pl.when(marked).then(_clean_text(column)).alias(SET_ASIDE_VALUE),
        pl.when(marked).then(pl.lit(REPEATED_HEADER_REASON)).alias(SET_ASIDE_REASON),
    ]


def _as_written(header: str, headers: list[str]) -> str:
    """The header as the file has it, before polars told a repeated name apart."""
    match = POLARS_DUPLICATE.match(header)
    return match.group(1) if match and match.group(1) in headers else header


def _columns_found(headers: list[str], kind: InputKind, mapping: dict[str, str]) -> str:
    """The header as read, to help fix it. A first line holding no known column name is
    most likely a data row (the header is missing), and a data row can hold a patient
    id, which never goes to the log: then only the count is given."""
    separators = "[," + re.escape("".join(OTHER_SEPARATORS)) + "]"
    cells = {_canonical_name(cell, mapping) for h in headers for cell in re.split(separators, h)}
    if cells & {*kind.columns, *MODIFIER_COLUMNS}:
        return f"columns found: {', '.join(headers)}"
    return f"{len(headers)} columns found, none of them a known column: is the header row missing?"


def _separator_hint(headers: list[str]) -> str:
    """A header read as one column, holding another separator, is the usual cause."""
    found = [name for separator, name in OTHER_SEPARATORS.items() if separator in headers[0]]
    if len(headers) != 1 or not found:
        return ""
    return f"; the file seems separated by {found[0]}, not ','"


def _canonical_name(header: str, mapping: dict[str, str]) -> str:
    stripped = header.strip().lstrip("\ufeff")
    return mapping.get(stripped, stripped.lower())


def _combine_modifiers(frame: pl.LazyFrame, present: set[str]) -> pl.LazyFrame:
    parts = [c for c in ("modifiers", *MODIFIER_COLUMNS) if c in present]
    joined = pl.concat_str([_clean_text(c) for c in parts], separator=",", ignore_nulls=True)
    return frame.with_columns(pl.when(joined == "").then(None).otherwise(joined).alias("modifiers"))


def _clean_text(column: str) -> pl.Expr:
    """Trimmed text, with an empty cell read as a missing value."""
    text = pl.col(column)
    if column in UPPERCASE:
        text = text.str.to_uppercase()
    trimmed = text.str.strip_chars()
    length = trimmed.str.len_bytes()
    # Most cells have nothing to trim: those are kept as read, which is about twice as
    # quick as taking every trimmed copy.
    return (
        pl.when(length == 0)
        .then(None)
        .when(length == text.str.len_bytes())
        .then(text)
        .otherwise(trimmed)
        .alias(column)
    )


def first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
