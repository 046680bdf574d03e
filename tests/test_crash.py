"""Crash safety: a real `python -m pipeline audit` killed with SIGKILL while it stores or
while it flags leaves the store as it was before that stage (none of the stage's work,
never half), and the next run on the same store finishes with the findings a clean run
of the same exports gives."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import polars as pl
import pytest

from bench import synth
from pipeline.cli import main
from pipeline.staging import Staging

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
LINES = "200k"
# Small batches: the load then stores batch after batch, and a kill after the first
# lands with most of the file still to go.
CONFIG = "[store]\nbatch_rows = 20000\n"
# The tables a load writes; findings and rule_results are what flag writes.
LOADED = ("claim_lines", "time_segments", "rejects", "run_inputs", "run_scope_claims")
FLAGGED = ("findings", "rule_results")


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 200k-line practice from the bench generator, with a config of small batches."""
    out = tmp_path_factory.mktemp("exports")
    args = ["--profile", "bench", "--lines", LINES, "--out", str(out), "--no-check"]
    assert synth.main(args) == 0
    config = out / "batches.toml"
    config.write_text(CONFIG)
    return {"claims": out / "claims.csv", "timelogs": out / "timelogs.csv", "config": config}


def audit_args(exports: dict[str, Path], folder: Path) -> list[str]:
    return [
        "audit",
        "--claims",
        str(exports["claims"]),
        "--timelogs",
        str(exports["timelogs"]),
        "--config",
        str(exports["config"]),
        "--db",
        str(folder / "store.duckdb"),
        "--out",
        str(folder / "out"),
    ]


@pytest.fixture(scope="module")
def clean(exports: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same exports audited without interruption, in a store of their own."""
    folder = tmp_path_factory.mktemp("clean")
    assert main([*audit_args(exports, folder), "--quiet"]) == 0
    return folder


def killed_after(pattern: str, args: list[str]) -> list[str]:
    """Run the audit as a process of its own and SIGKILL it as soon as it logs a line
    matching `pattern`; the lines it logged until then."""
    process = subprocess.Popen(
        [sys.executable, "-m", "pipeline", *args],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    logged = []
    try:
        for line in process.stderr:
            logged.append(line)
            if re.search(pattern, line):
                assert process.poll() is None, "the run ended before it could be killed"
                process.send_signal(signal.SIGKILL)
                break
    finally:
        process.kill()
        process.wait()
        process.stderr.close()
    assert re.search(pattern, logged[-1]), f"never logged {pattern!r}: {logged[-3:]}"
    assert process.returncode == -signal.SIGKILL, "the run was not ended by the kill"
    return logged


def counts(db: Path, tables: tuple[str, ...]) -> dict[str, int]:
    with duckdb.connect(str(db)) as con:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in tables}


def findings(folder: Path) -> pl.DataFrame:
    """findings.csv in a fixed order; every column of it is the same in any run of the
    same exports (finding_id is derived from the finding, not the run)."""
    return pl.read_csv(folder / "out" / "findings.csv", infer_schema=False).sort("finding_id")


def staged_files(db: Path) -> list[Path]:
    return sorted(Staging(db).folder.rglob("*.parquet"))


@pytest.mark.parametrize(
    "moment",
    [
        # Batches are written to staging files one by one, outside the load's
        # transaction; the store's own tables are not touched yet.
        r" load: stage claims: ",
        # Inside the load's one transaction: the claims are stored, the time logs not.
        r" load: store claims: ",
    ],
    ids=["staging", "storing"],
)
def test_a_run_killed_while_loading_leaves_the_store_as_it_was(tmp_path, exports, clean, moment):
    logged = killed_after(moment, audit_args(exports, tmp_path))
    assert not any(" load: run " in line for line in logged), "the load had finished"

    db = tmp_path / "store.duckdb"
    assert counts(db, ("runs", *LOADED)) == dict.fromkeys(("runs", *LOADED), 0)
    assert staged_files(db), "the killed load left its staged rows"

    assert main([*audit_args(exports, tmp_path), "--quiet"]) == 0
    assert counts(db, LOADED + FLAGGED) == counts(clean / "store.duckdb", LOADED + FLAGGED)
    assert staged_files(db) == [], "the next run removed the leftovers"
    assert not findings(clean).is_empty()
    assert findings(tmp_path).equals(findings(clean))


def test_a_run_killed_while_flagging_keeps_its_load_and_no_findings(tmp_path, exports, clean):
    # A rule's line ("flag: UNITS_OVERBILLED: 0.12 s") comes before flag's transaction
    # keeps its findings (they wait in a temporary table till then).
    logged = killed_after(r" flag: [A-Z0-9_]+: ", audit_args(exports, tmp_path))
    assert not any(" flag: run " in line for line in logged), "flag had finished"

    db, clean_db = tmp_path / "store.duckdb", clean / "store.duckdb"
    assert counts(db, LOADED) == counts(clean_db, LOADED), "the committed load is whole"
    assert counts(db, FLAGGED) == dict.fromkeys(FLAGGED, 0), "no rule's findings were kept"
    with duckdb.connect(str(db)) as con:
        assert con.execute("SELECT count(*) FROM runs WHERE flagged_at IS NULL").fetchall() == [
            (1,)
        ]

    assert main([*audit_args(exports, tmp_path), "--quiet"]) == 0
    assert findings(tmp_path).equals(findings(clean))
