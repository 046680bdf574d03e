"""Errors that end a run with a message for the user rather than a traceback."""

from __future__ import annotations

import errno

import duckdb

# How the libraries word a full disk (or a full quota) when they give no errno: DuckDB's
# IO errors and polars' writers put the system's message in their text.
DISK_FULL = ("No space left on device", "Disk quota exceeded")


class UsageError(Exception):
    """Unusable input or configuration: the run stops with exit code 2.

    The message names the file and, where there is one, the column, so the person
    running the job can fix the export without reading code.
    """


def out_of_room(exc: BaseException) -> str | None:
    """What the machine ran out of, as a line for the person running the job, when `exc`
    says the disk is full or DuckDB ran out of the memory it may use (it spills past
    `memory_limit`, so this too is most often a full disk); None for any other error.

    Each stage's writes are one transaction, and the report's files are renamed into
    place only once all are written, so the stage that failed left nothing behind."""
    text = str(exc).strip()
    first_line = text.splitlines()[0] if text else type(exc).__name__
    full = isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)
    if full or any(words in first_line for words in DISK_FULL):
        return (
            f"the disk is full ({first_line}). Nothing this stage wrote was kept; free space "
            "where the store, its spill folder (the store's name + .tmp) and --out are, "
            "and run again"
        )
    if isinstance(exc, duckdb.OutOfMemoryException):
        return (
            f"DuckDB ran out of memory ({first_line}). Nothing this stage wrote was kept; "
            "free disk space beside the store for its spill folder (the store's name + "
            ".tmp), or raise [store] memory_limit, and run again"
        )
    return None
