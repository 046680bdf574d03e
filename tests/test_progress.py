"""Progress on a terminal: a real audit with stderr on a pseudo-terminal shows one
rewritten progress line per step (rows read per file, rule i of n, the report's
steps); with stderr on a pipe, as under cron, or with --quiet or --log-json, it prints
nothing of the kind."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from bench.x12 import write_837p
from pipeline.progress import REWRITE
from tests.conftest import SAMPLE

ROOT = Path(__file__).resolve().parent.parent
RULES = 19


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The sample's claims as CSV and its time logs as Parquet."""
    folder = tmp_path_factory.mktemp("exports")
    timelogs = folder / "timelogs.parquet"
    pl.read_csv(SAMPLE / "timelogs.csv", infer_schema=False).write_parquet(timelogs)
    return ["--claims", str(SAMPLE / "claims.csv"), "--timelogs", str(timelogs)]


def audit(tmp_path: Path, exports: list[str], *extra: str, terminal: bool) -> tuple[str, str]:
    """Run `python -m pipeline audit` as its own process, stderr on a pseudo-terminal
    or a pipe; its stdout and stderr."""
    args = [sys.executable, "-m", "pipeline", "audit", *exports, *extra]
    args += ["--db", str(tmp_path / "store.duckdb"), "--out", str(tmp_path / "out")]
    if not terminal:
        done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=True)
        return done.stdout, done.stderr
    leader, follower = pty.openpty()
    process = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=follower)
    os.close(follower)
    err = b""
    while True:
        try:
            chunk = os.read(leader, 1 << 16)
        except OSError:  # the process closed the terminal: Linux says EIO
            break
        if not chunk:
            break
        err += chunk
    os.close(leader)
    out = process.stdout.read().decode()
    process.stdout.close()
    assert process.wait() == 0
    # The terminal's line discipline writes "\n" as "\r\n".
    return out, err.decode().replace("\r\n", "\n")


def progress_lines(err: str) -> list[str]:
    """The texts drawn on the progress line (log lines written after a rewrite are not)."""
    drawn = [part for line in err.split("\n") for part in line.split(REWRITE)[1:]]
    return [text for text in drawn if text and " ptaudit " not in text]


def test_a_terminal_shows_each_step_on_one_rewritten_line(tmp_path, exports):
    out, err = audit(tmp_path, exports, terminal=True)
    drawn = progress_lines(err)
    assert "load: claims claims.csv: 546 rows read (100%)" in drawn
    assert "load: timelogs timelogs.parquet: 616 rows read (100%)" in drawn
    rules = [text for text in drawn if text.startswith("flag: rule ")]
    assert len(rules) == RULES
    assert rules[0].startswith(f"flag: rule 1 of {RULES}: ")
    assert rules[-1].startswith(f"flag: rule {RULES} of {RULES}: ")
    assert "report: writing findings.xlsx (6 of 6)" in drawn
    # Log lines still come whole, and the terminal is left with no progress on it.
    assert "INFO load: run " in err
    assert err.rsplit("\n", 1)[1].replace(REWRITE, "") == ""
    assert out.strip().count("\n") == 0, "stdout holds the run id alone"


def test_a_large_store_shows_the_share_of_patients_its_rules_are_on(tmp_path, exports):
    """The sample's 546 lines in shares of 80: seven shares, then the rules that compare
    patients with one another (OVERLAP_ONE_ON_ONE, IMPOSSIBLE_DAY) once."""
    config = tmp_path / "shares.toml"
    config.write_text("[store]\npartition_rows = 80\n")
    _, err = audit(tmp_path, exports, "--config", str(config), terminal=True)
    drawn = progress_lines(err)
    last = "flag: share 7 of 7 of the patients: "
    assert "flag: share 1 of 7 of the patients: derived tables" in drawn
    assert last + "derived tables" in drawn
    assert [text for text in drawn if text.startswith(last + "rule ")][-1] == (
        last + f"rule {RULES - 2} of {RULES - 2}: TELEHEALTH_MODIFIER_MISSING"
    )
    assert [text for text in drawn if text.startswith("flag: across patients: ")] == [
        "flag: across patients: rule 1 of 2: OVERLAP_ONE_ON_ONE",
        "flag: across patients: rule 2 of 2: IMPOSSIBLE_DAY",
    ]


def test_an_837p_file_shows_its_rows_without_a_share(tmp_path, exports):
    """Its lines are segments, several to a row: counting them would make a share that
    never reaches 100%."""
    claims = tmp_path / "claims.x12"
    claims.write_text(write_837p(pl.read_csv(SAMPLE / "claims.csv", infer_schema=False)).text)
    _, err = audit(tmp_path, ["--claims", str(claims), *exports[2:]], terminal=True)
    drawn = progress_lines(err)
    assert "load: claims claims.x12: 546 rows read" in drawn
    assert not [text for text in drawn if text.startswith("load: claims") and "%" in text]


def test_a_pipe_gets_the_log_and_nothing_else(tmp_path, exports):
    out, err = audit(tmp_path, exports, terminal=False)
    assert "\r" not in err and "\x1b" not in err
    assert "rows read (" not in err and "flag: rule 1 of" not in err
    assert all(" ptaudit " in line for line in err.splitlines())
    assert out.strip().count("\n") == 0


@pytest.mark.parametrize("option", ["--quiet", "--log-json"])
def test_quiet_or_json_logs_on_a_terminal_show_no_progress(tmp_path, exports, option):
    _, err = audit(tmp_path, exports, option, terminal=True)
    assert "\x1b" not in err and "flag: rule" not in err
    if option == "--log-json":
        assert all(json.loads(line)["level"] for line in err.splitlines())
