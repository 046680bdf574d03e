"""UNITS_UNDERBILLED, MODIFIER_KX_MISSING, KX_MEDICAL_REVIEW, COURSE_LONG and
PROGRESS_REPORT_OVERDUE end to end: rows in, findings.csv out, with the evidence an
auditor checks by hand. The last four read the store's history (earlier runs' claims)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PTA_NPI, back_to_back, claim, segment

MEDICARE, COMMERCIAL = "MEDICARE PART B", "AETNA"
RATE_97110_2025 = 28.79  # (0.45 + 0.43 + 0.01) RVU x $32.3465
RATE_97110_2024 = 29.29  # (0.45 + 0.42 + 0.01) RVU x $33.2875
RATE_97112_2025 = 32.02  # (0.50 + 0.48 + 0.01) RVU x $32.3465
RATE_97140_2025 = 27.17  # (0.43 + 0.40 + 0.01) RVU x $32.3465
RATE_97165_2025 = 100.60  # (1.54 + 1.53 + 0.04) RVU x $32.3465

# Claims-only tests still need a time-log file: one segment of another patient on a day
# without claims, so that no unit rule judges the claims' days.
QUIET_LOG = [segment("97110", 15, patient="PX", date="2024-06-01")]


def rows(outputs, rule: str) -> list[dict[str, Any]]:
    return [r for r in outputs.findings.to_dicts() if r["rule_id"] == rule]


def status(outputs, rule: str) -> str:
    return outputs.summary["findings"]["by_rule"][rule]["status"]


def write_config(tmp_path: Path, text: str) -> str:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return str(path)


def weekdays(start: str, count: int) -> list[str]:
    """`count` weekdays from `start` (included when it is a weekday)."""
    day, out = date.fromisoformat(start), []
    while len(out) < count:
        if day.weekday() < 5:
            out.append(day.isoformat())
        day += timedelta(days=1)
    return out


def day_after(start: str, days: int) -> str:
    return (date.fromisoformat(start) + timedelta(days=days)).isoformat()


def visits(
    dates: list[str],
    *,
    patient: str = "P1",
    payer: str = MEDICARE,
    first: str | None = "97161",
    code: str = "97110",
    units: int = 1,
    modifiers: str | None = "GP",
    prefix: str = "V",
) -> list[dict[str, Any]]:
    """One claim per visit: `first` (an evaluation) on the first visit, `code` on the rest."""
    return [
        claim(
            first if i == 0 and first else code,
            1 if i == 0 and first else units,
            claim_id=f"{prefix}{patient}-{day}",
            patient=patient,
            payer=payer,
            date=day,
            modifiers=modifiers,
        )
        for i, day in enumerate(dates)
    ]


# --- UNITS_UNDERBILLED -------------------------------------------------------------------


@pytest.mark.parametrize(("minutes", "missed"), [(22, 0), (23, 1)])
def test_cms_one_unit_billed_for_23_minutes_misses_one(audit_rows, minutes, missed):
    outputs = audit_rows([claim("97110", 1)], [segment("97110", minutes)])
    found = rows(outputs, "UNITS_UNDERBILLED")
    assert len(found) == missed
    if missed:
        (finding,) = found
        assert (finding["claim_id"], finding["line_number"], finding["cpt_code"]) == (
            "C1",
            "1",
            "97110",
        )
        assert (finding["units_billed"], finding["units_supported"]) == ("1", "2")
        assert finding["severity"] == "low"
        assert float(finding["amount_at_risk"]) == RATE_97110_2025
        message = finding["message"]
        assert "23 timed minutes support 2 units, 1 billed against logged minutes" in message
        assert "1 unit(s) supported but not billed" in message
        assert outputs.summary["findings"]["revenue_missed"] == RATE_97110_2025


def test_missed_units_are_priced_at_the_assistant_rate_on_a_cq_line(audit_rows):
    claims = [claim("97110", 1, modifiers="GP,CQ")]
    segments = [segment("97110", 23, role="PTA", npi=PTA_NPI)]
    (finding,) = rows(audit_rows(claims, segments), "UNITS_UNDERBILLED")
    assert float(finding["amount_at_risk"]) == round(RATE_97110_2025 * 0.85, 2)


@pytest.mark.parametrize(("minutes", "missed"), [(7, 0), (8, 1)])
def test_per_code_a_logged_code_nobody_billed(audit_rows, minutes, missed):
    claims = [claim("97110", 1, payer=COMMERCIAL)]
    segments = back_to_back(("97110", 15), ("97140", minutes))
    outputs = audit_rows(claims, segments)
    found = rows(outputs, "UNITS_UNDERBILLED")
    assert len(found) == missed
    assert rows(outputs, "UNITS_UNDER_8_MIN") == []
    if missed:
        (finding,) = found
        # No line of its own: shown on the day's first billed line, under its own code.
        assert (finding["claim_id"], finding["line_number"], finding["cpt_code"]) == (
            "C1",
            "1",
            "97140",
        )
        assert (finding["units_billed"], finding["units_supported"]) == ("0", "1")
        assert float(finding["amount_at_risk"]) == RATE_97140_2025
        assert finding["message"].startswith("Per-code method: 97140 has 8 logged minutes")
        assert "not billed at all; shown on the day's first line" in finding["message"]


def test_cms_unbilled_code_adds_its_minutes_to_the_day(audit_rows):
    # 15 + 15 minutes support 2 units; only 97110 x1 is billed.
    outputs = audit_rows([claim("97110", 1)], back_to_back(("97110", 15), ("97140", 15)))
    (finding,) = rows(outputs, "UNITS_UNDERBILLED")
    assert (finding["line_number"], finding["cpt_code"], finding["units_supported"]) == (
        "1",
        "97140",
        "1",
    )
    message = finding["message"]
    assert "30 timed minutes support 2 units, 1 billed against logged minutes" in message


def test_cms_day_total_decides_not_each_code(audit_rows):
    # 20 + 20 minutes support 3 units: 2 + 1 either way round is complete billing.
    segments = back_to_back(("97110", 20), ("97140", 20))
    complete = [claim("97110", 1), claim("97140", 2, line=2)]
    assert rows(audit_rows(complete, segments), "UNITS_UNDERBILLED") == []


def test_cms_missed_unit_goes_to_the_code_below_its_share(audit_rows):
    # 40 minutes support 3 units; the extra unit is 97110's (equal leftovers, code order).
    segments = back_to_back(("97110", 20), ("97140", 20))
    short = [claim("97110", 1), claim("97140", 1, line=2)]
    (finding,) = rows(audit_rows(short, segments), "UNITS_UNDERBILLED")
    assert (finding["cpt_code"], finding["units_billed"], finding["units_supported"]) == (
        "97110",
        "1",
        "2",
    )
    assert float(finding["amount_at_risk"]) == RATE_97110_2025


def test_per_code_overbilled_and_underbilled_on_one_day(audit_rows):
    claims = [claim("97110", 2, payer=COMMERCIAL), claim("97112", 1, line=2, payer=COMMERCIAL)]
    outputs = audit_rows(claims, back_to_back(("97110", 20), ("97112", 45)))
    (over,) = rows(outputs, "UNITS_OVERBILLED")
    (under,) = rows(outputs, "UNITS_UNDERBILLED")
    assert (over["cpt_code"], over["units_at_risk"]) == ("97110", "1")
    assert (under["cpt_code"], under["line_number"]) == ("97112", "2")
    assert (under["units_billed"], under["units_supported"]) == ("1", "3")
    assert float(under["amount_at_risk"]) == round(2 * RATE_97112_2025, 2)


def test_cms_same_minutes_only_the_day_total_is_missed(audit_rows):
    # 65 minutes support 4 units; 3 are billed: one unit missed, nothing overbilled.
    claims = [claim("97110", 2), claim("97112", 1, line=2)]
    outputs = audit_rows(claims, back_to_back(("97110", 20), ("97112", 45)))
    assert rows(outputs, "UNITS_OVERBILLED") == []
    (under,) = rows(outputs, "UNITS_UNDERBILLED")
    assert (under["cpt_code"], under["units_supported"]) == ("97112", "3")
    assert float(under["amount_at_risk"]) == RATE_97112_2025


def test_cms_unit_on_an_unlogged_code_does_not_cover_logged_minutes(audit_rows):
    # 45 minutes of 97110 support 3 units; 97110 x2 + 97112 x1 (no log): the 97112 unit
    # is at risk (TIME_LOG_MISSING) and 97110's third unit was never billed.
    claims = [claim("97110", 2), claim("97112", 1, line=2)]
    outputs = audit_rows(claims, [segment("97110", 45)])
    (missing,) = rows(outputs, "TIME_LOG_MISSING")
    (under,) = rows(outputs, "UNITS_UNDERBILLED")
    assert (missing["cpt_code"], missing["units_at_risk"]) == ("97112", "1")
    assert (under["cpt_code"], under["units_billed"], under["units_supported"]) == (
        "97110",
        "2",
        "3",
    )
    message = under["message"]
    assert "45 timed minutes support 3 units, 2 billed against logged minutes" in message


# --- MODIFIER_KX_MISSING and KX_MEDICAL_REVIEW -------------------------------------------


def test_kx_threshold_with_earlier_months_from_the_store(audit_rows):
    # January to September: 20 visits of 97110 x4 ($115.16 each) = $2,303.20, loaded by an
    # earlier run. Tonight's October file crosses $2,410 (2025) and then $3,000.
    history = visits(weekdays("2025-01-06", 200)[::10][:20], first=None, units=4)
    first = audit_rows(history, QUIET_LOG)
    assert rows(first, "MODIFIER_KX_MISSING") == []

    october = weekdays("2025-10-01", 9)
    tonight = [
        claim("97110", 3, claim_id="K21", date=october[0]),  # 2,389.57: not past
        claim("97110", 1, claim_id="K22", date=october[1]),  # 2,418.36: past, no KX
        *[
            claim("97110", 4, claim_id=f"K{23 + i}", date=october[2 + i], modifiers="GP,KX")
            for i in range(5)
        ],  # 2,533.52 ... 2,994.16
        claim("97110", 1, claim_id="K28", date=october[7], modifiers="GP,KX"),  # 3,022.95
        claim("97110", 1, claim_id="K29", date=october[8], modifiers="GP,KX"),  # 3,051.74
    ]
    outputs = audit_rows(tonight, QUIET_LOG)
    (kx,) = rows(outputs, "MODIFIER_KX_MISSING")
    assert (kx["claim_id"], kx["line_number"], kx["cpt_code"], kx["units_billed"]) == (
        "K22",
        "1",
        "97110",
        "1",
    )
    assert kx["severity"] == "high"
    assert float(kx["amount_at_risk"]) == RATE_97110_2025
    message = kx["message"]
    assert "2025 therapy threshold for PT and SLP combined ($2410.00)" in message
    assert "$2389.57 before this line and $2418.36 with it (97110 x1, $28.79)" in message

    (review,) = rows(outputs, "KX_MEDICAL_REVIEW")
    assert (review["claim_id"], review["severity"], review["amount_at_risk"]) == (
        "K28",
        "low",
        None,
    )
    message = review["message"]
    assert "threshold ($3000.00) with this line: $2994.16 before it, $3022.95 with it" in message


KX_SMALL = """
[rules.MODIFIER_KX_MISSING.params]
kx_thresholds = [
    {{ year = 2024, pt_slp = {pt_2024}, ot = 1000 }},
    {{ year = 2025, pt_slp = {pt}, ot = {ot} }},
]
"""


def kx_config(tmp_path: Path, pt: float, ot: float = 1000, pt_2024: float = 1000) -> str:
    return write_config(tmp_path, KX_SMALL.format(pt=pt, ot=ot, pt_2024=pt_2024))


@pytest.mark.parametrize("modifiers", ["GP", "GP,KX"])
def test_kx_needed_only_once_the_total_exceeds_the_threshold(audit_rows, tmp_path, modifiers):
    # Threshold $86.37 = three units of 97110: the third line reaches it, the fourth passes.
    days = weekdays("2025-03-03", 4)
    claims = visits(days[:3], first=None) + visits(days[3:], first=None, modifiers=modifiers)
    outputs = audit_rows(claims, QUIET_LOG, "--config", kx_config(tmp_path, pt=86.37))
    found = rows(outputs, "MODIFIER_KX_MISSING")
    if modifiers == "GP,KX":
        assert found == []
    else:
        (finding,) = found
        assert (finding["service_date"], finding["units_billed"]) == (days[3], "1")
        assert "$86.37 before this line and $115.16 with it" in finding["message"]


def test_ot_has_its_own_threshold_and_slp_shares_pt(audit_rows, tmp_path):
    # PT/SLP threshold $57.58 (two units of 97110), OT $100.00.
    days = weekdays("2025-03-03", 4)
    claims = [
        claim("97110", 1, claim_id="A", date=days[0], modifiers="GP"),  # PT/SLP 28.79
        claim("97165", 1, claim_id="B", date=days[1], modifiers=None),  # OT 100.60 (default OT)
        claim("97110", 1, claim_id="C", date=days[2], modifiers="GN"),  # PT/SLP 57.58
        claim("97112", 1, claim_id="D", date=days[3], modifiers="GN"),  # PT/SLP 89.60
    ]
    config = kx_config(tmp_path, pt=57.58, ot=100)
    found = rows(audit_rows(claims, QUIET_LOG, "--config", config), "MODIFIER_KX_MISSING")
    by_claim = {f["claim_id"]: f["message"] for f in found}
    assert sorted(by_claim) == ["B", "D"]
    ot = by_claim["B"]
    assert "threshold for OT ($100.00)" in ot
    assert f"$0.00 before this line and $100.60 with it (97165 x1, ${RATE_97165_2025:.2f})" in ot
    assert "for PT and SLP combined ($57.58)" in by_claim["D"]
    assert "$57.58 before this line and $89.60 with it" in by_claim["D"]


def test_kx_totals_restart_each_calendar_year(audit_rows, tmp_path):
    claims = [
        claim("97110", 1, claim_id="Y1", date="2024-12-30"),  # 29.29 in 2024
        claim("97110", 1, claim_id="Y2", date="2025-01-02"),  # 28.79 in 2025
    ]
    config = kx_config(tmp_path, pt=30, pt_2024=30)
    assert rows(audit_rows(claims, QUIET_LOG, "--config", config), "MODIFIER_KX_MISSING") == []
    assert RATE_97110_2024 + RATE_97110_2025 > 30


def test_only_medicare_lines_accrue_and_assistant_lines_at_85_percent(audit_rows, tmp_path):
    # Threshold $50: the commercial 97110 x3 ($86.37) adds nothing, and the CQ line's two
    # units count $48.94, not $57.58.
    days = weekdays("2025-03-03", 2)
    claims = [
        claim("97110", 3, claim_id="AET", date=days[0], payer=COMMERCIAL),
        claim("97110", 2, claim_id="CQ", date=days[1], modifiers="GP,CQ"),
    ]
    config = kx_config(tmp_path, pt=50)
    assert rows(audit_rows(claims, QUIET_LOG, "--config", config), "MODIFIER_KX_MISSING") == []
    config = kx_config(tmp_path, pt=48.93)
    (finding,) = rows(audit_rows(claims, QUIET_LOG, "--config", config), "MODIFIER_KX_MISSING")
    assert finding["claim_id"] == "CQ"
    assert "$0.00 before this line and $48.94 with it" in finding["message"]
    assert float(finding["amount_at_risk"]) == round(2 * RATE_97110_2025 * 0.85, 2)


def test_medical_review_note_once_at_the_first_line_past_it(audit_rows, tmp_path):
    config = write_config(
        tmp_path, "[rules.KX_MEDICAL_REVIEW.params]\nmedical_review_threshold = 86.37\n"
    )
    days = weekdays("2025-03-03", 5)
    claims = visits(days, first=None, modifiers="GP,KX")
    (note,) = rows(audit_rows(claims, QUIET_LOG, "--config", config), "KX_MEDICAL_REVIEW")
    # The third line reaches $86.37 exactly; the fourth passes it; the fifth adds no note.
    assert note["service_date"] == days[3]
    assert "$86.37 before it, $115.16 with it" in note["message"]


# --- COURSE_LONG -------------------------------------------------------------------------


def course(outputs) -> list[tuple[str, str, str]]:
    return sorted(
        (f["service_date"], f["severity"], f["message"]) for f in rows(outputs, "COURSE_LONG")
    )


@pytest.mark.parametrize("count", [12, 13])
def test_the_13th_visit_passes_12(audit_rows, count):
    days = weekdays("2025-09-01", count)  # 13 weekdays: well inside 6 weeks
    found = course(audit_rows(visits(days), QUIET_LOG))
    if count == 12:
        assert found == []
    else:
        ((day, severity, message),) = found
        assert (day, severity) == (days[12], "medium")
        assert message.startswith(
            "PT episode of care started 2025-09-01 (evaluation 97161): visit 13, on "
            f"{days[12]}, passes 12 visits."
        )


@pytest.mark.parametrize("count", [18, 19])
def test_the_19th_visit_passes_18_and_is_high(audit_rows, count):
    days = weekdays("2025-09-01", count)  # 19 weekdays end on day 25
    outputs = audit_rows(visits(days), QUIET_LOG)
    found = rows(outputs, "COURSE_LONG")
    severities = sorted((f["service_date"], f["severity"]) for f in found)
    expected = [(days[12], "medium")] + ([(days[18], "high")] if count == 19 else [])
    assert severities == expected
    if count == 19:
        high = next(f for f in found if f["severity"] == "high")
        assert f"visit 19, on {days[18]}, passes 18 visits" in high["message"]
        assert (high["claim_id"], high["line_number"], high["cpt_code"]) == (
            f"VP1-{days[18]}",
            "1",
            "97110",
        )


@pytest.mark.parametrize(("last_day", "flagged"), [(42, False), (43, True)])
def test_the_episode_passes_42_days_on_day_43(audit_rows, last_day, flagged):
    start = "2025-09-01"
    days = [start, day_after(start, 14), day_after(start, 28), day_after(start, last_day - 1)]
    found = course(audit_rows(visits(days), QUIET_LOG))
    if not flagged:
        assert found == []
    else:
        ((day, severity, message),) = found
        assert (day, severity) == (days[-1], "medium")
        assert f"the visit on {days[-1]} is day 43 of the episode (visit 4), past 42 days" in (
            message
        )


@pytest.mark.parametrize(("gap", "episodes"), [(60, 1), (61, 2)])
def test_a_gap_of_more_than_60_days_starts_a_new_episode(audit_rows, gap, episodes):
    first = weekdays("2025-03-03", 7)  # 2025-03-03 to 2025-03-11: days 1 to 9
    second = [day_after(first[-1], gap + 2 * i) for i in range(7)]
    claims = visits(first) + visits(second, first=None)
    found = course(audit_rows(claims, QUIET_LOG))
    if episodes == 2:
        assert found == []
    else:
        # One episode: its 13th visit, and its length, are past the limits.
        assert [(day, severity) for day, severity, _ in found] == [
            (second[0], "medium"),
            (second[5], "medium"),
        ]
        assert f"is day {9 + gap} of the episode (visit 8), past 42 days" in found[0][2]


def test_an_evaluation_starts_a_new_episode(audit_rows):
    days = weekdays("2025-09-01", 16)
    claims = visits(days[:10]) + visits(days[10:], first="97162")
    outputs = audit_rows(claims, QUIET_LOG)
    assert course(outputs) == []
    # Without the second evaluation the 13th visit is flagged.
    claims = visits(days)
    (finding,) = rows(audit_rows(claims, QUIET_LOG), "COURSE_LONG")
    assert finding["service_date"] == days[12]


def test_disciplines_count_their_own_visits(audit_rows):
    days = weekdays("2025-09-01", 14)
    pt = visits(days[::2])  # 7 PT visits
    ot = visits(days[1::2], first="97165", code="97530", modifiers="GO")  # 7 OT visits
    assert course(audit_rows(pt + ot, QUIET_LOG)) == []


PROFILES = """
[[payer_profiles]]
name = "medicare"
payers = ["MEDICARE*"]
unit_method = "cms_total_time"

[[payer_profiles]]
name = "commercial"
payers = ["*"]
unit_method = "ama_per_code"
params = { course_visits_medium = 15 }
"""


def test_a_payer_profile_sets_its_own_visit_count(audit_rows, tmp_path):
    days = weekdays("2025-09-01", 16)
    config = write_config(tmp_path, PROFILES)
    commercial = visits(days, payer=COMMERCIAL)
    found = course(audit_rows(commercial, QUIET_LOG, "--config", config))
    ((day, severity, message),) = found
    assert (day, severity) == (days[15], "medium")
    assert "visit 16" in message and "passes 15 visits" in message


def test_course_long_switched_off(audit_rows, tmp_path):
    config = write_config(tmp_path, "[rules.COURSE_LONG]\nenabled = false\n")
    outputs = audit_rows(visits(weekdays("2025-09-01", 13)), QUIET_LOG, "--config", config)
    assert rows(outputs, "COURSE_LONG") == []
    assert status(outputs, "COURSE_LONG") == "disabled"


# --- PROGRESS_REPORT_OVERDUE -------------------------------------------------------------


def report_visit(day: str, patient: str = "P1") -> tuple[dict, dict]:
    """A treatment visit whose time log marks the progress report: 97110 x1, 15 minutes."""
    return (
        claim("97110", 1, claim_id=f"VP{patient}-{day}", patient=patient, date=day),
        segment("97110", 15, patient=patient, date=day) | {"note_type": "progress_report"},
    )


def overdue(outputs) -> list[tuple[str, str]]:
    return sorted(
        (f["service_date"], f["message"]) for f in rows(outputs, "PROGRESS_REPORT_OVERDUE")
    )


@pytest.mark.parametrize("count", [10, 11])
def test_the_11th_treatment_day_from_the_evaluation(audit_rows, count):
    days = weekdays("2025-09-01", count)
    # Another patient's report marks the practice's time log, so the rule applies.
    other_claim, other_report = report_visit("2025-08-01", patient="P9")
    outputs = audit_rows([*visits(days), other_claim], [other_report])
    found = overdue(outputs)
    if count == 10:
        assert found == []
        assert status(outputs, "PROGRESS_REPORT_OVERDUE") == "clean"
    else:
        ((day, message),) = found
        assert day == days[10]
        assert message == (
            "PT episode of care started 2025-09-01 (evaluation 97161): the visit on "
            f"{days[10]} is treatment day 11 since the episode began, and no progress "
            "report is marked in the time log for those 10 treatment days."
        )
        (finding,) = rows(outputs, "PROGRESS_REPORT_OVERDUE")
        assert (finding["claim_id"], finding["severity"], finding["amount_at_risk"]) == (
            f"VP1-{days[10]}",
            "medium",
            None,
        )


@pytest.mark.parametrize("count", [13, 14])
def test_the_11th_treatment_day_after_a_progress_report(audit_rows, count):
    # Report on visit 3: visits 4-13 are the next 10 treatment days, visit 14 the 11th.
    days = weekdays("2025-09-01", count)
    report_claim, report_segment = report_visit(days[2])
    claims = [*visits(days[:2]), report_claim, *visits(days[3:], first=None)]
    found = overdue(audit_rows(claims, [report_segment]))
    if count == 13:
        assert found == []
    else:
        ((day, message),) = found
        assert day == days[13]
        assert f"treatment day 11 since the progress-report visit of {days[2]}" in message


def test_a_report_on_the_11th_day_is_a_day_late(audit_rows):
    days = weekdays("2025-09-01", 11)
    report_claim, report_segment = report_visit(days[10])
    claims = [*visits(days[:10]), report_claim]
    ((day, message),) = overdue(audit_rows(claims, [report_segment]))
    assert day == days[10]
    assert message.endswith("(the report marked on this visit is a day late).")


def test_not_applicable_when_no_report_is_marked(audit_rows):
    outputs = audit_rows(visits(weekdays("2025-09-01", 12)), QUIET_LOG)
    assert rows(outputs, "PROGRESS_REPORT_OVERDUE") == []
    assert status(outputs, "PROGRESS_REPORT_OVERDUE") == "not applicable"


def test_progress_reports_are_a_medicare_rule(audit_rows):
    days = weekdays("2025-09-01", 11)
    other_claim, other_report = report_visit("2025-08-01", patient="P9")
    claims = [*visits(days, payer=COMMERCIAL), other_claim]
    assert overdue(audit_rows(claims, [other_report])) == []


def test_derived_tables_build_when_no_payer_matches_a_profile(audit_rows, tmp_path):
    config = write_config(
        tmp_path,
        '[[payer_profiles]]\nname = "medicare"\npayers = ["NOBODY*"]\n'
        'unit_method = "cms_total_time"\n',
    )
    outputs = audit_rows(visits(weekdays("2025-09-01", 13)), QUIET_LOG, "--config", config)
    assert rows(outputs, "COURSE_LONG") == []
    assert status(outputs, "COURSE_LONG") == "clean"
