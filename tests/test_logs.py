"""Run logs: with --log-json every stderr line is a JSON object carrying the stage, the
counts and the durations, and no line carries a patient identifier."""

from __future__ import annotations

import json

from pipeline.cli import main
from tests.conftest import back_to_back, claim, write_csv

PATIENT = "PATIENT-7731"


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_json_logs_carry_stages_and_counts_and_no_patient_id(tmp_path, capsys):
    claims = write_csv(
        tmp_path / "c.csv",
        [claim("97110", 3, patient=PATIENT), claim("97110", 0, line=2, patient=PATIENT)],
    )
    timelogs = write_csv(tmp_path / "t.csv", back_to_back(("97110", 23), patient=PATIENT))
    args = ["audit", "--claims", str(claims), "--timelogs", str(timelogs)]
    args += ["--db", str(tmp_path / "s.duckdb"), "--out", str(tmp_path / "out"), "--log-json"]
    assert main(args) == 0
    err = capsys.readouterr().err
    lines = json_lines(err)
    assert PATIENT not in err
    assert {line["level"] for line in lines} <= {"info", "warning"}
    (load,) = [line for line in lines if line.get("stage") == "load"]
    assert (load["rows_read"], load["rows_accepted"], load["rows_rejected"]) == (3, 2, 1)
    timed = {line["stage"] for line in lines if "seconds" in line}
    assert {"load: validate claims", "load: store claims", "flag: UNITS_OVERBILLED"} <= timed
    assert {"flag: reference tables", "flag: derived code_day_units"} <= timed
    (flagged,) = [line for line in lines if line.get("stage") == "flag"]
    assert flagged["findings"] >= 1 and flagged["run_id"] == load["run_id"]
    (reported,) = [line for line in lines if line.get("stage") == "report"]
    assert "report.html" in reported["outputs"]


def test_a_usage_error_is_one_json_line_with_its_exit_code(tmp_path, capsys):
    missing = tmp_path / "nowhere.csv"
    args = ["audit", "--claims", str(missing), "--timelogs", str(missing)]
    args += ["--db", str(tmp_path / "s.duckdb"), "--out", str(tmp_path / "out"), "--log-json"]
    assert main(args) == 2
    (line,) = json_lines(capsys.readouterr().err)
    assert line["level"] == "error" and line["exit_code"] == 2
    assert line["message"] == f"{missing}: file not found"
