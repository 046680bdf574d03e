"""What the machine lets a run use beside its own thread: its cores."""

from __future__ import annotations

import os


def cores() -> int:
    """The cores this process may run on (a container may allow fewer than it has)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
