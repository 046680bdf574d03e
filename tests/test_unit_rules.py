"""UNITS_OVERBILLED, UNITS_UNDER_8_MIN and TIME_LOG_MISSING end to end: rows in,
findings.csv out, with the evidence and dollars an auditor checks by hand."""

from __future__ import annotations

from tests.conftest import back_to_back, claim, segment, write_csv

MEDICARE, COMMERCIAL = "MEDICARE PART B", "AETNA"
RATE_97110_2025 = 28.79  # (0.45 + 0.43 + 0.01) RVU x $32.3465
RATE_97140_2025 = 27.17  # (0.43 + 0.40 + 0.01) RVU x $32.3465


def findings_by_rule(outputs) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    for row in outputs.findings.to_dicts():
        grouped.setdefault(row["rule_id"], []).append(row)
    return grouped


def test_cms_overbilling_lands_on_the_code_billed_over_its_share(audit_rows):
    claims = [claim("97110", 3), claim("97140", 1, line=2)]
    found = findings_by_rule(audit_rows(claims, back_to_back(("97110", 23), ("97140", 15))))
    assert list(found) == ["UNITS_OVERBILLED"]
    (finding,) = found["UNITS_OVERBILLED"]
    assert finding["cpt_code"] == "97110"
    assert (finding["units_billed"], finding["units_supported"], finding["units_at_risk"]) == (
        "3",
        "2",
        "1",
    )
    assert float(finding["amount_at_risk"]) == RATE_97110_2025
    assert "38 timed minutes support 3 units, 4 billed" in finding["message"]
    assert "97110 23 min billed x3, 97140 15 min billed x1" in finding["message"]


def test_cms_day_total_decides_not_each_code(audit_rows):
    # 20 + 20 minutes support 3 units; billing 2 + 1 either way is correct.
    claims = [claim("97110", 1), claim("97140", 2, line=2)]
    outputs = audit_rows(claims, back_to_back(("97110", 20), ("97140", 20)))
    assert outputs.findings.is_empty()


def test_cms_at_risk_units_add_up_to_the_day_excess(audit_rows):
    # 30 min in all support 2 units; 5 are billed: 3 units at risk, no more.
    claims = [claim("97110", 3), claim("97112", 2, line=2)]
    outputs = audit_rows(claims, back_to_back(("97110", 15), ("97112", 15)))
    rows = outputs.findings.select("cpt_code", "units_at_risk").rows()
    assert sorted(rows) == [("97110", "2"), ("97112", "1")]


def test_ama_judges_each_code_alone(audit_rows):
    # Per code: 97110 20 min = 1 unit (2 billed); 97112 30 min = 2 units (2 billed).
    claims = [
        claim("97110", 2, payer=COMMERCIAL),
        claim("97112", 2, line=2, payer=COMMERCIAL),
    ]
    found = findings_by_rule(audit_rows(claims, back_to_back(("97110", 20), ("97112", 30))))
    (finding,) = found["UNITS_OVERBILLED"]
    assert (finding["cpt_code"], finding["units_at_risk"]) == ("97110", "1")
    assert finding["message"].startswith("Per-code method: 97110 has 20 logged minutes")


def test_ama_underbilled_code_does_not_offset_an_overbilled_one(audit_rows):
    claims = [
        claim("97110", 2, payer=COMMERCIAL),
        claim("97112", 1, line=2, payer=COMMERCIAL),
    ]
    outputs = audit_rows(claims, back_to_back(("97110", 20), ("97112", 45)))
    assert sorted(outputs.findings.select("rule_id", "cpt_code", "units_at_risk").rows()) == [
        ("UNITS_OVERBILLED", "97110", "1"),
        ("UNITS_UNDERBILLED", "97112", "2"),
    ]


def test_seven_minutes_earn_a_unit_under_cms_but_not_per_code(audit_rows):
    segments = back_to_back(("97110", 33), ("97140", 7))
    medicare = [claim("97110", 2), claim("97140", 1, line=2)]
    assert audit_rows(medicare, segments).findings.is_empty()


def test_seven_minutes_per_code_is_under_8_min(audit_rows):
    segments = back_to_back(("97110", 33), ("97140", 7))
    commercial = [claim("97110", 2, payer=COMMERCIAL), claim("97140", 1, line=2, payer=COMMERCIAL)]
    found = findings_by_rule(audit_rows(commercial, segments))
    assert list(found) == ["UNITS_UNDER_8_MIN"]
    (finding,) = found["UNITS_UNDER_8_MIN"]
    assert (finding["cpt_code"], finding["units_supported"], finding["units_at_risk"]) == (
        "97140",
        "0",
        "1",
    )
    assert float(finding["amount_at_risk"]) == RATE_97140_2025
    assert "with 7 logged minutes" in finding["message"]


def test_cms_under_8_min_when_leftover_minutes_go_elsewhere(audit_rows):
    # 30 + 5 = 35 minutes = 2 units, both earned whole by 97110.
    claims = [claim("97110", 2), claim("97140", 1, line=2)]
    found = findings_by_rule(audit_rows(claims, back_to_back(("97110", 30), ("97140", 5))))
    assert list(found) == ["UNITS_UNDER_8_MIN"]
    assert "35 timed minutes" in found["UNITS_UNDER_8_MIN"][0]["message"]


def test_eight_minutes_is_not_under_8_min(audit_rows):
    claims = [claim("97140", 1, payer=COMMERCIAL)]
    assert audit_rows(claims, [segment("97140", 8)]).findings.is_empty()


def test_billed_code_without_its_segments_is_time_log_missing(audit_rows):
    claims = [claim("97110", 2), claim("97112", 1, line=2)]
    found = findings_by_rule(audit_rows(claims, [segment("97110", 30)]))
    assert list(found) == ["TIME_LOG_MISSING"]
    (finding,) = found["TIME_LOG_MISSING"]
    assert (finding["cpt_code"], finding["line_number"], finding["units_at_risk"]) == (
        "97112",
        "2",
        "1",
    )
    assert "no time-log segment for that code" in finding["message"]


def test_units_are_not_counted_twice_across_the_three_rules(audit_rows):
    # 97110 15 min (1 unit) billed x2, 97112 missing billed x1, 97140 5 min billed x1:
    # 4 billed, 1 supported; 3 at risk in all, one per rule.
    claims = [claim("97110", 2), claim("97112", 1, line=2), claim("97140", 1, line=3)]
    outputs = audit_rows(claims, back_to_back(("97110", 15), ("97140", 5)))
    rows = sorted(outputs.findings.select("rule_id", "cpt_code", "units_at_risk").rows())
    assert rows == [
        ("TIME_LOG_MISSING", "97112", "1"),
        ("UNITS_OVERBILLED", "97110", "1"),
        ("UNITS_UNDER_8_MIN", "97140", "1"),
    ]


def test_days_the_time_logs_do_not_cover_are_not_judged(audit_rows):
    claims = [claim("97110", 2), claim("97110", 2, claim_id="C2", date="2025-10-07")]
    outputs = audit_rows(claims, [segment("97110", 30)])
    assert outputs.findings.is_empty()
    by_rule = outputs.summary["findings"]["by_rule"]
    note = "1 claim lines on days the time logs do not cover were not judged"
    assert {by_rule[r]["note"] for r in ("UNITS_OVERBILLED", "TIME_LOG_MISSING")} == {note}


def test_unjudged_lines_of_every_share_of_patients_are_counted(tmp_path, audit_rows):
    # Three lines in shares of one line: P1 and P3 fall in different shares, and each has
    # a line on a day the time logs do not cover.
    claims = [
        claim("97110", 2),
        claim("97110", 2, claim_id="C2", date="2025-10-07"),
        claim("97110", 2, claim_id="C3", patient="P3", date="2025-10-07"),
    ]
    config = tmp_path / "shares.toml"
    config.write_text("[store]\npartition_rows = 1\n")
    outputs = audit_rows(claims, [segment("97110", 30)], "--config", str(config))
    assert "flag: share inputs" in {t["stage"] for t in outputs.summary["timings"]}
    by_rule = outputs.summary["findings"]["by_rule"]
    note = "2 claim lines on days the time logs do not cover were not judged"
    assert {by_rule[r]["note"] for r in ("UNITS_OVERBILLED", "TIME_LOG_MISSING")} == {note}


def test_untimed_codes_are_never_flagged(audit_rows):
    claims = [claim("97161", 1), claim("97150", 1, line=2)]
    outputs = audit_rows(claims, [segment("97110", 30, patient="P2")])
    assert outputs.findings.is_empty()


def test_configuration_switches_a_rule_off_and_changes_severity(tmp_path, audit_rows):
    config = tmp_path / "config.toml"
    config.write_text(
        '[rules.TIME_LOG_MISSING]\nenabled = false\n[rules.UNITS_OVERBILLED]\nseverity = "low"\n'
    )
    claims = [claim("97110", 3), claim("97112", 1, line=2)]
    outputs = audit_rows(claims, [segment("97110", 30)], "--config", str(config))
    assert outputs.findings.select("rule_id", "severity").rows() == [("UNITS_OVERBILLED", "low")]
    by_rule = outputs.summary["findings"]["by_rule"]
    assert by_rule["TIME_LOG_MISSING"]["status"] == "disabled"


def test_payer_profiles_decide_the_method(tmp_path, audit_rows):
    config = tmp_path / "config.toml"
    config.write_text(
        '[[payer_profiles]]\nname = "all"\npayers = ["*"]\nunit_method = "cms_total_time"\n'
    )
    segments = back_to_back(("97110", 33), ("97140", 7))
    commercial = [claim("97110", 2, payer=COMMERCIAL), claim("97140", 1, line=2, payer=COMMERCIAL)]
    assert audit_rows(commercial, segments, "--config", str(config)).findings.is_empty()


def test_rules_without_time_logs_are_not_applicable(tmp_path, cli):
    claims = write_csv(tmp_path / "claims.csv", [claim("97110", 2)])
    timelogs = tmp_path / "timelogs.csv"
    timelogs.write_text(
        "patient_id,provider_npi,provider_role,service_date,cpt_code,start_time,end_time\n"
    )
    outputs = cli([claims], [timelogs])
    assert outputs.exit_code == 0
    by_rule = outputs.summary["findings"]["by_rule"]
    time_log_rules = ("UNITS_OVERBILLED", "UNITS_UNDER_8_MIN", "TIME_LOG_MISSING")
    assert {by_rule[r]["status"] for r in time_log_rules} == {"not applicable"}
    assert by_rule["TIME_LOG_MISSING"]["note"] == "no data in time_segments"


def test_a_wrong_therapy_modifier_does_not_make_logged_minutes_missing(audit_rows):
    # PT logged 30 minutes of 97110; the line says GO. The minutes are there: only the
    # modifier is wrong, and that is MODIFIER_THERAPY_MISSING's finding alone.
    outputs = audit_rows([claim("97110", 2, modifiers="GO")], [segment("97110", 30)])
    assert outputs.findings["rule_id"].to_list() == ["MODIFIER_THERAPY_MISSING"]


def test_a_shared_parameter_set_on_one_rule_is_refused(tmp_path, cli, capsys):
    config = tmp_path / "config.toml"
    config.write_text("[rules.UNITS_OVERBILLED.params]\nmin_minutes = 9\n")
    claims = write_csv(tmp_path / "c.csv", [claim("97110", 1)])
    outputs = cli(
        [claims], [write_csv(tmp_path / "t.csv", [segment("97110", 15)])], "--config", str(config)
    )
    assert outputs.exit_code == 2
    assert (
        "min_minutes is not a parameter of that rule; set it under [params]"
        in capsys.readouterr().err
    )
