"""The report and its machine-readable twins: self-contained, escaped, complete, and
small enough to open however many findings a run has."""

from __future__ import annotations

import base64
import hashlib
import re
import zipfile
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipeline.catalog import load_catalog
from pipeline.cli import main
from pipeline.config import load_config
from tests.conftest import (
    SAMPLE,
    Visit,
    back_to_back,
    claim,
    needs_chromium,
    segment,
    write_csv,
)

HOSTILE = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
MiB = 1024 * 1024


@pytest.fixture
def overbilled(audit_rows):
    claims = [claim("97110", 3, patient=HOSTILE), claim("97140", 1, line=2, patient=HOSTILE)]
    return audit_rows(claims, back_to_back(("97110", 23), ("97140", 15), patient=HOSTILE))


def _html(outputs) -> str:
    return (outputs.out / "report.html").read_text()


def _section(html: str, section: str) -> str:
    start = html.index(f'<section id="{section}">')
    return html[start : html.index("</section>", start)]


def test_outputs_are_all_written_and_no_temporary_file_is_left(overbilled):
    names = sorted(p.name for p in overbilled.out.iterdir())
    assert names == [
        "findings.csv",
        "findings.parquet",
        "findings.xlsx",
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


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_report_is_self_contained_and_admits_only_its_own_style_and_script(overbilled):
    html = _html(overbilled)
    assert not re.search(r"https?://", html)
    assert not re.search(r"<(link|img|iframe|object|embed)\b", html, re.IGNORECASE)
    assert not re.search(r"\sstyle=", html)  # the policy admits no inline style attribute
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)[1]
    assert csp.startswith("default-src 'none';")
    (style,) = re.findall(r"<style>(.*?)</style>", html, re.DOTALL)
    (script,) = re.findall(r"<script>(.*?)</script>", html, re.DOTALL)
    assert f"style-src {_csp_hash(style)};" in csp
    assert f"script-src {_csp_hash(script)};" in csp


def test_every_value_is_escaped_in_text_and_in_svg(audit_rows):
    hostile_modifier = {**claim("97140", 1, claim_id="C2", patient="P2"), "modifiers": HOSTILE}
    claims = [claim("97110", 3, patient=HOSTILE), claim("97140", 1, line=2, patient=HOSTILE)]
    segments = back_to_back(("97110", 23), ("97140", 15), patient=HOSTILE)
    outputs = audit_rows([*claims, hostile_modifier], segments)
    html = _html(outputs)
    assert HOSTILE not in html
    assert ESCAPED in _section(html, "findings")
    assert f"<title>Time log of {ESCAPED} on 2025-10-06</title>" in html  # inside the SVG
    assert "&lt;SCRIPT&gt;ALERT(1)&lt;/SCRIPT&gt;" in _section(html, "rejects")  # upper-cased
    assert html.count("<script>") == 1


def test_report_shows_summary_charts_providers_findings_and_evidence(overbilled):
    html = _html(overbilled)
    summary = _section(html, "summary")
    assert "2025-10-06 to 2025-10-06" in summary
    assert "$28.79" in summary
    assert "findings: 1" in summary and "not applicable" in summary
    charts = _section(html, "charts")
    assert charts.count("<svg") == 4
    assert "peer median" in charts
    assert 'id="p-1234567893"' in _section(html, "providers")
    evidence = _section(html, "evidence")
    assert "Timed units billed exceed what the logged minutes support" in evidence
    assert "CMS Pub. 100-04" in evidence  # the citation
    assert "the day's 38 timed minutes support 3 units" in evidence
    assert evidence.count('class="seg"') == 2
    assert "38 timed minutes support 3 units" in _section(html, "findings")


def test_overlapping_minutes_are_shaded_in_the_time_log(audit_rows):
    segments = [segment("97110", 30, start="08:00"), segment("97140", 20, start="08:20")]
    outputs = audit_rows([claim("97110", 2), claim("97140", 1, line=2)], segments)
    evidence = _section(_html(outputs), "evidence")
    assert evidence.count('class="overlap"') == 1
    assert "<title>overlap</title>" in evidence
    assert "97140 08:20-08:40 PT 1234567893, counts 10 min</title>" in evidence


def test_empty_run_renders_every_section(audit_rows):
    outputs = audit_rows([claim("97110", 2)], [segment("97110", 30)])
    html = _html(outputs)
    assert outputs.findings.height == 0
    for section in ("findings", "evidence", "providers", "patients"):
        assert "No findings." in _section(html, section)
    assert "No dollars at risk." in _section(html, "charts")
    assert "No rows were rejected." in html
    assert len(re.findall(r'<article id="rule-', html)) == len(load_catalog(load_config()).rules)


def test_report_caps_findings_per_rule_and_evidence_per_rule(tmp_path, audit_rows):
    config = tmp_path / "cap.toml"
    config.write_text("[report]\nmax_findings_per_rule = 3\nevidence_per_rule = 2\n")
    claims = [claim("97110", 2, claim_id=f"C{i}", patient=f"P{i}") for i in range(5)]
    segments = [segment("97110", 15, patient=f"P{i}", start=f"{8 + i:02d}:00") for i in range(5)]
    outputs = audit_rows(claims, segments, "--config", str(config))
    html = _html(outputs)
    assert outputs.findings.height == 5
    assert _section(html, "findings").count('<tr class="sev-high"') == 3
    assert "2 more are in findings.csv" in html.replace("2 more (UNITS_OVERBILLED 2)", "2 more")
    assert _section(html, "evidence").count('<article id="d') == 2


def test_the_sample_run_shows_every_rule_episodes_and_rejects(tmp_path):
    out = tmp_path / "out"
    args = ["audit", "--claims", str(SAMPLE / "claims.csv"), "--timelogs"]
    args += [str(SAMPLE / "timelogs.csv"), "--db", str(tmp_path / "s.duckdb"), "--out", str(out)]
    assert main([*args, "--quiet"]) == 0
    html = (out / "report.html").read_text()
    findings = pl.read_csv(out / "findings.csv", infer_schema=False)
    evidence = _section(html, "evidence")
    for rule_id in findings["rule_id"].unique():
        assert f'href="#rule-{rule_id}"' in evidence
    patients = _section(html, "patients")
    assert "past 12 (medium)" in patients  # the COURSE_LONG patient's 13th visit
    assert "KX threshold passed" in patients
    rejects = _section(html, "rejects")
    assert rejects.count('<h3 id="reason-') == len(
        pl.read_csv(out / "rejects.csv")["reason"].unique()
    )
    catalog = _section(html, "catalog")
    assert "course_visits_medium = 12" in catalog  # a payer profile's parameter
    assert "<code>kx_thresholds</code> = year 2019, pt_slp 2040, ot 2040;" in catalog


def test_findings_workbook_has_a_summary_and_a_sheet_per_rule(overbilled):
    with zipfile.ZipFile(overbilled.out / "findings.xlsx") as book:
        workbook = book.read("xl/workbook.xml").decode()
        sheet = book.read("xl/worksheets/sheet2.xml").decode()
    assert re.findall(r'<sheet name="([^"]+)"', workbook) == ["Summary", "UNITS_OVERBILLED"]
    assert 'state="frozen"' in sheet and 'ySplit="1"' in sheet
    assert len(re.findall(r"<row ", sheet)) == 2  # header and the one finding
    assert re.search(r'<col min="13" max="13" width="(\d+)', sheet)  # the message, sized


def test_a_report_that_fails_leaves_no_output_behind(tmp_path, overbilled, monkeypatch):
    """The workbook is written last: every other file was written under its temporary
    name by then, and none is left."""

    def broken(*args, **kwargs):
        raise RuntimeError("the workbook cannot be made")

    monkeypatch.setattr("reports.xlsx.write", broken)
    out = tmp_path / "failed"
    with pytest.raises(RuntimeError, match="the workbook cannot be made"):
        main(["report", "--db", str(overbilled.db), "--out", str(out), "--quiet"])
    assert list(out.iterdir()) == []


# --- a run with 100,000 findings -----------------------------------------------------

RULES = [rule.id for rule in load_catalog(load_config()).rules]


@pytest.fixture(scope="module")
def hundred_thousand(tmp_path_factory):
    """A real store of 1,000 patient-days, audited, then given 100,000 findings spread
    over every rule and those patient-days, and reported again."""
    tmp = tmp_path_factory.mktemp("big")
    days = [(f"P{i:04d}", f"2025-10-{6 + i % 20:02d}") for i in range(1000)]
    claims, segments = [], []
    for i, (patient, day) in enumerate(days):
        claims += [
            claim("97110", 3, claim_id=f"C{i}", patient=patient, date=day),
            claim("97140", 1, claim_id=f"C{i}", line=2, patient=patient, date=day),
        ]
        segments += back_to_back(("97110", 23), ("97140", 15), patient=patient, date=day)
    db, out = tmp / "big.duckdb", tmp / "out"
    args = ["--db", str(db), "--out", str(out), "--quiet"]
    claims_file, timelogs_file = (
        write_csv(tmp / "c.csv", claims),
        write_csv(tmp / "t.csv", segments),
    )
    assert (
        main(["audit", "--claims", str(claims_file), "--timelogs", str(timelogs_file), *args]) == 0
    )
    con = duckdb.connect(str(db))
    con.execute(
        """
        INSERT INTO findings
        SELECT f.run_id, substr(md5(CAST(n AS VARCHAR)), 1, 16), $rules[1 + n % len($rules)],
            'high', l.patient_id, l.rendering_npi, l.service_date, l.claim_id, l.line_number,
            l.cpt_code, 3, 2, 28.79, 'A long enough message, as the rules write them, naming '
            || 'the minutes, the times and the codes: 97110 23 min billed x3, 97140 15 min.',
            l.payer, 1
        FROM range(100000 - (SELECT count(*) FROM findings)) AS r(n)
        JOIN (SELECT *, row_number() OVER () - 1 AS i FROM claim_lines) AS l ON l.i = n % 2000
        CROSS JOIN (SELECT DISTINCT run_id FROM findings) AS f
        """,
        {"rules": RULES},
    )
    con.close()
    assert main(["report", *args]) == 0
    return out


def test_a_hundred_thousand_findings_make_a_small_report_and_complete_files(hundred_thousand):
    html = (hundred_thousand / "report.html").read_text()
    assert (hundred_thousand / "report.html").stat().st_size < 10 * MiB
    assert _section(html, "findings").count("<tr class=") == 500 * len(RULES)
    assert _section(html, "evidence").count('<article id="d') <= 50 * len(RULES)
    assert pl.read_parquet(hundred_thousand / "findings.parquet").height == 100_000
    with zipfile.ZipFile(hundred_thousand / "findings.xlsx") as book:
        assert len(re.findall(r"<sheet ", book.read("xl/workbook.xml").decode())) == len(RULES) + 1


@needs_chromium
def test_a_hundred_thousand_findings_report_opens_in_seconds(hundred_thousand, browser):
    visit = Visit(browser, hundred_thousand / "report.html")
    assert visit.console == []
    assert visit.load_seconds < 10
    visit.page.select_option(".filters select >> nth=1", RULES[0])
    assert visit.visible_rows() == 500
    visit.page.close()


def test_pseudonymize_replaces_patient_ids_in_every_output(tmp_path, audit_rows, monkeypatch):
    monkeypatch.setenv("PTAUDIT_PSEUDONYM_KEY", "a secret of the compliance team")
    # Two patients with one provider at once: the overlap message names both.
    segments = [
        segment("97110", 30, patient="PATIENT-ANNE"),
        segment("97110", 30, patient="PATIENT-BOB", start="08:10"),
    ]
    claims = [
        claim("97110", 4, patient="PATIENT-ANNE"),
        claim("97110", 2, claim_id="C2", patient="PATIENT-BOB"),
        {**claim("97110", 1, claim_id="C3"), "patient_id": None},
    ]
    first = audit_rows(claims, segments, "--pseudonymize")
    assert "OVERLAP_ONE_ON_ONE" in first.findings["rule_id"].to_list()
    written = {p.name: p.read_bytes() for p in first.out.iterdir()}
    with zipfile.ZipFile(first.out / "findings.xlsx") as book:
        written |= {name: book.read(name) for name in book.namelist()}
    for name, content in written.items():
        assert b"PATIENT-ANNE" not in content and b"PATIENT-BOB" not in content, name
    pseudonyms = set(first.findings["patient_id"])
    assert all(p.startswith("PX-") for p in pseudonyms)
    assert any(p in m for m in first.findings["message"] for p in pseudonyms)
    second = audit_rows(claims, segments, "--pseudonymize")
    assert set(second.findings["patient_id"]) == pseudonyms  # stable across runs


def test_pseudonymize_without_a_key_is_a_usage_error(tmp_path, cli, monkeypatch, capsys):
    monkeypatch.delenv("PTAUDIT_PSEUDONYM_KEY", raising=False)
    result = cli([SAMPLE / "claims.csv"], [SAMPLE / "timelogs.csv"], "--pseudonymize")
    assert result.exit_code == 2
    error = capsys.readouterr().err.strip()
    assert (
        error
        == "ptaudit: error: --pseudonymize needs a secret key in the PTAUDIT_PSEUDONYM_KEY variable"
    )
    assert not Path(result.out).exists()


def test_an_id_inside_a_longer_token_is_left_alone():
    from reports.pseudonym import Pseudonymizer

    pseudonyms = Pseudonymizer(b"key")
    text = pl.Series(["with P1 and P12 at 97110.", "nobody"])
    rewritten = pseudonyms.text(text, ["P1", "97"]).to_list()
    assert rewritten == [f"with {pseudonyms.pseudonym('P1')} and P12 at 97110.", "nobody"]
