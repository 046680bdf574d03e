"""Stage timings: logged as they finish and kept per run, so summary.json and the
benchmark can show where the time went."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

from pipeline.logs import fields

log = logging.getLogger(__name__)


class StageTimer:
    """Seconds per stage; a stage timed again (once per batch) adds up."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        began = time.perf_counter()
        yield
        seconds = time.perf_counter() - began
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds
        log.info("%s: %.2f s", name, seconds, extra=fields(stage=name, seconds=round(seconds, 3)))

    def save(self, con: duckdb.DuckDBPyConnection, run_id: str) -> None:
        """Replace this run's timings of the same stages (a stage may be re-run)."""
        if not self.seconds:
            return  # a load whose every file was skipped timed nothing
        con.executemany(
            "DELETE FROM run_timings WHERE run_id = ? AND stage = ?",
            [(run_id, name) for name in self.seconds],
        )
        con.executemany(
            "INSERT INTO run_timings VALUES (?, ?, ?)",
            [(run_id, name, seconds) for name, seconds in self.seconds.items()],
        )
