"""The report and its machine-readable twins: self-contained, escaped, complete,
and rendered by a real headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess

import polars as pl
import pytest

from tests.conftest import back_to_back, claim, segment

HOSTILE = "<script>alert(1)</script>"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def overbilled(audit_rows):
    claims = [claim("97110", 3, patient=HOSTILE), claim("97140", 1, line=2, patient=HOSTILE)]
    return audit_rows(claims, back_to_back(("97110", 23), ("97140", 15), patient=HOSTILE))


def test_outputs_are_all_written_and_no_temporary_file_is_left(overbilled):
    names = sorted(p.name for p in overbilled.out.iterdir())
    assert names == [
        "findings.csv",
        "findings.parquet",
        "rejects.csv",
        "report.html",
        "summary.json",
    ]


def test_findings_files_carry_the_contract_columns(overbilled):
    contract = [
        "finding_id", "rule_id", "severity", "patient_id", "provider_npi", "service_date",
        "claim_id", "line_number", "cpt_code", "units_billed", "units_supported",
        "amount_at_risk", "message",
    ]  # fmt: skip
    assert overbilled.findings.columns[: len(contract)] == contract
    parquet = pl.read_parquet(overbilled.out / "findings.parquet")
    assert parquet["finding_id"].to_list() == overbilled.findings["finding_id"].to_list()
    assert parquet.schema["service_date"] == pl.Date


def test_summary_reconciles_and_counts_money_per_rule(overbilled):
    summary = overbilled.summary
    assert summary["totals"]["reconciled"] is True
    assert all(i["reconciled"] for i in summary["inputs"])
    assert all(len(i["sha256"]) == 64 for i in summary["inputs"])
    assert summary["findings"]["by_rule"]["UNITS_OVERBILLED"] | {"title": None} == {
        "title": None,
        "severity": "high",
        "money": "at_risk",
        "status": "findings",
        "findings": 1,
        "amount_at_risk": 28.79,
        "note": None,
    }
    assert summary["findings"]["by_rule"]["TIME_LOG_MISSING"]["status"] == "clean"
    assert summary["versions"]["rule_catalog"]
    assert set(summary["versions"]["reference"]) >= {"cpt_codes.csv", "rules"}


def test_report_is_self_contained_and_escapes_every_value(overbilled):
    html = (overbilled.out / "report.html").read_text()
    assert HOSTILE not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert not re.search(r"https?://", html)
    assert not re.search(r"<(script|link|img|iframe)\b", html, re.IGNORECASE)
    assert "Content-Security-Policy" in html and "default-src 'none'" in html


def test_report_shows_summary_providers_and_findings(overbilled):
    html = (overbilled.out / "report.html").read_text()
    for section in ('id="summary"', 'id="providers"', 'id="findings"', 'id="rejects"'):
        assert section in html
    assert "$28.79" in html
    assert "38 timed minutes support 3 units" in html


def test_report_caps_findings_per_rule(tmp_path, audit_rows):
    config = tmp_path / "cap.toml"
    config.write_text("[report]\nmax_findings_per_rule = 2\n")
    claims = [claim("97110", 2, claim_id=f"C{i}", patient=f"P{i}") for i in range(5)]
    segments = [segment("97110", 15, patient=f"P{i}", start=f"{8 + i:02d}:00") for i in range(5)]
    outputs = audit_rows(claims, segments, "--config", str(config))
    html = (outputs.out / "report.html").read_text()
    assert outputs.findings.height == 5
    assert html.count('<tr class="severity-high"') == 2
    assert "3 more are in findings.csv" in html


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (make test installs it)")
def test_report_renders_in_headless_chromium(overbilled, tmp_path):
    report = overbilled.out / "report.html"
    profile = tmp_path / "chromium-profile"
    dom = subprocess.run(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", report.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert "Therapy claims audit" in dom
    assert "UNITS_OVERBILLED" in dom
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom
    screenshot = tmp_path / "report.png"
    subprocess.run(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--screenshot={screenshot}",
         "--window-size=1280,2000", report.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )  # fmt: skip
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
