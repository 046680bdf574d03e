"""The whole command line on the bundled sample: the planted problems are found, for
every rule, and nothing else; the planted bad rows are rejected, and nothing else."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"
# A finding with no claim line (a provider's day, a time-log overlap) has the claim,
# line, code and units empty: read as null on both sides, they compare equal.
FINDING_KEY = [
    "rule_id",
    "patient_id",
    "service_date",
    "claim_id",
    "line_number",
    "cpt_code",
    "units_billed",
    "units_supported",
]
# The one rule the sample cannot make fire: the bundled NCCI table has no edit of
# modifier indicator 0 in force in 2025 (rules/reference/ncci_ptp_therapy.csv).
NEVER_FIRES = "NCCI_PAIR_NOT_ALLOWED"


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


def finding_rows(path: Path) -> list[tuple[str | None, ...]]:
    return read(path).select(FINDING_KEY).sort(FINDING_KEY, nulls_last=True).rows()


def test_the_planted_problems_are_found_and_nothing_else(sample_run):
    found = finding_rows(sample_run / "first" / "findings.csv")
    assert found == finding_rows(SAMPLE / "expected_findings.csv")


def test_every_rule_finds_what_is_planted_for_it(sample_run):
    """Every rule the run reports has findings, but the one the bundled reference data
    cannot trigger; PROGRESS_REPORT_OVERDUE applies at all because the sample marks
    progress reports in its time log."""
    summary = json.loads((sample_run / "first" / "summary.json").read_text())
    status = {rule: result["status"] for rule, result in summary["findings"]["by_rule"].items()}
    assert status.pop(NEVER_FIRES) == "clean"
    assert status["PROGRESS_REPORT_OVERDUE"] != "not applicable"
    assert {rule: s for rule, s in status.items() if s != "findings"} == {}


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
    assert second.drop("status").equals(first.drop("status"))
    # The second run was compared with the first: nothing new, everything still open.
    assert set(first["status"]) == {"new"} and set(second["status"]) == {"still_open"}


def test_building_the_derived_tables_a_share_of_patients_at_a_time_changes_nothing(
    sample_run, tmp_path
):
    """A large store builds its per-patient tables in shares of patients; the sample in
    seven shares finds exactly what it finds whole, with the same finding ids."""
    from pipeline.cli import main

    config = tmp_path / "shares.toml"
    config.write_text("[store]\npartition_rows = 80\n")
    args = ["audit", "--claims", str(SAMPLE / "claims.csv")]
    # A store's name that must be quoted in SQL: the shares read its time segments by it.
    store = tmp_path / 'the "odd" store.duckdb'
    args += ["--timelogs", str(SAMPLE / "timelogs.csv"), "--db", str(store)]
    assert main([*args, "--out", str(tmp_path / "out"), "--config", str(config), "--quiet"]) == 0
    lines = read(SAMPLE / "claims.csv").height
    assert lines > 6 * 80, "the sample no longer spans seven shares"
    whole = read(sample_run / "first" / "findings.csv").sort("finding_id")
    assert read(tmp_path / "out" / "findings.csv").sort("finding_id").equals(whole)
    # Each rule's status, count, amount and note too.
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    whole_summary = json.loads((sample_run / "first" / "summary.json").read_text())
    assert summary["findings"] == whole_summary["findings"]
    # Each derived table is one stage of the run's timings, its shares added up.
    stages = [t["stage"] for t in summary["timings"]]
    assert stages.count("flag: derived code_day_units") == 1
    assert "flag: share inputs" in stages
