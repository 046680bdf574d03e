"""How a run asks the kernel for memory."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Run in a process of its own: the setting lasts for the life of the process.
READ_AFTER_START = """
from contextlib import suppress
from pipeline.cli import main
with suppress(SystemExit):
    main(["--help"])
status = open("/proc/self/status").read().splitlines()
print(next(line for line in status if line.startswith("THP_enabled:")))
"""


@pytest.mark.skipif(
    not Path("/proc/self/status").is_file()
    or "THP_enabled:" not in Path("/proc/self/status").read_text(),
    reason="the kernel does not say whether a process may use transparent huge pages",
)
def test_a_run_turns_off_transparent_huge_pages_before_anything_else():
    """DuckDB's re-allocations fault through huge-page compaction otherwise (machine.py)."""
    shown = subprocess.run(
        [sys.executable, "-c", READ_AFTER_START],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert shown.split()[-1] == "0"
