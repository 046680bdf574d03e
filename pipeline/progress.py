"""Progress on a terminal: one stderr line, rewritten in place, saying what a long stage
is doing (the file being loaded and its rows so far, the rule i of n, the report's
step).

Only for a person watching: the line is drawn when stderr is a terminal and the run
logs plain text (not --quiet, not --log-json). Under cron or an orchestrator, where
stderr is a file or a pipe, nothing is printed. Log lines clear the progress line
before they are written, so the two never share a line; the next step draws it again.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import TextIO

import polars as pl

from pipeline import x12_segments
from pipeline.ingest import PARQUET_MAGIC

# Drawn from the start of the line, the rest of the old line erased (VT100, which
# every terminal emulator in use understands).
REWRITE = "\r\x1b[K"
FALLBACK_WIDTH = 80
# Newlines are counted this many bytes at a time, for a CSV file's percentage.
CHUNK = 1 << 22


class _Line:
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.drawn = False

    def show(self, text: str) -> None:
        self.stream.write(REWRITE + text[: self._width() - 1])
        self.stream.flush()
        self.drawn = True

    def clear(self) -> None:
        if self.drawn:
            self.stream.write(REWRITE)
            self.stream.flush()
            self.drawn = False

    def _width(self) -> int:
        # A longer line would wrap, and `\r` then rewrites only its last part.
        try:
            return os.get_terminal_size(self.stream.fileno()).columns or FALLBACK_WIDTH
        except (OSError, ValueError):
            return FALLBACK_WIDTH


class _ClearsLine(logging.Filter):
    """A log record about to be written takes the progress line's place."""

    def filter(self, record: logging.LogRecord) -> bool:
        clear()
        return True


_line: _Line | None = None


def configure(*, quiet: bool, as_json: bool, stream: TextIO | None = None) -> None:
    global _line
    stream = stream or sys.stderr
    _line = _Line(stream) if stream.isatty() and not quiet and not as_json else None
    for handler in logging.getLogger().handlers:
        handler.addFilter(_ClearsLine())


def show(text: str) -> None:
    if _line is not None:
        _line.show(text)


def clear() -> None:
    if _line is not None:
        _line.clear()


class FileProgress:
    """Rows read so far of one export, and the share of the file they are where its
    size in rows is known: a Parquet file's metadata holds it, a CSV file's lines are
    counted (only when the line is drawn: the count reads the file once more). An X12
    file's lines are segments, not rows, so it shows its rows alone."""

    def __init__(self, label: str, path: Path) -> None:
        self.label = label
        self.total = _rows_in(path) if _line is not None else None

    def read(self, rows: int) -> None:
        share = f" ({min(rows / self.total, 1):.0%})" if self.total else ""
        show(f"{self.label}: {rows:,} rows read{share}")


def _rows_in(path: Path) -> int | None:
    with path.open("rb") as fh:
        head = fh.read(4096)
        if head.startswith(PARQUET_MAGIC):
            return pl.scan_parquet(path).select(pl.len()).collect().item()
        if x12_segments.starts_interchange(head):
            return None
        fh.seek(0)
        lines, last = 0, b""
        while chunk := fh.read(CHUNK):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    unterminated = 1 if last not in (b"", b"\n") else 0
    # Less the header. A line break inside a quoted cell counts as a line, so the share
    # can fall short of 100% until the file is done.
    return lines + unterminated - 1
