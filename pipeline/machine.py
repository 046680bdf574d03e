"""What the machine lets a run use beside its own process: its cores, and processes of
its own for work that is Python through and through (reading X12)."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

from pipeline.errors import ProcessLost

T = TypeVar("T")


def cores() -> int:
    """The cores this process may run on (a container may allow fewer than it has)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def process_pool(workers: int) -> ProcessPoolExecutor:
    """Processes started afresh (spawned), not forked: polars' threads do not survive a
    fork."""
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))


def result(future: Future[T], work: str) -> T:
    """What a pool's process returns; if it was killed instead, ProcessLost saying what
    `work` it was doing, rather than the pool's traceback."""
    try:
        return future.result()
    except BrokenProcessPool:
        raise ProcessLost(
            f"{work}: the process doing it stopped before it finished "
            "(killed, most often by the system for want of memory)"
        ) from None
