"""The whole command line on the bundled sample: the planted problems are found,
nothing else, and the planted bad rows are rejected, nothing else."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"
FINDING_KEY = ["rule_id", "claim_id", "line_number", "cpt_code", "units_billed", "units_supported"]


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    from pipeline.cli import main

    tmp = tmp_path_factory.mktemp("sample")
    args = ["audit", "--claims", str(SAMPLE / "claims.csv")]
    args += ["--timelogs", str(SAMPLE / "timelogs.csv"), "--db", str(tmp / "s.duckdb"), "--quiet"]
    assert main([*args, "--out", str(tmp / "first")]) == 0
    assert main([*args, "--out", str(tmp / "second")]) == 0
    return tmp


def read(path: Path) -> pl.DataFrame:
    return pl.read_csv(path, infer_schema=False)


def test_the_planted_problems_are_found_and_nothing_else(sample_run):
    expected = read(SAMPLE / "expected_findings.csv").sort(FINDING_KEY)
    found = read(sample_run / "first" / "findings.csv").select(FINDING_KEY).sort(FINDING_KEY)
    assert found.rows() == expected.rows()


def test_the_planted_bad_rows_are_rejected_and_nothing_else(sample_run):
    expected = read(SAMPLE / "expected_rejects.csv").sort("file", "row_number")
    rejects = read(sample_run / "first" / "rejects.csv").with_columns(
        pl.col("source_file").map_elements(lambda p: Path(p).name, return_dtype=pl.String)
    )
    found = rejects.select("source_file", "row_number", "column").sort("source_file", "row_number")
    assert found.rows() == expected.rows()


def test_every_sample_row_is_accounted_for(sample_run):
    summary = pl.read_json(sample_run / "first" / "summary.json")
    totals = summary["totals"][0]
    lines = sum(1 for _ in (SAMPLE / "claims.csv").open()) - 1
    segments = sum(1 for _ in (SAMPLE / "timelogs.csv").open()) - 1
    assert totals["rows_read"] == lines + segments
    assert totals["rows_accepted"] + totals["rows_rejected"] == totals["rows_read"]


def test_rerunning_the_sample_gives_the_same_findings(sample_run):
    first = read(sample_run / "first" / "findings.csv")
    second = read(sample_run / "second" / "findings.csv")
    assert second.equals(first)
