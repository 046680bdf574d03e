"""What the machine lets a run use beside its own process: its cores, and processes of
its own for work that is Python through and through (reading X12, writing a workbook)."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor


def cores() -> int:
    """The cores this process may run on (a container may allow fewer than it has)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def process_pool(workers: int) -> ProcessPoolExecutor:
    """Processes started afresh (spawned), not forked: polars' threads do not survive a
    fork."""
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
