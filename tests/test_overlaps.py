"""OVERLAP_SAME_PATIENT, OVERLAP_ONE_ON_ONE and IMPOSSIBLE_DAY end to end: time logs and
claims in, findings.csv out, with the codes, clock times and minutes an auditor checks."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import duckdb
import pytest

from pipeline import shares
from tests.conftest import DAY, OT_NPI, PT_NPI, PTA_NPI, back_to_back, claim, segment, write_csv

MY_RULES = ("OVERLAP_SAME_PATIENT", "OVERLAP_ONE_ON_ONE", "IMPOSSIBLE_DAY")


def span(cpt: str, start: str, end: str, **fields: Any) -> dict[str, Any]:
    """A segment from clock time to clock time (HH:MM or HH:MM:SS) on the same day."""
    row = segment(cpt, 0, **fields)
    date = row["service_date"]
    row["start_time"] = f"{date} {start}"
    row["end_time"] = f"{date} {end}"
    return row


def found(outputs, rule: str) -> list[dict[str, Any]]:
    rows = outputs.findings.filter(outputs.findings["rule_id"] == rule)
    return rows.sort("patient_id", "message").to_dicts()


def patients(finding: dict[str, Any]) -> tuple[str, str]:
    """The pair of patients an OVERLAP_ONE_ON_ONE message names."""
    match = re.search(r"at once: (\S+) \(.*?\) and (\S+) \(", finding["message"])
    assert match, finding["message"]
    return match.group(1), match.group(2)


def statuses(outputs) -> dict[str, str]:
    by_rule = outputs.summary["findings"]["by_rule"]
    return {rule: by_rule[rule]["status"] for rule in MY_RULES}


def config(tmp_path, text: str) -> tuple[str, str]:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return "--config", str(path)


# OVERLAP_SAME_PATIENT


def test_same_minutes_under_two_codes_point_at_the_later_code(audit_rows):
    # 97110 10:00-10:25 and 97530 10:15-10:35: 10:15-10:25 logged twice. The minutes count
    # once (25 + 10 = 35 = 2 units), so the third unit billed is UNITS_OVERBILLED's money.
    claims = [claim("97110", 2), claim("97530", 1, line=2)]
    segments = [span("97110", "10:00", "10:25"), span("97530", "10:15", "10:35")]
    outputs = audit_rows(claims, segments)
    (finding,) = found(outputs, "OVERLAP_SAME_PATIENT")
    assert finding["severity"] == "medium"
    assert (finding["claim_id"], finding["line_number"], finding["cpt_code"]) == (
        "C1",
        "2",
        "97530",
    )
    assert (finding["patient_id"], finding["provider_npi"], finding["service_date"]) == (
        "P1",
        PT_NPI,
        DAY,
    )
    assert finding["units_billed"] == "1"
    assert finding["amount_at_risk"] is None
    assert "97110 and 97530 were logged for the same minutes" in finding["message"]
    assert "10 minute(s), span 10:15-10:25" in finding["message"]
    assert "97530 is billed on claim C1 line 2 x1" in finding["message"]
    overbilled = found(outputs, "UNITS_OVERBILLED")
    assert [(f["cpt_code"], f["units_at_risk"]) for f in overbilled] == [("97530", "1")]
    assert statuses(outputs)["OVERLAP_ONE_ON_ONE"] == "clean"


@pytest.mark.parametrize(("second_start", "flagged"), [("10:15", False), ("10:14", True)])
def test_back_to_back_codes_do_not_overlap_one_minute_does(audit_rows, second_start, flagged):
    claims = [claim("97110", 1), claim("97140", 1, line=2)]
    segments = [span("97110", "10:00", "10:15"), span("97140", second_start, "10:30")]
    rows = found(audit_rows(claims, segments), "OVERLAP_SAME_PATIENT")
    assert len(rows) == int(flagged)
    if flagged:
        assert "1 minute(s), span 10:14-10:15" in rows[0]["message"]


def test_overlap_of_seconds_is_clock_noise(audit_rows):
    claims = [claim("97110", 1), claim("97140", 1, line=2)]
    segments = [span("97110", "10:00:00", "10:15:00"), span("97140", "10:14:01", "10:30:00")]
    assert found(audit_rows(claims, segments), "OVERLAP_SAME_PATIENT") == []


@pytest.mark.parametrize(("overlap", "flagged"), [(4, False), (5, True)])
def test_minimum_overlap_is_configurable(tmp_path, audit_rows, overlap, flagged):
    claims = [claim("97110", 2), claim("97140", 1, line=2)]
    start = f"10:{30 - overlap:02d}"
    segments = [span("97110", "10:00", "10:30"), span("97140", start, "10:45")]
    args = config(tmp_path, "[rules.OVERLAP_SAME_PATIENT.params]\nmin_overlap_minutes = 5\n")
    assert len(found(audit_rows(claims, segments, *args), "OVERLAP_SAME_PATIENT")) == int(flagged)


def test_a_pair_overlapping_twice_is_one_finding_and_duplicates_count_once(audit_rows):
    # 97110 is logged twice over 10:05-10:20; its stretch 10:00-10:20 shares 10 minutes with
    # 97140 10:10-10:30 (not 20), and 11:00-11:15 shares 5 with 97140 11:10-11:20.
    segments = [
        span("97110", "10:00", "10:20"),
        span("97110", "10:05", "10:20"),
        span("97140", "10:10", "10:30"),
        span("97110", "11:00", "11:15"),
        span("97140", "11:10", "11:20"),
    ]
    claims = [claim("97110", 2), claim("97140", 1, line=2)]
    (finding,) = found(audit_rows(claims, segments), "OVERLAP_SAME_PATIENT")
    assert "15 minute(s) in 2 overlaps, span 10:10-11:15" in finding["message"]
    assert finding["cpt_code"] == "97140"


def test_three_codes_at_once_give_one_finding_per_pair(audit_rows):
    segments = [
        span("97110", "10:00", "10:30"),
        span("97112", "10:10", "10:40"),
        span("97140", "10:20", "10:50"),
    ]
    claims = [claim("97110", 2), claim("97112", 1, line=2), claim("97140", 1, line=3)]
    rows = found(audit_rows(claims, segments), "OVERLAP_SAME_PATIENT")
    pairs = sorted((r["message"].split(" were")[0], r["cpt_code"], r["line_number"]) for r in rows)
    assert pairs == [
        ("97110 and 97112", "97112", "2"),
        ("97110 and 97140", "97140", "3"),
        ("97112 and 97140", "97140", "3"),
    ]
    assert len({r["finding_id"] for r in rows}) == 3
    minutes = sorted(r["message"].split(": ")[1].split(",")[0] for r in rows)
    assert minutes == ["10 minute(s)", "20 minute(s)", "20 minute(s)"]


def test_later_code_not_billed_gives_a_patient_day_finding(audit_rows):
    # Same start: the code that runs longer is the later one (the first is credited).
    segments = [span("97110", "10:00", "10:30"), span("97140", "10:00", "10:20")]
    (finding,) = found(audit_rows([claim("97140", 1)], segments), "OVERLAP_SAME_PATIENT")
    assert (finding["claim_id"], finding["line_number"], finding["cpt_code"]) == (
        None,
        None,
        "97110",
    )
    assert finding["payer"] is None
    assert "span 10:00-10:20" in finding["message"]
    assert finding["message"].endswith("97110 is not billed that day.")


def test_untimed_codes_and_other_patients_are_not_same_patient_overlaps(audit_rows):
    segments = [
        span("97161", "10:00", "10:45"),  # evaluation: untimed
        span("97110", "10:15", "10:45"),
        span("97150", "10:30", "11:00"),  # group: untimed
        span("97140", "10:15", "10:45", patient="P2", npi=OT_NPI, role="OT"),
    ]
    outputs = audit_rows([claim("97161", 1), claim("97110", 2, line=2)], segments)
    assert found(outputs, "OVERLAP_SAME_PATIENT") == []
    assert found(outputs, "OVERLAP_ONE_ON_ONE") == []


# OVERLAP_ONE_ON_ONE


def test_one_provider_with_two_patients_at_once(audit_rows):
    claims = [claim("97110", 2), claim("97530", 2, claim_id="C2", patient="P2")]
    segments = [
        span("97110", "10:00", "10:30"),
        span("97530", "10:20", "10:50", patient="P2"),
    ]
    outputs = audit_rows(claims, segments)
    (finding,) = found(outputs, "OVERLAP_ONE_ON_ONE")
    assert finding["severity"] == "high"
    assert (finding["patient_id"], finding["provider_npi"], finding["service_date"]) == (
        "P1",
        PT_NPI,
        DAY,
    )
    assert finding["claim_id"] is None
    assert finding["cpt_code"] is None
    assert finding["amount_at_risk"] is None
    assert finding["message"] == (
        f"Provider {PT_NPI} logged one-on-one timed minutes with two patients at once: "
        "P1 (97110) and P2 (97530), 10 minute(s), span 10:20-10:30. Treating two or more "
        "patients at the same time is group therapy (97150), not one-on-one timed minutes."
    )
    assert found(outputs, "OVERLAP_SAME_PATIENT") == []


@pytest.mark.parametrize(("second_start", "flagged"), [("10:30", False), ("10:29", True)])
def test_next_patient_right_after_is_fine_one_minute_early_is_not(
    audit_rows, second_start, flagged
):
    claims = [claim("97110", 2), claim("97110", 1, claim_id="C2", patient="P2")]
    segments = [
        span("97110", "10:00", "10:30"),
        span("97110", second_start, "10:45", patient="P2"),
    ]
    rows = found(audit_rows(claims, segments), "OVERLAP_ONE_ON_ONE")
    assert len(rows) == int(flagged)
    if flagged:
        assert "1 minute(s), span 10:29-10:30" in rows[0]["message"]


def test_two_providers_or_a_pt_and_a_pta_may_treat_at_the_same_time(audit_rows):
    claims = [claim("97110", 2), claim("97110", 2, claim_id="C2", patient="P2")]
    segments = [
        span("97110", "10:00", "10:30"),
        span("97110", "10:00", "10:30", patient="P2", npi=PTA_NPI, role="PTA"),
        span("97110", "11:00", "11:30", patient="P3", npi=OT_NPI, role="OT"),
        span("97110", "11:00", "11:30", patient="P4"),
    ]
    assert found(audit_rows(claims, segments), "OVERLAP_ONE_ON_ONE") == []


def test_group_therapy_is_not_one_on_one(audit_rows):
    claims = [claim("97150", 1, claim_id=f"C{p}", patient=f"P{p}") for p in (1, 2, 3)]
    segments = [span("97150", "10:00", "10:45", patient=f"P{p}") for p in (1, 2, 3)]
    outputs = audit_rows(claims, segments)
    assert statuses(outputs)["OVERLAP_ONE_ON_ONE"] == "clean"


def test_only_the_stretches_that_still_cover_a_start_are_paired(audit_rows):
    # P1 08:00-12:00 covers P2 09:00-09:15 and P3 11:00-11:15; P2 and P3 never meet.
    segments = [
        span("97110", "08:00", "12:00"),
        span("97112", "09:00", "09:15", patient="P2"),
        span("97140", "11:00", "11:15", patient="P3"),
    ]
    claims = [claim("97110", 16)]
    rows = found(audit_rows(claims, segments), "OVERLAP_ONE_ON_ONE")
    assert [patients(r) for r in rows] == [("P1", "P2"), ("P1", "P3")]
    messages = sorted(r["message"] for r in rows)
    assert "P1 (97110) and P2 (97112), 15 minute(s), span 09:00-09:15" in messages[0]
    assert "P1 (97110) and P3 (97140), 15 minute(s), span 11:00-11:15" in messages[1]


def test_rerun_gives_the_same_finding_id(audit_rows):
    segments = [span("97110", "10:00", "10:30"), span("97110", "10:20", "10:50", patient="P2")]
    (finding,) = found(audit_rows([claim("97110", 2)], segments), "OVERLAP_ONE_ON_ONE")
    (again,) = found(audit_rows([claim("97110", 2)], segments), "OVERLAP_ONE_ON_ONE")
    assert again["finding_id"] == finding["finding_id"]


def test_a_pair_meeting_twice_sums_and_own_overlaps_count_once(audit_rows):
    # P1 logs 97110 and 97140 over the same 10:00-10:30 (its own overlap) and 11:00-11:30;
    # P2 10:20-11:10 shares 10:20-10:30 and 11:00-11:10 with P1: 20 minutes, not 30.
    segments = [
        span("97110", "10:00", "10:30"),
        span("97140", "10:00", "10:30"),
        span("97110", "11:00", "11:30"),
        span("97530", "10:20", "11:10", patient="P2"),
    ]
    outputs = audit_rows([claim("97110", 4)], segments)
    (finding,) = found(outputs, "OVERLAP_ONE_ON_ONE")
    assert "P1 (97110, 97140) and P2 (97530), 20 minute(s) in 2 overlaps" in finding["message"]
    assert "span 10:20-11:10" in finding["message"]
    assert len(found(outputs, "OVERLAP_SAME_PATIENT")) == 1


def test_many_patients_chained_make_one_finding_per_overlapping_pair(audit_rows):
    # Each patient's 30 minutes start 20 minutes after the previous patient's: neighbours
    # share 10 minutes, patients two apart never meet.
    segments, clock = [], datetime.fromisoformat(f"{DAY} 08:00")
    for n in range(1, 11):
        end = clock + timedelta(minutes=30)
        segments.append(span("97110", f"{clock:%H:%M}", f"{end:%H:%M}", patient=f"P{n:02d}"))
        clock += timedelta(minutes=20)
    rows = found(audit_rows([claim("97110", 2, patient="P01")], segments), "OVERLAP_ONE_ON_ONE")
    assert [patients(r) for r in rows] == [(f"P{n:02d}", f"P{n + 1:02d}") for n in range(1, 10)]


# IMPOSSIBLE_DAY


def long_day(minutes: int, *, patients: int = 12, npi: str = PT_NPI) -> list[dict[str, Any]]:
    """One provider's timed segments from 07:00, patient after patient, `minutes` in all."""
    each, extra = divmod(minutes, patients)
    rows, clock = [], datetime.fromisoformat(f"{DAY} 07:00")
    for n in range(1, patients + 1):
        length = each + (extra if n == patients else 0)
        rows += back_to_back(
            ("97110", length), start=f"{clock:%H:%M}", patient=f"P{n:02d}", npi=npi
        )
        clock += timedelta(minutes=length)
    return rows


@pytest.mark.parametrize(("minutes", "flagged"), [(720, False), (721, True)])
def test_more_than_12_hours_of_logged_minutes(audit_rows, minutes, flagged):
    outputs = audit_rows([claim("97110", 4, patient="P01")], long_day(minutes))
    rows = found(outputs, "IMPOSSIBLE_DAY")
    assert len(rows) == int(flagged)
    if flagged:
        (finding,) = rows
        assert finding["severity"] == "high"
        assert (finding["patient_id"], finding["provider_npi"]) == ("P01", PT_NPI)
        assert finding["claim_id"] is None
        assert finding["amount_at_risk"] is None
        assert finding["message"] == (
            f"Provider {PT_NPI} logged 721 one-on-one timed minutes (12 h 1 min, overlapping "
            "segments counted once) in 12 segments with 12 patient(s) between 07:00 and 19:01; "
            "the configured maximum is 720 minutes a day."
        )


def test_overlapping_segments_count_once_toward_the_day(audit_rows):
    # 720 minutes back to back plus a second patient's 60 minutes inside them: still 720.
    segments = [*long_day(720), span("97110", "09:00", "10:00", patient="P99")]
    outputs = audit_rows([claim("97110", 4, patient="P01")], segments)
    assert found(outputs, "IMPOSSIBLE_DAY") == []
    assert len(found(outputs, "OVERLAP_ONE_ON_ONE")) == 1


def test_patients_audited_in_different_shares_are_still_compared(tmp_path, audit_rows):
    """A large store's rules run a share of its patients at a time; the rules across
    patients still see the provider's whole day, and find what the store finds whole."""
    # 12 claim lines in shares of one line: the day's 13 patients spread over 12 shares.
    claims = [claim("97110", 1, claim_id=f"C{n:02d}", patient=f"P{n:02d}") for n in range(1, 13)]
    segments = [*long_day(721), span("97110", "09:00", "10:00", patient="P98")]
    rules = ("IMPOSSIBLE_DAY", "OVERLAP_ONE_ON_ONE")
    whole = {rule: found(audit_rows(claims, segments), rule) for rule in rules}
    outputs = audit_rows(claims, segments, *config(tmp_path, "[store]\npartition_rows = 1\n"))
    assert "flag: share inputs" in {t["stage"] for t in outputs.summary["timings"]}
    (overlap,) = whole["OVERLAP_ONE_ON_ONE"]
    with duckdb.connect(str(outputs.db), read_only=True) as con:
        ranges = shares.patient_ranges(con, 12)
    # A patient's share: how many of the ranges after the first start at or below its id.
    first, second = (sum(low <= p for low, _ in ranges[1:]) for p in patients(overlap))
    assert first != second, "the overlapping patients no longer fall in different shares"
    for rule in rules:
        assert len(whole[rule]) == 1
        shared = found(outputs, rule)
        assert [(r["finding_id"], r["message"]) for r in shared] == [
            (r["finding_id"], r["message"]) for r in whole[rule]
        ]


def test_untimed_minutes_and_other_providers_do_not_add_up(audit_rows):
    segments = [
        *long_day(700),
        span("97161", "19:00", "19:45", patient="P50"),  # evaluation: untimed
        span("97110", "20:00", "20:30", patient="P51", npi=PTA_NPI, role="PTA"),
    ]
    assert found(audit_rows([claim("97110", 4, patient="P01")], segments), "IMPOSSIBLE_DAY") == []


def test_maximum_is_configurable(tmp_path, audit_rows):
    args = config(tmp_path, "[rules.IMPOSSIBLE_DAY.params]\nmax_provider_minutes = 480\n")
    segments = long_day(481, patients=13)
    (finding,) = found(
        audit_rows([claim("97110", 2, patient="P01")], segments, *args), "IMPOSSIBLE_DAY"
    )
    assert "logged 481 one-on-one timed minutes (8 h 1 min" in finding["message"]
    assert "the configured maximum is 480 minutes" in finding["message"]


def no_time_logs(tmp_path, cli, claims: list[dict[str, Any]], *extra: str):
    timelogs = tmp_path / "timelogs-empty.csv"
    timelogs.write_text(
        "patient_id,provider_npi,provider_role,service_date,cpt_code,start_time,end_time\n"
    )
    outputs = cli([write_csv(tmp_path / "claims-only.csv", claims)], [timelogs], *extra)
    assert outputs.exit_code == 0
    return outputs


@pytest.mark.parametrize(("units", "flagged"), [(96, False), (97, True)])
def test_billed_units_need_more_than_a_day_even_without_time_logs(tmp_path, cli, units, flagged):
    # 96 units need 15 x 95 + 8 = 1433 minutes; 97 need 1448, more than 1440.
    claims = [claim("97110", units - 50), claim("97110", 50, line=2), claim("97161", 1, line=3)]
    outputs = no_time_logs(tmp_path, cli, claims)
    assert outputs.summary["findings"]["by_rule"]["UNITS_OVERBILLED"]["status"] == "not applicable"
    assert statuses(outputs)["IMPOSSIBLE_DAY"] == ("findings" if flagged else "clean")
    rows = found(outputs, "IMPOSSIBLE_DAY")
    assert len(rows) == int(flagged)
    if flagged:
        (finding,) = rows
        assert (finding["patient_id"], finding["provider_npi"]) == ("P1", PT_NPI)
        assert (finding["claim_id"], finding["units_billed"]) == (None, "97")
        assert finding["amount_at_risk"] is None
        assert finding["message"] == (
            f"97 timed units billed under rendering NPI {PT_NPI} (1 patient(s), 1 claim(s), "
            "1 patient-code(s)) need at least 1448 minutes (8 for the first unit of each "
            "patient's code, 15 for each further unit); a day has 1440."
        )


@pytest.mark.parametrize(("minutes_in_day", "flagged"), [(1433, False), (1432, True)])
def test_minimum_minutes_exactly_the_day_is_possible(tmp_path, cli, minutes_in_day, flagged):
    args = config(tmp_path, f"[rules.IMPOSSIBLE_DAY.params]\nminutes_in_day = {minutes_in_day}\n")
    outputs = no_time_logs(tmp_path, cli, [claim("97110", 96)], *args)
    assert len(found(outputs, "IMPOSSIBLE_DAY")) == int(flagged)


@pytest.mark.parametrize(
    ("split", "flagged"),
    [((49, 48), True), ((33, 32, 32), False)],
)
def test_each_patients_first_unit_needs_only_8_minutes(tmp_path, cli, split, flagged):
    # 97 units: two patients need 15 x 97 - 2 x 7 = 1441 minutes, three need 1434.
    claims = [
        claim("97110", units, claim_id=f"C{n}", patient=f"P{n}") for n, units in enumerate(split)
    ]
    rows = found(no_time_logs(tmp_path, cli, claims), "IMPOSSIBLE_DAY")
    assert len(rows) == int(flagged)
    if flagged:
        assert (
            "(2 patient(s), 2 claim(s), 2 patient-code(s)) need at least 1441" in rows[0]["message"]
        )


@pytest.mark.parametrize(
    ("modifiers", "extra_config", "flagged"),
    [
        ("GP,CQ", "", False),
        ("GP", "", True),
        ("GP,CQ", "assistant_modifiers = []\n", True),
    ],
)
def test_assistant_lines_are_not_the_npis_own_minutes(
    tmp_path, cli, modifiers, extra_config, flagged
):
    claims = [claim("97110", 90), claim("97110", 7, line=2, modifiers=modifiers)]
    args = config(tmp_path, f"[rules.IMPOSSIBLE_DAY.params]\n{extra_config}")
    rows = found(no_time_logs(tmp_path, cli, claims, *args), "IMPOSSIBLE_DAY")
    assert len(rows) == int(flagged)


def test_untimed_units_and_other_npis_do_not_count(tmp_path, cli):
    claims = [
        claim("97110", 96),
        claim("97150", 5, line=2),
        claim("97110", 10, claim_id="C2", patient="P2", npi=PTA_NPI, modifiers="GP,CQ"),
    ]
    outputs = no_time_logs(tmp_path, cli, claims)
    assert statuses(outputs)["IMPOSSIBLE_DAY"] == "clean"


def test_logged_and_billed_findings_are_told_apart(audit_rows):
    claims = [claim("97110", 97, patient="P01")]
    rows = found(audit_rows(claims, long_day(721)), "IMPOSSIBLE_DAY")
    assert sorted(r["message"].split(" ")[0] for r in rows) == ["97", "Provider"]
    assert len({r["finding_id"] for r in rows}) == 2


def test_rules_switched_off(tmp_path, audit_rows):
    args = config(
        tmp_path,
        "".join(f"[rules.{rule}]\nenabled = false\n" for rule in MY_RULES),
    )
    segments = [span("97110", "10:00", "10:30"), span("97140", "10:15", "10:45")]
    segments.append(span("97110", "10:10", "10:40", patient="P2"))
    outputs = audit_rows([claim("97110", 99)], segments, *args)
    assert statuses(outputs) == dict.fromkeys(MY_RULES, "disabled")
    assert outputs.findings.filter(outputs.findings["rule_id"].is_in(MY_RULES)).is_empty()


@pytest.mark.parametrize("shares", [1, 2], ids=["whole", "in shares"])
def test_overlap_rules_without_time_logs_are_not_applicable(tmp_path, cli, shares):
    claims = [claim("97110", 2, claim_id=f"C{n}", patient=f"P{n}") for n in range(shares)]
    extra = config(tmp_path, "[store]\npartition_rows = 1\n") if shares > 1 else ()
    outputs = no_time_logs(tmp_path, cli, claims, *extra)
    timed = {t["stage"] for t in outputs.summary["timings"]}
    assert ("flag: share inputs" in timed) == (shares > 1)
    assert statuses(outputs) == {
        "OVERLAP_SAME_PATIENT": "not applicable",
        "OVERLAP_ONE_ON_ONE": "not applicable",
        "IMPOSSIBLE_DAY": "clean",
    }
