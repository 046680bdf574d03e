"""The bench generator and runner at a tiny size: the data pass the generator's own
check, the real pipeline finds exactly the planted problems from CSV and from Parquet,
and the runner writes its report."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from bench import night, run, synth
from bench.cases import PLANTED_CASES
from bench.scale import parse_size
from pipeline.cli import main as pipeline_main

LINES = 2_000
CHUNK_LINES = 700  # three chunks: numbers, NPIs and row numbers must carry across them


@pytest.fixture(scope="module")
def bench_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2k-line bench practice, in a folder named as the runner names it."""
    out = tmp_path_factory.mktemp("bench") / run.size_label(LINES)
    args = ["--profile", f"bench-{run.size_label(LINES)}", "--chunk-lines", str(CHUNK_LINES)]
    # The generator re-reads and checks what it wrote, and fails if a check fails.
    assert synth.main([*args, "--out", str(out)]) == 0
    return out


def test_sizes_read_as_line_counts():
    assert [parse_size(s) for s in ("100k", "1m", "10M", "2500", "1.5m")] == [
        100_000,
        1_000_000,
        10_000_000,
        2_500,
        1_500_000,
    ]
    with pytest.raises(ValueError):
        parse_size("lots")


def _timed_case(size: str, seconds: dict[str, float]) -> run.Case:
    """A case of one audit run that timed `seconds` (stage: seconds) and took 1 s more."""
    stages = [{"stage": name, "seconds": value} for name, value in seconds.items()]
    audit = run.Measured(seconds=sum(seconds.values()) + 1, peak_bytes=1, exit_code=0)
    return run.Case(size, "csv", 1, 1, audit=[audit], stages=[stages])


def test_each_rule_is_judged_on_its_growth_from_1m_to_10m():
    """The worst rule stage long enough at 1M to judge decides the near-linear target;
    load stages and stages too short at 1M are shown but not judged."""
    one = {
        "load: store claims": 1.0,
        "flag: derived code_day_units": 1.0,
        "flag: UNITS_OVERBILLED": 0.5,
        "flag: KX_MEDICAL_REVIEW": 0.01,
    }
    ten = {
        "load: store claims": 20.0,
        "flag: derived code_day_units": 11.0,
        "flag: UNITS_OVERBILLED": 6.25,
        "flag: KX_MEDICAL_REVIEW": 0.5,
    }
    cases = [_timed_case("1m", one), _timed_case("10m", ten)]
    target, measured, verdict = run._rule_growth_target(cases, "csv")
    assert "(csv)" in target
    assert measured.startswith("worst UNITS_OVERBILLED 12.50x (2 stages")
    assert verdict == "NOT met"
    ten["flag: UNITS_OVERBILLED"] = 6.0
    cases = [_timed_case("1m", one), _timed_case("10m", ten)]
    assert run._rule_growth_target(cases, "csv")[1:] == (
        f"worst UNITS_OVERBILLED 12.00x (2 stages of at least {run.JUDGED_STAGE_SECONDS} s at 1M)",
        "met",
    )
    assert run._rule_growth_target(cases, "parquet")[1] == "n/a"
    stage_rows = run._stage_table(cases)
    assert stage_rows[0].endswith("| 10m/1m csv |")
    assert "| load: store claims | 1.00 | 20.00 | 20.00x |" in stage_rows


def test_the_practice_has_the_lines_asked_for_and_every_case(bench_data: Path):
    manifest = json.loads((bench_data / "manifest.json").read_text())
    assert manifest["chunks"] == 3
    assert LINES - 100 <= manifest["claim_lines"] <= LINES
    assert set(manifest["planted_visits"]) == {case.case_id for case in PLANTED_CASES}
    assert manifest["expected_rejects"] == {"claims.csv": 9, "timelogs.csv": 6}


def test_the_exports_are_in_date_order_across_chunks(bench_data: Path):
    claims = pl.read_csv(bench_data / "claims.csv", infer_schema=False)
    claim_dates = claims.select(
        pl.col("service_date").min().over("claim_id", "claim_frequency").alias("claim_date")
    )["claim_date"]
    assert claim_dates.drop_nulls().is_sorted()
    # A claim's lines together: each claim's rows form one run.
    runs = claims.select(pl.struct("claim_id", "claim_frequency").rle_id())["claim_id"]
    assert runs.n_unique() == claims.select("claim_id", "claim_frequency").n_unique()
    timelogs = pl.read_csv(bench_data / "timelogs.csv", infer_schema=False)
    assert timelogs.select(pl.concat_str("service_date", "start_time"))[:, 0].is_sorted()
    # The Parquet files hold the same rows in the same order.
    parquet = pl.read_parquet(bench_data / "claims.parquet")
    assert parquet["claim_id"].equals(claims["claim_id"])
    assert pl.read_parquet(bench_data / "timelogs.parquet")["patient_id"].equals(
        timelogs["patient_id"]
    )


def test_the_audit_finds_exactly_the_planted_problems_in_the_csv(bench_data: Path, tmp_path: Path):
    args = ["audit", "--claims", str(bench_data / "claims.csv")]
    args += ["--timelogs", str(bench_data / "timelogs.csv"), "--out", str(tmp_path / "out")]
    assert pipeline_main([*args, "--db", str(tmp_path / "audit.duckdb"), "--quiet"]) == 0
    score = run.score(tmp_path / "out", bench_data, "csv")
    assert score.expected > 0
    assert (score.precision, score.recall) == (1.0, 1.0)
    assert score.rejects_exact


def test_the_runner_scores_the_parquet_audit_and_reports(bench_data: Path, tmp_path: Path):
    """The runner's audit of the Parquet twin finds exactly the planted problems too."""
    results = tmp_path / "RESULTS.md"
    args = ["--sizes", run.size_label(LINES), "--formats", "parquet", "--repeat", "1"]
    assert run.main([*args, "--data", str(bench_data.parent), "--results", str(results)]) == 0
    text = results.read_text()
    assert "## Machine" in text and "duckdb" in text
    row = next(line for line in text.splitlines() if line.startswith("| 2k | parquet | 1,"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[-3:] == ["1.0000", "1.0000", "exact"]  # precision, recall, rejects
    assert not list((bench_data.parent / "runs").rglob("*.duckdb"))  # stores are removed


def test_the_runner_scores_the_837p_audit(bench_data: Path, tmp_path: Path):
    """The same claims as X12 837P: the same planted problems, the bad rows rejected at
    their LX segments."""
    results = tmp_path / "RESULTS.md"
    args = ["--sizes", run.size_label(LINES), "--formats", "837p", "--repeat", "1"]
    assert run.main([*args, "--data", str(bench_data.parent), "--results", str(results)]) == 0
    row = next(line for line in results.read_text().splitlines() if "| 2k | 837p | 1," in line)
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[-3:] == ["1.0000", "1.0000", "exact"]  # precision, recall, rejects


def test_a_night_is_the_last_days_and_the_history_every_other_row(bench_data: Path):
    night.split(bench_data)
    files = night.night_files(bench_data)
    numbers = pl.read_parquet(files.folder / night.ROW_NUMBERS)
    claims = pl.read_csv(bench_data / "claims.csv", infer_schema=False)
    days = claims.get_column("service_date").str.to_date("%Y-%m-%d", strict=False)
    last = set(days.drop_nulls().unique().sort().tail(night.NIGHT_DAYS).cast(pl.String))
    for kind, history, tonight in zip(night.KINDS, files.history, files.night, strict=True):
        whole = pl.read_csv(bench_data / f"{kind}.csv", infer_schema=False)
        parts = [pl.read_csv(path, infer_schema=False) for path in (history, tonight)]
        assert pl.concat(parts).sort(pl.all()).equals(whole.sort(pl.all()))
        assert set(parts[1].get_column("service_date")) == last
        assert not set(parts[0].get_column("service_date")) & last
        # Each night row's number in the whole export points at the same row.
        mapped = numbers.filter(pl.col("file") == f"{kind}.csv").sort("row_number")
        assert mapped.get_column("row_number").to_list() == list(range(1, parts[1].height + 1))
        assert whole[(mapped.get_column("original") - 1).to_list()].equals(parts[1])


def test_the_runner_audits_a_night_on_the_store_of_its_history(bench_data: Path, tmp_path: Path):
    results = tmp_path / "RESULTS.md"
    args = ["--sizes", run.size_label(LINES), "--formats", "night", "--repeat", "1"]
    assert run.main([*args, "--data", str(bench_data.parent), "--results", str(results)]) == 0
    text = results.read_text()
    row = next(line for line in text.splitlines() if line.startswith("| 2k | night |"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[-3:] == ["1.0000", "1.0000", "exact"]  # precision, recall, rejects
    assert "## Nights" in text
    assert not list((bench_data.parent / "runs").rglob("*.duckdb"))
