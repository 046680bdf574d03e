"""What the machine lets a run use beside its own thread: its cores; and how the run
asks the kernel for memory."""

from __future__ import annotations

import ctypes
import os
import sys

# prctl(2) option: no transparent huge pages for this process (and those it starts).
PR_SET_THP_DISABLE = 41


def cores() -> int:
    """The cores this process may run on (a container may allow fewer than it has)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def without_huge_pages() -> None:
    """Ask Linux not to back this process's memory with transparent huge pages.

    DuckDB frees and re-allocates hundreds of megabytes for each derived table, and with
    huge pages (allowed where asked for, the kernel's usual setting) faulting it back in
    went through compaction: system time grew share after share, to a fifth of the flag
    stage's CPU time at 10M lines. Without them that stage took 59 and 62 s, against 67
    and 70 s (bench/HISTORY.md, ac4fa52). Elsewhere, or if the call fails, nothing changes.
    """
    if sys.platform != "linux":
        return
    try:
        ctypes.CDLL(None).prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0)
    except (OSError, AttributeError):
        return
