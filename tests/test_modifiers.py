"""The modifier rules end to end: MODIFIER_THERAPY_MISSING, MODIFIER_ASSISTANT_MISSING,
MODIFIER_52_ON_TIMED, MODIFIER_25_UNNEEDED and TELEHEALTH_MODIFIER_MISSING, each at the
edges of its thresholds, with the evidence an auditor checks by hand."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import OT_NPI, PT_NPI, PTA_NPI, back_to_back, claim, segment, write_csv

MEDICARE, COMMERCIAL = "MEDICARE PART B", "AETNA"
MODIFIER_RULES = (
    "MODIFIER_THERAPY_MISSING",
    "MODIFIER_ASSISTANT_MISSING",
    "MODIFIER_52_ON_TIMED",
    "MODIFIER_25_UNNEEDED",
    "TELEHEALTH_MODIFIER_MISSING",
)
# Medicare national non-facility amounts (rules/reference): (work + PE + MP RVU) x CF.
RATE_97110_2025 = 28.79
RATE_97110_2020 = 31.40
RATE_97530_2025 = 34.61
RATE_97165_2025 = 100.60
ASSISTANT_DIFFERENTIAL = 0.15  # 1 - assistant_rate_fraction
# A segment on a day of its own, for tests whose claims need no time log: the exports
# must hold one, and a claim day the log does not cover is left to the claim-only rules.
ELSEWHERE = [segment("97110", 15, patient="PX", date="2025-09-01")]


def found(outputs, rule_id: str | None = None) -> list[dict[str, Any]]:
    """This file's rules' findings (or one rule's), by claim and line."""
    rules = (rule_id,) if rule_id else MODIFIER_RULES
    rows = [r for r in outputs.findings.to_dicts() if r["rule_id"] in rules]
    return sorted(rows, key=lambda r: (r["rule_id"], r["claim_id"], int(r["line_number"])))


def shape(row: dict[str, Any]) -> tuple:
    return (
        row["rule_id"],
        row["claim_id"],
        row["line_number"],
        row["cpt_code"],
        row["units_billed"],
        row["units_supported"],
        row["units_at_risk"],
    )


def amount(row: dict[str, Any]) -> float | None:
    return None if row["amount_at_risk"] is None else float(row["amount_at_risk"])


def pta(cpt: str, minutes: int, **fields: Any) -> dict[str, Any]:
    return segment(cpt, minutes, role="PTA", npi=PTA_NPI, **fields)


def ot(cpt: str, minutes: int, **fields: Any) -> dict[str, Any]:
    return segment(cpt, minutes, role="OT", npi=OT_NPI, **fields)


def ota(cpt: str, minutes: int, **fields: Any) -> dict[str, Any]:
    return segment(cpt, minutes, role="OTA", npi=OT_NPI, **fields)


def config_file(tmp_path, text: str):
    path = tmp_path / "config.toml"
    path.write_text(text)
    return str(path)


# ---- MODIFIER_THERAPY_MISSING ---------------------------------------------------------


def test_therapy_code_without_any_therapy_modifier(audit_rows):
    outputs = audit_rows([claim("97110", 2, modifiers=None)], [segment("97110", 30)])
    (finding,) = found(outputs)
    assert shape(finding) == ("MODIFIER_THERAPY_MISSING", "C1", "1", "97110", "2", "0", "2")
    assert finding["severity"] == "high"
    assert amount(finding) == round(2 * RATE_97110_2025, 2)
    assert "none of the therapy modifiers GN, GO, GP" in finding["message"]
    assert "under PT 30 min, so GP (PT) is expected" in finding["message"]


def test_gp_on_an_ot_logged_code_expects_go(audit_rows):
    outputs = audit_rows([claim("97530", 2, modifiers="GP")], [ot("97530", 30)])
    (finding,) = found(outputs)
    assert shape(finding) == ("MODIFIER_THERAPY_MISSING", "C1", "1", "97530", "2", "0", "2")
    assert amount(finding) == round(2 * RATE_97530_2025, 2)
    assert "billed with GP (PT), which does not match" in finding["message"]
    assert "under OT 30 min, so GO (OT) is expected" in finding["message"]


def test_go_on_the_same_ot_logged_code_is_clean(audit_rows):
    outputs = audit_rows([claim("97530", 2, modifiers="GO")], [ot("97530", 30)])
    assert outputs.findings.is_empty()


def test_two_therapy_modifiers_on_one_line(audit_rows):
    outputs = audit_rows([claim("97110", 1, modifiers="GP,GO")], [segment("97110", 15)])
    (finding,) = found(outputs)
    assert shape(finding) == ("MODIFIER_THERAPY_MISSING", "C1", "1", "97110", "1", "0", "1")
    assert "carries GO and GP, where a line carries exactly one" in finding["message"]
    assert "so GP (PT) is expected" in finding["message"]


def test_missing_wrong_and_double_modifiers_are_each_reported(audit_rows):
    claims = [
        claim("97110", 1, modifiers="59"),
        claim("97530", 1, line=2, modifiers="GP"),
        claim("97140", 1, line=3, modifiers="GN,GP"),
        claim("97112", 1, line=4, modifiers="GP"),
    ]
    segments = [
        *back_to_back(("97110", 15), ("97140", 15), ("97112", 15)),
        ot("97530", 15, start="09:00"),
    ]
    rows = found(audit_rows(claims, segments))
    assert [(r["line_number"], r["cpt_code"]) for r in rows] == [
        ("1", "97110"),
        ("2", "97530"),
        ("3", "97140"),
    ]
    assert {r["rule_id"] for r in rows} == {"MODIFIER_THERAPY_MISSING"}


def test_most_logged_minutes_decide_the_expected_modifier(audit_rows):
    # 97530: PT 10 minutes, OT 20 minutes; a line without a modifier expects GO.
    segments = [segment("97530", 10), ot("97530", 20, start="08:10")]
    (finding,) = found(audit_rows([claim("97530", 2, modifiers=None)], segments))
    assert "under OT 20 min, PT 10 min, so GO (OT) is expected" in finding["message"]


def test_co_treatment_lines_of_both_disciplines_are_clean(audit_rows):
    # PT and OT both logged 97530 that day; each line carries its own discipline's modifier.
    claims = [claim("97530", 1, modifiers="GP"), claim("97530", 1, line=2, modifiers="GO")]
    segments = [segment("97530", 15), ot("97530", 20, start="08:15")]
    assert found(audit_rows(claims, segments)) == []


def test_evaluation_without_a_log_expects_its_own_discipline(audit_rows):
    claims = [
        claim("97165", 1, modifiers="GP"),
        claim("97161", 1, claim_id="C2", patient="P2"),
    ]
    (finding,) = found(audit_rows(claims, ELSEWHERE))
    assert shape(finding) == ("MODIFIER_THERAPY_MISSING", "C1", "1", "97165", "1", "0", "1")
    assert amount(finding) == RATE_97165_2025
    assert "the code belongs to OT, so GO is expected" in finding["message"]


def test_unlogged_timed_code_accepts_any_one_modifier_but_not_none(audit_rows):
    claims = [
        claim("97110", 1, modifiers="GO"),
        claim("97112", 1, line=2, modifiers=None),
    ]
    (finding,) = found(audit_rows(claims, ELSEWHERE))
    assert (finding["line_number"], finding["cpt_code"]) == ("2", "97112")
    assert "to tell the discipline by, so one of GN, GO, GP is expected" in finding["message"]


def test_codes_that_are_not_always_therapy_need_no_modifier(audit_rows):
    # 97010 is bundled and not on CMS's always-therapy list; 99213 is no therapy code.
    claims = [claim("97010", 1, modifiers=None), claim("99213", 1, line=2, modifiers=None)]
    assert found(audit_rows(claims, ELSEWHERE)) == []


def test_therapy_modifier_rule_runs_without_time_logs(tmp_path, cli):
    claims = write_csv(tmp_path / "claims.csv", [claim("97110", 1, modifiers=None)])
    timelogs = tmp_path / "timelogs.csv"
    timelogs.write_text(
        "patient_id,provider_npi,provider_role,service_date,cpt_code,start_time,end_time\n"
    )
    outputs = cli([claims], [timelogs])
    by_rule = outputs.summary["findings"]["by_rule"]
    assert by_rule["MODIFIER_THERAPY_MISSING"]["status"] == "findings"
    assert by_rule["MODIFIER_ASSISTANT_MISSING"]["status"] == "not applicable"
    assert [shape(r)[0] for r in found(outputs)] == ["MODIFIER_THERAPY_MISSING"]


# ---- MODIFIER_ASSISTANT_MISSING -------------------------------------------------------


def test_pta_furnishing_most_of_the_only_unit_needs_cq(audit_rows):
    # PTA 10 + PT 5 minutes of 97110: one unit, the assistant's share 67%.
    segments = [pta("97110", 10), segment("97110", 5, start="08:10")]
    (finding,) = found(audit_rows([claim("97110", 1)], segments))
    assert shape(finding) == ("MODIFIER_ASSISTANT_MISSING", "C1", "1", "97110", "1", "0", "1")
    assert amount(finding) == round(RATE_97110_2025 * ASSISTANT_DIFFERENTIAL, 2)
    message = finding["message"]
    assert "15 logged minutes, 10 by the assistant and 5 by the therapist" in message
    assert "final unit(s): 1 from 15 minutes, 10 by the assistant (67%, over the 10%" in message
    assert "1 billed unit(s) need CQ, 0 carry it (C1 line 1 x1 GP)" in message


def test_the_same_unit_billed_with_cq_is_clean(audit_rows):
    segments = [pta("97110", 10), segment("97110", 5, start="08:10")]
    assert found(audit_rows([claim("97110", 1, modifiers="GP,CQ")], segments)) == []


def test_one_assistant_minute_of_fifteen_is_de_minimis(audit_rows):
    segments = [segment("97110", 14), pta("97110", 1, start="08:14")]
    assert found(audit_rows([claim("97110", 1)], segments)) == []


@pytest.mark.parametrize(
    ("therapist", "assistant", "flagged"),
    [(9, 1, False), (8, 1, True)],
    ids=["10% of 10 minutes is within", "11% of 9 minutes is over"],
)
def test_ten_percent_edge(audit_rows, therapist, assistant, flagged):
    segments = [segment("97110", therapist), pta("97110", assistant, start=f"08:{therapist:02d}")]
    rows = found(audit_rows([claim("97110", 1)], segments))
    assert [r["units_at_risk"] for r in rows] == (["1"] if flagged else [])
    if flagged:
        assert "1 by the assistant (11%, over the 10% de minimis)" in rows[0]["message"]


def test_whole_units_go_to_who_furnished_them(audit_rows):
    # PT 30 + PTA 15 = 3 units: 2 by the PT alone, 1 by the PTA alone needs CQ.
    segments = [segment("97110", 30), pta("97110", 15, start="08:30")]
    (finding,) = found(audit_rows([claim("97110", 3)], segments))
    assert shape(finding) == ("MODIFIER_ASSISTANT_MISSING", "C1", "1", "97110", "3", "2", "1")
    assert "Whole units by the therapist alone: 2, by the assistant alone: 1" in finding["message"]
    split = [claim("97110", 2), claim("97110", 1, line=2, modifiers="GP,CQ")]
    assert found(audit_rows(split, segments)) == []


def test_two_final_units_of_shared_minutes_need_one_cq(audit_rows):
    # PT 12 + PTA 12 = 24 minutes = 2 units, each furnished 9-14 minutes: one with CQ.
    segments = [segment("97110", 12), pta("97110", 12, start="08:12")]
    (finding,) = found(audit_rows([claim("97110", 2)], segments))
    assert (finding["units_billed"], finding["units_supported"], finding["units_at_risk"]) == (
        "2",
        "1",
        "1",
    )
    assert "final unit(s): 2 from 24 minutes, 12 by the assistant (50%" in finding["message"]
    split = [claim("97110", 1), claim("97110", 1, line=2, modifiers="GP,CQ")]
    assert found(audit_rows(split, segments)) == []


def test_finding_points_at_the_line_without_cq(audit_rows):
    # The PTA alone furnished 30 minutes: both units need CQ, one line has it.
    claims = [claim("97110", 1, modifiers="GP,CQ"), claim("97110", 1, line=2)]
    (finding,) = found(audit_rows(claims, [pta("97110", 30)]))
    assert shape(finding) == ("MODIFIER_ASSISTANT_MISSING", "C1", "2", "97110", "1", "0", "1")
    assert "2 billed unit(s) need CQ, 1 carry it" in finding["message"]
    assert "C1 line 1 x1 GP,CQ; C1 line 2 x1 GP" in finding["message"]


def test_ot_line_with_cq_instead_of_co_is_flagged(audit_rows):
    outputs = audit_rows([claim("97530", 1, modifiers="GO,CQ")], [ota("97530", 15)])
    (finding,) = found(outputs)
    assert shape(finding) == ("MODIFIER_ASSISTANT_MISSING", "C1", "1", "97530", "1", "0", "1")
    assert "1 billed unit(s) need CO, 0 carry it (C1 line 1 x1 GO,CQ)" in finding["message"]
    # The line carries an assistant modifier, so it is priced at the assistant rate.
    assert amount(finding) == round(RATE_97530_2025 * ASSISTANT_DIFFERENTIAL * 0.85, 2)
    assert found(audit_rows([claim("97530", 1, modifiers="GO,CO")], [ota("97530", 15)])) == []


def test_billing_fewer_units_than_logged_fills_the_therapist_units_first(audit_rows):
    # PT 30 + PTA 15 support 3 units; 2 billed without CQ are the PT's.
    segments = [segment("97110", 30), pta("97110", 15, start="08:30")]
    assert found(audit_rows([claim("97110", 2)], segments)) == []


def test_before_the_payment_differential_nothing_is_priced(audit_rows):
    # CQ was required from 2020; the 15% differential applies from 2022.
    day = "2021-10-06"
    (finding,) = found(audit_rows([claim("97110", 1, date=day)], [pta("97110", 15, date=day)]))
    assert finding["units_at_risk"] == "1"
    assert amount(finding) == 0.0


def test_before_cq_existed_nothing_is_judged(audit_rows):
    day = "2019-10-07"
    assert found(audit_rows([claim("97110", 1, date=day)], [pta("97110", 15, date=day)])) == []


def test_assistant_rule_applies_to_medicare_only(audit_rows):
    outputs = audit_rows([claim("97110", 1, payer=COMMERCIAL)], [pta("97110", 15)])
    assert found(outputs) == []


def test_de_minimis_fraction_is_configurable(audit_rows, tmp_path):
    config = config_file(
        tmp_path, "[rules.MODIFIER_ASSISTANT_MISSING.params]\nde_minimis_fraction = 0.2\n"
    )
    segments = [segment("97110", 8), pta("97110", 1, start="08:08")]
    assert found(audit_rows([claim("97110", 1)], segments, "--config", config)) == []


# ---- MODIFIER_52_ON_TIMED -------------------------------------------------------------


def test_modifier_52_on_a_timed_code(audit_rows):
    outputs = audit_rows([claim("97110", 1, modifiers="GP,52")], [segment("97110", 5)])
    (finding,) = found(outputs)
    assert shape(finding) == ("MODIFIER_52_ON_TIMED", "C1", "1", "97110", "1", None, "0")
    assert finding["severity"] == "medium"
    assert amount(finding) is None
    assert "5 minutes of it are logged that day" in finding["message"]
    assert "(8 to 22 minutes = 1 unit); under 8 minutes it is not billed" in finding["message"]
    # The unbilled minutes' money is the unit rules' to count.
    assert "UNITS_UNDER_8_MIN" in set(outputs.findings["rule_id"])


def test_modifier_52_on_an_untimed_code_is_not_this_rule(audit_rows):
    claims = [claim("97161", 1, modifiers="GP,52"), claim("97110", 1, line=2, modifiers="GP")]
    assert found(audit_rows(claims, [segment("97110", 15)])) == []


# ---- MODIFIER_25_UNNEEDED -------------------------------------------------------------


def test_modifier_25_on_an_evaluation_and_on_a_timed_code(audit_rows):
    claims = [
        claim("97161", 1, modifiers="GP,25"),
        claim("97110", 1, line=2, modifiers="25,GP"),
        claim("97150", 1, line=3, modifiers="GP,25"),
    ]
    segments = [segment("97161", 40), segment("97110", 15, start="08:40")]
    rows = found(outputs := audit_rows(claims, segments))
    assert [shape(r) for r in rows] == [
        ("MODIFIER_25_UNNEEDED", "C1", "1", "97161", "1", None, "0"),
        ("MODIFIER_25_UNNEEDED", "C1", "2", "97110", "1", None, "0"),
    ]
    evaluation, timed = rows
    assert evaluation["severity"] == "low"
    assert amount(evaluation) is None
    assert (
        "97161 is a therapy evaluation, not an evaluation-and-management" in evaluation["message"]
    )
    assert "the other therapy codes that day (97110, 97150)" in evaluation["message"]
    assert "97110 is a timed therapy code" in timed["message"]
    assert outputs.summary["findings"]["by_rule"]["MODIFIER_25_UNNEEDED"]["status"] == "findings"


def test_modifier_25_on_an_em_code_is_left_alone(audit_rows):
    claims = [claim("99213", 1, modifiers="25"), claim("97161", 1, line=2, modifiers="GP")]
    assert found(audit_rows(claims, ELSEWHERE)) == []


def test_rule_switched_off(audit_rows, tmp_path):
    config = config_file(tmp_path, "[rules.MODIFIER_25_UNNEEDED]\nenabled = false\n")
    outputs = audit_rows([claim("97161", 1, modifiers="GP,25")], ELSEWHERE, "--config", config)
    assert found(outputs) == []
    assert outputs.summary["findings"]["by_rule"]["MODIFIER_25_UNNEEDED"]["status"] == "disabled"


# ---- TELEHEALTH_MODIFIER_MISSING ------------------------------------------------------


def telehealth(pos: str | None, *, modifiers: str = "GP", **fields: Any) -> dict[str, Any]:
    return claim("97110", 2, modifiers=modifiers, **fields) | {"place_of_service": pos}


def test_telehealth_place_without_95_is_flagged_02_and_10_not_11(audit_rows):
    claims = [
        telehealth("02"),
        telehealth("10", claim_id="C2", patient="P2"),
        telehealth("11", claim_id="C3", patient="P3"),
    ]
    rows = found(audit_rows(claims, ELSEWHERE))
    assert [shape(r) for r in rows] == [
        ("TELEHEALTH_MODIFIER_MISSING", "C1", "1", "97110", "2", "0", "2"),
        ("TELEHEALTH_MODIFIER_MISSING", "C2", "1", "97110", "2", "0", "2"),
    ]
    assert amount(rows[0]) == round(2 * RATE_97110_2025, 2)
    assert rows[0]["severity"] == "medium"
    message = rows[1]["message"]
    assert "billed at place of service 10 (telehealth) on 2025-10-06 without modifier 95" in message
    assert "2025-10-01 to 2026-01-30 (Continuing Appropriations and Extensions Act, 2026" in message


def test_telehealth_line_with_95_or_without_place_of_service_is_clean(audit_rows):
    claims = [
        telehealth("02", modifiers="GP,95"),
        telehealth(None, claim_id="C2", patient="P2"),
        claim("97110", 2, claim_id="C3", patient="P3"),
    ]
    assert found(audit_rows(claims, ELSEWHERE)) == []


def test_telehealth_period_boundaries(audit_rows):
    claims = [
        telehealth("02", claim_id="C1", date="2020-02-29"),
        telehealth("02", claim_id="C2", date="2020-03-01"),
        telehealth("02", claim_id="C3", date="2027-12-31"),
        telehealth("02", claim_id="C4", date="2028-01-01"),
    ]
    rows = found(audit_rows(claims, ELSEWHERE))
    assert [(r["claim_id"], r["service_date"]) for r in rows] == [
        ("C2", "2020-03-01"),
        ("C3", "2027-12-31"),
    ]
    assert amount(rows[0]) == round(2 * RATE_97110_2020, 2)
    assert "PHE waivers for PT/OT/SLP from 2020-03-01" in rows[0]["message"]


def test_telehealth_periods_come_from_the_configuration(audit_rows, tmp_path):
    config = config_file(
        tmp_path,
        "[rules.TELEHEALTH_MODIFIER_MISSING.params]\n"
        'telehealth_periods = [{ from = "2025-01-01", to = "2025-10-05", source = "test" }]\n',
    )
    claims = [
        telehealth("02", claim_id="C1", date="2025-10-05"),
        telehealth("02", claim_id="C2", date="2025-10-06"),
    ]
    rows = found(audit_rows(claims, ELSEWHERE, "--config", config))
    assert [r["claim_id"] for r in rows] == ["C1"]
    assert "2025-01-01 to 2025-10-05 (test)" in rows[0]["message"]


def test_telehealth_rule_applies_to_medicare_only(audit_rows):
    assert found(audit_rows([telehealth("02", payer=COMMERCIAL)], ELSEWHERE)) == []


def test_non_therapy_line_at_a_telehealth_place_is_not_judged(audit_rows):
    claims = [claim("99213", 1, modifiers=None) | {"place_of_service": "02"}]
    assert found(audit_rows(claims, ELSEWHERE)) == []


# ---- all five on clean billing ----------------------------------------------------------


def test_clean_visit_with_pt_and_pta_raises_no_modifier_finding(audit_rows):
    claims = [
        claim("97161", 1, npi=PT_NPI),
        claim("97110", 2, line=2),
        claim("97112", 1, line=3, modifiers="GP,CQ"),
    ]
    segments = [
        segment("97161", 40),
        *back_to_back(("97110", 30), start="08:40"),
        pta("97112", 15, start="09:10"),
    ]
    outputs = audit_rows(claims, segments)
    assert outputs.findings.is_empty()
    statuses = {
        rule: outputs.summary["findings"]["by_rule"][rule]["status"] for rule in MODIFIER_RULES
    }
    assert set(statuses.values()) == {"clean"}
