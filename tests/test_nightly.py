"""Nightly runs on one store: exports loaded before are skipped by their checksum and
still bring their claims to the run's scope; a file loaded again under the same path
with other content is a new version."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb
import pytest

from pipeline.cli import main
from tests.conftest import back_to_back, claim, write_csv

PATIENT = "PATIENT-5521"
# 38 minutes support 3 units: 2 of 97110 and 1 of 97140.
SEGMENTS = back_to_back(("97110", 23), ("97140", 15), patient=PATIENT)


def billed(units_97110: int, **fields) -> list[dict]:
    return [
        claim("97110", units_97110, patient=PATIENT, **fields),
        claim("97140", 1, line=2, patient=PATIENT, **fields),
    ]


OVERBILLED = billed(3)


def audit(tmp_path: Path, claims: list[Path], timelogs: list[Path], *extra: str) -> dict:
    """One nightly audit on the shared store; its summary.json."""
    out = tmp_path / "out"
    args = ["audit", "--claims", *map(str, claims), "--timelogs", *map(str, timelogs)]
    code = main([*args, "--db", str(tmp_path / "store.duckdb"), "--out", str(out), *extra])
    assert code == 0
    return json.loads((out / "summary.json").read_text())


def by_file(summary: dict) -> dict[str, dict]:
    return {Path(i["file"]).name: i for i in summary["inputs"]}


def loaded_run_ids(db: Path) -> set[str]:
    with duckdb.connect(str(db)) as con:
        rows = con.execute("SELECT DISTINCT loaded_run_id FROM claim_lines").fetchall()
    return {row[0] for row in rows}


@pytest.fixture
def night1(tmp_path: Path) -> tuple[Path, Path]:
    return write_csv(tmp_path / "claims.csv", OVERBILLED), write_csv(tmp_path / "t.csv", SEGMENTS)


def test_exports_loaded_before_are_skipped_unread_and_still_reported(tmp_path, night1, capsys):
    first = audit(tmp_path, [night1[0]], [night1[1]], "--quiet")
    first_findings = (tmp_path / "out" / "findings.csv").read_text()
    second = audit(tmp_path, [night1[0]], [night1[1]], "--log-json")

    for name, source in by_file(second).items():
        assert source["status"] == "skipped", name
        assert source["loaded_in_run"] == first["run_id"]
        assert source["note"] == f"already loaded in run {first['run_id']}, skipped"
        counts = [source[c] for c in ("rows_read", "rows_accepted", "rows_rejected", "rows_new")]
        assert counts == [0, 0, 0, 0] and source["reconciled"]
    assert second["totals"]["files_skipped"] == 2 and second["totals"]["rows_read"] == 0
    # Nothing was read or validated: no load stage was timed, no row changed hands.
    assert not [t for t in second["timings"] if t["stage"].startswith("load:")]
    assert loaded_run_ids(tmp_path / "store.duckdb") == {first["run_id"]}
    # The skipped files' claims are still the run's: the same findings, the same ids.
    assert (tmp_path / "out" / "findings.csv").read_text() == first_findings
    assert second["findings"]["total"] == first["findings"]["total"] == 1
    assert second["audited"] == first["audited"]

    err = capsys.readouterr().err
    assert PATIENT not in err
    lines = [json.loads(line) for line in err.splitlines()]
    skipped = [line for line in lines if line.get("skipped")]
    assert [Path(line["file"]).name for line in skipped] == ["claims.csv", "t.csv"]
    assert all(line["loaded_in_run"] == first["run_id"] for line in skipped)
    (load,) = [line for line in lines if line.get("stage") == "load" and "files" in line]
    assert (load["files_skipped"], load["rows_read"]) == (2, 0)

    html = (tmp_path / "out" / "report.html").read_text()
    assert f"already loaded in run {first['run_id']}, skipped" in html


def test_the_same_path_with_other_content_is_loaded_as_a_new_version(tmp_path, night1, capsys):
    claims, timelogs = night1
    first = audit(tmp_path, [claims], [timelogs], "--quiet")
    write_csv(claims, billed(2))
    second = audit(tmp_path, [claims], [timelogs])

    source = by_file(second)["claims.csv"]
    assert (source["status"], source["previous_version_run"]) == ("loaded", first["run_id"])
    assert (source["rows_read"], source["rows_changed"]) == (2, 1)
    note = f"new version of {claims}; previous version loaded in run {first['run_id']}"
    assert source["note"] == note
    assert note in capsys.readouterr().err
    assert note in (tmp_path / "out" / "report.html").read_text()
    assert second["findings"]["total"] == 0, "the corrected units are what is audited"


def test_an_earlier_content_given_again_after_a_new_version_is_loaded(tmp_path, night1):
    """A, then B, then A again under one path: the store holds B's values, so A is
    loaded again (a new version of the path), not skipped."""
    claims, timelogs = night1
    audit(tmp_path, [claims], [timelogs], "--quiet")
    write_csv(claims, billed(2))
    second = audit(tmp_path, [claims], [timelogs], "--quiet")
    write_csv(claims, OVERBILLED)
    third = audit(tmp_path, [claims], [timelogs], "--quiet")

    source = by_file(third)["claims.csv"]
    assert (source["status"], source["previous_version_run"]) == ("loaded", second["run_id"])
    assert source["rows_changed"] == 1
    assert third["findings"]["total"] == 1


def test_one_content_given_twice_in_a_run_is_loaded_once(tmp_path, night1):
    claims, timelogs = night1
    copy = write_csv(tmp_path / "claims-copy.csv", OVERBILLED)
    summary = audit(tmp_path, [claims, copy], [timelogs], "--quiet")
    inputs = by_file(summary)
    assert inputs["claims.csv"]["status"] == "loaded"
    assert inputs["claims-copy.csv"]["loaded_in_run"] == summary["run_id"]
    assert summary["totals"]["rows_read"] == len(OVERBILLED) + len(SEGMENTS)


def test_a_store_from_before_inputs_were_compared_still_loads_its_files(tmp_path, night1):
    """An earlier store's inputs have no status and no recorded scope: a file it loaded
    is loaded again (adding nothing) rather than skipped with an unknown scope."""
    claims, timelogs = night1
    db = tmp_path / "store.duckdb"
    checksum = hashlib.sha256(claims.read_bytes()).hexdigest()
    with duckdb.connect(str(db)) as con:
        con.execute(
            "CREATE TABLE runs (run_id VARCHAR PRIMARY KEY, started_at TIMESTAMP NOT NULL, "
            "loaded_at TIMESTAMP, flagged_at TIMESTAMP, config_source VARCHAR)"
        )
        con.execute("INSERT INTO runs VALUES ('old', now(), now(), now(), NULL)")
        con.execute(
            "CREATE TABLE run_inputs (run_id VARCHAR NOT NULL, kind VARCHAR NOT NULL, "
            "source_file VARCHAR NOT NULL, checksum VARCHAR NOT NULL, rows_read BIGINT NOT NULL, "
            "rows_accepted BIGINT NOT NULL, rows_rejected BIGINT NOT NULL, "
            "rows_new BIGINT NOT NULL, rows_changed BIGINT NOT NULL)"
        )
        con.execute(
            "INSERT INTO run_inputs VALUES ('old', 'claims', ?, ?, 2, 2, 0, 2, 0)",
            [str(claims), checksum],
        )
    summary = audit(tmp_path, [claims], [timelogs], "--quiet")
    source = by_file(summary)["claims.csv"]
    assert (source["status"], source["note"], source["rows_read"]) == ("loaded", None, 2)
    assert summary["findings"]["total"] == 1
