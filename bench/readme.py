"""The README written next to generated exports: what the data is and what is planted.

It is rendered from the generated frames, so the claim ids, counts and row numbers it
quotes are always those of the files beside it.
"""

from __future__ import annotations

import re
import textwrap
from datetime import date
from typing import TYPE_CHECKING

import polars as pl

from bench.cases import (
    MEDICARE,
    NO_MODIFIERS,
    SAMPLE_PLANTED,
    Case,
    PlantedCase,
    Service,
    case_order,
)

if TYPE_CHECKING:
    from bench.synth import Dataset, Profile

WIDTH = 88
NO_BREAK = "\x00"  # stands in for a space that must not become a line break
REJECT_REASONS = {
    ("claims.csv", "rendering_npi"): "the rendering NPI's check digit is wrong",
    ("claims.csv", "service_date"): "the service date is 2025-09-31, a day that does not exist",
    ("claims.csv", "units"): "0 units",
    ("timelogs.csv", "end_time"): "the segment ends 15 minutes before it starts",
    ("timelogs.csv", "patient_id"): "the patient id is empty",
}


def readme_text(dataset: Dataset, profile: Profile, seed: int) -> str:
    sections = [
        _introduction(dataset, profile, seed),
        _files(dataset),
        _practice(dataset, profile),
        _unit_methods(),
    ]
    if dataset.planted.height:
        sections += [_planted(dataset), _planted_over_time(dataset), _rejects(dataset)]
    return "\n\n".join(sections).rstrip() + "\n"


def _wrap(text: str, first: str = "", rest: str = "") -> str:
    """Fill to WIDTH without breaking inside a `code span` (a command stays copyable)."""
    kept = re.sub(r"`[^`]*`", lambda span: span.group(0).replace(" ", NO_BREAK), text)
    filled = textwrap.fill(
        kept, WIDTH, initial_indent=first, subsequent_indent=rest, break_on_hyphens=False
    )
    return filled.replace(NO_BREAK, " ")


def _paragraph(text: str) -> str:
    return _wrap(text)


def _bullet(text: str) -> str:
    return _wrap(text, "- ", "  ")


def _day(day: date) -> str:
    return f"{day:%B} {day.day}, {day.year}"


def _introduction(dataset: Dataset, profile: Profile, seed: int) -> str:
    is_sample = profile.name == "sample"
    used_by = " (`make audit` reads them)" if is_sample else ""
    shortcut = " (or `make sample`)" if is_sample else ""
    cases = dataset.planted.get_column("case_id").n_unique()
    planted = (
        f"{cases} cases are planted on {dataset.planted.height} visits, each with a known "
        "problem or built to look like one without being one; everything else is clean, so "
        "a correct audit reports exactly the findings in `expected_findings.csv`: at least one "
        "for every rule of the catalog that can fire on the bundled reference data, and none "
        "for NCCI_PAIR_NOT_ALLOWED (no edit of modifier indicator 0 is in force in 2025)."
        if dataset.planted.height
        else "Every visit is clean."
    )
    return "\n\n".join(
        [
            f"# {profile.name.capitalize()} exports: a small therapy practice",
            _paragraph(
                f"Synthetic claim lines and time logs of an outpatient physical and "
                f"occupational therapy practice, {_day(profile.first_day)} to "
                f"{_day(profile.last_day)}, for trying the audit{used_by}. Patients, "
                f"providers and NPIs are made up. {planted}"
            ),
            _paragraph(
                f"Rebuild them with `python -m bench.synth --profile {profile.name} --out "
                f"data/{profile.name} --seed {seed}`{shortcut}: the same "
                f"seed gives the same bytes, and the generator re-reads and checks what it "
                f"wrote."
            ),
        ]
    )


def _files(dataset: Dataset) -> str:
    claims = dataset.claims
    return "\n".join(
        [
            "## Files",
            "",
            "| file | rows | contents |",
            "|---|---|---|",
            f"| `claims.csv` | {claims.height} | claim lines of "
            f"{claims.get_column('claim_id').n_unique()} claims, one line per billed code |",
            f"| `timelogs.csv` | {dataset.timelogs.height} | time-log segments: one row per "
            f"continuous stretch of one service |",
            f"| `expected_findings.csv` | {dataset.findings.height} | the findings a correct "
            f"audit reports: rule, patient, day, claim, line, code, units billed and supported "
            f"(empty where the rule leaves them so) |",
            f"| `expected_rejects.csv` | {dataset.rejects.height} | the rows validation must "
            f"set aside: file, row number (data rows from 1, header not counted), column |",
        ]
    )


def _practice(dataset: Dataset, profile: Profile) -> str:
    patients = dataset.patients
    medicare = patients.filter(pl.col("payer") == MEDICARE).height
    per_discipline = dict(patients.group_by("discipline").len().iter_rows())
    courses = patients.height - profile.patients
    # The PTA's own visits: a planted case may have the PTA log part of the PT's visit.
    assistant_visits = (
        dataset.timelogs.filter(pl.col("provider_role") == "PTA")
        .select("patient_id", "service_date")
        .unique()
        .join(dataset.planted, on=["patient_id", "service_date"], how="anti")
        .height
    )
    providers = [
        f"- `{npi}` {role}" + (f", supervised by `{supervisor}`" if supervisor else "")
        for npi, role, supervisor in dataset.roster.select(
            "provider_npi", "provider_role", "supervisor_npi"
        ).iter_rows()
    ]
    return "\n".join(
        [
            "## The practice",
            "",
            "Providers, all with valid NPIs:",
            "",
            *providers,
            "",
            _paragraph(
                f"{patients.height} patients ({per_discipline.get('PT', 0)} in physical "
                f"therapy, {per_discipline.get('OT', 0)} in occupational therapy), each with "
                f"one payer: {medicare} on MEDICARE PART B, the others on BLUE CROSS PPO or "
                f"AETNA; {courses} of them are planted courses of care (below). "
                f"{dataset.visits} visits, all on weekdays, one claim per visit. The planted "
                "cases depart from what follows only where their point needs it, and each "
                "says how."
            ),
            "",
            _bullet(
                "A patient's first visit is the evaluation: 97161 or 97162 in physical "
                "therapy, 97165 in occupational therapy; one untimed unit, logged as one "
                "30-45 minute segment with `note_type` `evaluation`. It may add one timed "
                "code (never 97140)."
            ),
            _bullet(
                f"Then about two visits a week (at most {profile.max_visits} in all, a few "
                "cancelled), each with 2-3 timed codes: 97110, 97112, 97116, 97140, 97530 and "
                "97535 in physical therapy; 97110, 97530 and 97535 in occupational therapy. "
                "97530 never shares a visit with 97140 or 97116."
            ),
            _bullet(
                "On clean visits every timed code has exactly 15, 30 or 45 logged minutes and "
                "bills minutes/15 units. A code's time is one segment, sometimes two back to "
                "back."
            ),
            _bullet(
                "Each provider sees one patient at a time: visits run back to back from 08:00 "
                "with 5 minutes between patients, and every provider's day ends within 8 "
                "hours. No patient's segments overlap."
            ),
            _bullet(
                "Every physical therapy line carries GP, every occupational therapy line GO. "
                f"The PTA delivers {assistant_visits} visits to some of the supervising PT's "
                "Medicare and commercial patients: those segments carry the PTA's NPI and "
                "role, the claim names the supervising PT as rendering provider, and its lines "
                "carry `GP,CQ`. All of a visit's codes are delivered by one provider. Every "
                "line is billed at the office (place of service 11)."
            ),
        ]
    )


def _unit_methods() -> str:
    return "\n".join(
        [
            "## How units are judged",
            "",
            "Per patient, day and discipline, from the minutes logged for each timed code:",
            "",
            _bullet(
                "Medicare (CMS total-time method, the 8-minute rule): the day's total timed "
                "minutes T support `floor((T + 7) / 15)` units. Each code first gets its full "
                "15-minute units; the units left over go one each to the codes with the most "
                "leftover minutes."
            ),
            _bullet(
                "Commercial plans (AMA per-code method): each code on its own gets "
                "`floor((minutes + 7) / 15)` units, so a code with under 8 minutes gets none."
            ),
        ]
    )


def _cases(dataset: Dataset) -> list[tuple[Case, pl.DataFrame]]:
    """Each planted case, in number order, with its visits' rows of `dataset.planted`."""
    placed = dataset.planted
    cases = [case for case in SAMPLE_PLANTED if case.case_id in set(placed["case_id"])]
    return [
        (case, placed.filter(pl.col("case_id") == case.case_id).sort("visit"))
        for case in sorted(cases, key=lambda case: case_order(case.case_id))
    ]


def _planted(dataset: Dataset) -> str:
    single = [(case, visits) for case, visits in _cases(dataset) if isinstance(case, PlantedCase)]
    rows = [
        "## Planted cases",
        "",
        _paragraph(
            "Each is a visit of its own on a physical therapy patient, a treatment visit after "
            "the patient's evaluation (S16: the evaluation visit itself); it is delivered by "
            "the patient's PT, logged as one segment per code, one after the other, and "
            "billed at the office with GP, unless the table says otherwise."
        ),
        "",
        "| case | claim | patient | date | payer | minutes logged | units billed "
        "| a correct audit reports |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for case, visits in single:
        where = visits.row(0, named=True)
        claim = f"`{where['claim_id']}`"
        if where["voided_claim_id"]:
            claim += f", voided `{where['voided_claim_id']}`"
        expected = dataset.findings.filter(pl.col("claim_id") == where["claim_id"])
        rows.append(
            f"| {case.case_id} | {claim} | {where['patient_id']} | {where['service_date']} "
            f"| {where['payer']} | {_minutes(case.services)} | {_units(case)} "
            f"| {_outcome(expected)} |"
        )
    rows.append("")
    rows += [_bullet(f"**{case.case_id}**: {case.story}") for case, _ in single]
    return "\n".join(rows)


def _planted_over_time(dataset: Dataset) -> str:
    """The cases of several visits: a patient's course of care, or a therapist's day."""
    sections = [
        "## Planted courses and days",
        "",
        _paragraph(
            "Cases that need more than one visit: a patient of their own seen on fixed days, "
            "or one therapist's day at fixed clock times with patients of theirs evaluated "
            "earlier. Each visit is logged and billed as on a clean visit unless its row says "
            "otherwise."
        ),
    ]
    for case, visits in _cases(dataset):
        if not isinstance(case, PlantedCase):
            sections += ["", *_case_section(dataset, case, visits)]
    return "\n".join(sections)


def _case_section(dataset: Dataset, case: Case, visits: pl.DataFrame) -> list[str]:
    first = visits.row(0, named=True)
    patients = sorted(set(visits["patient_id"]))
    whom = patients[0] if len(patients) == 1 else f"{len(patients)} patients"
    rows = [
        f"### {case.case_id}: {whom}, therapist `{first['provider_npi']}`",
        "",
        _paragraph(case.story),
        "",
        "| visit | claim | patient | date | payer | minutes logged | units billed "
        "| a correct audit reports |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for visit, services in enumerate(case.plans):
        where = visits.row(visit, named=True)
        expected = dataset.findings.filter(pl.col("claim_id") == where["claim_id"])
        rows.append(
            f"| {visit} | `{where['claim_id']}` | {where['patient_id']} "
            f"| {where['service_date']} | {where['payer']} | {_minutes(services)} "
            f"| {_billed(services)} | {_outcome(expected)} |"
        )
    day_findings = dataset.findings.filter(
        pl.col("claim_id").is_null(),
        pl.col("patient_id").is_in(patients),
        pl.col("service_date").is_in(sorted(set(visits["service_date"]))),
    )
    for row in day_findings.iter_rows(named=True):
        rows += [
            "",
            _paragraph(
                f"A correct audit reports {row['rule_id']} under {row['patient_id']} on "
                f"{row['service_date']}, with no claim."
            ),
        ]
    return rows


def _minutes(services: tuple[Service, ...]) -> str:
    logged = []
    for s in services:
        text = f"{s.cpt_code} {s.minutes}" if s.minutes else f"{s.cpt_code} none"
        if s.by_assistant:
            text += " by the PTA"
        if s.offset is not None:
            text += f" from minute {s.offset}"
        if s.note_type:
            text += f" (`{s.note_type}`)"
        logged.append(text)
    return ", ".join(logged)


def _billed(services: tuple[Service, ...]) -> str:
    billed = []
    for s in services:
        if not s.units:
            continue
        text = f"{s.cpt_code} x{s.units}"
        if s.modifiers == NO_MODIFIERS:
            text += " with no modifiers"
        elif s.modifiers is not None:
            text += f" {s.modifiers}"
        if s.place_of_service is not None:
            text += f" at POS {s.place_of_service}"
        billed.append(text)
    return ", ".join(billed)


def _units(case: PlantedCase) -> str:
    billed = _billed(case.services)
    if case.corrected_units:
        corrected = ", ".join(f"{code} x{units}" for code, units in case.corrected_units.items())
        billed += f"; replaced by {corrected}"
    if case.voided_claim:
        voided = ", ".join(f"{code} x{units}" for code, units in case.voided_claim)
        billed += f"; voided claim {voided}"
    return billed


def _outcome(expected: pl.DataFrame) -> str:
    if not expected.height:
        return "nothing"
    return "; ".join(_finding(row) for row in expected.iter_rows(named=True))


def _finding(row: dict[str, object]) -> str:
    units = f"billed {row['units_billed']}"
    if row["units_supported"] is not None:
        units += f", supported {row['units_supported']}"
    return f"{row['rule_id']} on line {row['line_number']} ({row['cpt_code']}): {units}"


def _rejects(dataset: Dataset) -> str:
    rows = [
        "## Rejected rows",
        "",
        _paragraph(
            f"{dataset.rejects.height} rows that belong to no visit, each with one bad value, "
            "for validation to set aside (`expected_rejects.csv`). They sit on days their "
            "patient has no visit, so rejecting them changes no finding."
        ),
        "",
    ]
    for file, row_number, column in dataset.rejects.iter_rows():
        reason = REJECT_REASONS.get((file, column), f"bad {column}")
        rows.append(_bullet(f"`{file}` row {row_number} (`{column}`): {reason}."))
    return "\n".join(rows)
