"""Synthetic outpatient therapy claim exports and EMR time logs, with planted problems.

    python -m bench.synth --profile sample --out data/sample [--seed 20251006]
    python -m bench.synth --profile bench-1m --out bench/data/1m

Writes what a practice would hand to the audit (claims.csv, timelogs.csv), the answer
key (expected_findings.csv, expected_rejects.csv) and a README that explains the data,
then re-reads the files with bench.verify. One seeded random stream decides everything,
so a seed always gives the same bytes.

Rows are built a column at a time in polars frames: patients are crossed with the
calendar, each visit draws a template from a small catalog of code combinations, and
clock times come from running sums per provider-day. A large profile therefore costs a
few joins and running sums, not a Python loop per row; only the sample's planted cases
(bench.cases: single visits, whole courses of care, a therapist's day) and its five
rejected rows are placed one at a time.

The bench profiles (`bench-100k`, `bench-1m`, `bench-10m`, any `bench-<size>`, or
`bench --lines N`) are built from these same functions by bench.scale: a year of a
network of therapists, a few percent of visits planted, generated and written in
chunks, with exports in CSV and Parquet and the answer key in Parquet.
"""

from __future__ import annotations

import argparse
import itertools
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TypeVar

import polars as pl
import pyarrow.compute as pc

from bench.cases import (
    ASSISTANT_MODIFIER,
    COMMERCIAL_CLASS,
    COMMERCIAL_PAYERS,
    EVALUATION_CODES,
    EVALUATION_NOTE,
    MEDICARE,
    MEDICARE_CLASS,
    NCCI_PAIRS,
    NO_MODIFIERS,
    NOT_ON_EVALUATION_DAY,
    OFFICE,
    OT_EVALUATIONS,
    OT_TIMED,
    PT_EVALUATIONS,
    PT_TIMED,
    SAMPLE_PLANTED,
    THERAPY_MODIFIER,
    Case,
    Course,
    PlantedCase,
    ProviderDay,
    Service,
)
from bench.readme import readme_text
from bench.verify import verify
from pipeline.columns import TIMELOGS

T = TypeVar("T")

DEFAULT_SEED = 20251006

# Billed amount per unit, in cents: roughly $45 a timed unit, more for an evaluation.
FEE_CENTS = {
    "97110": 4500,
    "97112": 4800,
    "97116": 4400,
    "97140": 4200,
    "97530": 5000,
    "97535": 4600,
    "97161": 12000,
    "97162": 13500,
    "97165": 14000,
}

# Typical outpatient diagnoses per discipline (ICD-10-CM); each patient gets one set.
DIAGNOSES = {
    "PT": (
        "M54.50,M25.561",
        "M54.50,M54.16",
        "M25.561,M17.11",
        "M25.511,M75.101",
        "M54.2",
        "Z96.651,Z47.1",
        "R26.89,R26.81",
        "M25.561,S83.511D",
    ),
    "OT": (
        "S52.501D",
        "G56.01",
        "M79.641,M19.041",
        "I69.351,M62.81",
        "M25.511,M19.011",
    ),
}

# Twice-weekly schedules (Monday = 0). Each weekday is in exactly two patterns, so dealing
# a therapist's patients the patterns in turn keeps that therapist's weekdays even.
WEEKLY_PATTERNS = ((0, 2), (1, 3), (2, 4), (0, 3), (1, 4))

EVALUATION_MINUTES = (30, 35, 40, 45)
EVALUATION_VISIT_TIMED_MINUTES = (15, 30)  # the one timed code an evaluation visit may add
DAY_START_MINUTE = 8 * 60
GAP_MINUTES = 5  # between one patient's visit and the next
# A planted visit may not make its therapist's day (first start to last end) this long;
# only a case about the length of a day itself goes past it.
MAX_DAY_MINUTES = 8 * 60
MIN_SEGMENT_MINUTES = 5  # each part of a code logged in two segments lasts this long at least
REJECTED_SEGMENT_MINUTES = 15
IMPOSSIBLE_DATE = "2025-09-31"  # September has 30 days

CLAIMS_COLUMNS = (
    "claim_id",
    "line_number",
    "claim_frequency",
    "patient_id",
    "payer",
    "rendering_npi",
    "service_date",
    "cpt_code",
    "modifiers",
    "units",
    "charge",
    "diagnosis_codes",
    "place_of_service",
)
TIMELOG_COLUMNS = TIMELOGS.columns  # the canonical order is the export order
FINDING_COLUMNS = (
    "rule_id",
    "patient_id",
    "service_date",
    "claim_id",
    "line_number",
    "cpt_code",
    "units_billed",
    "units_supported",
)
REJECT_COLUMN = "_reject_column"  # while building: the canonical column planted bad


# --------------------------------------------------------------------------- profiles


@dataclass(frozen=True)
class Profile:
    """The size and shape of one generated practice."""

    name: str
    first_day: date
    last_day: date
    patients: int
    physical_therapists: int
    assistants: int  # PTAs; assistant i works under physical therapist i
    occupational_therapists: int
    ot_share: float  # share of patients in occupational therapy
    medicare_share: float  # share of each discipline's patients on Medicare Part B
    intake_days: int  # patients are evaluated within the first this many weekdays
    assistant_patient_share: float  # share of a supervising PT's patients the PTA also sees
    assistant_visit_share: float  # chance that such a patient's treatment visit is the PTA's
    missed_visit_share: float  # cancellations: scheduled treatment visits that never happen
    split_share: float  # clean timed codes logged as two back-to-back segments
    max_visits: int = 9
    # Timed units per treatment visit (so 30-60 minutes). The cap also keeps a Medicare
    # patient's month of charges far under the KX threshold: only a case planted for it
    # (S24) reaches it.
    max_timed_units: int = 4
    plant: bool = True  # add the planted cases and the rejected rows


PROFILES = {
    "sample": Profile(
        name="sample",
        first_day=date(2025, 10, 6),
        last_day=date(2025, 10, 31),
        patients=36,
        physical_therapists=2,
        assistants=1,
        occupational_therapists=1,
        ot_share=0.25,
        medicare_share=0.5,
        intake_days=10,
        assistant_patient_share=0.5,
        assistant_visit_share=0.5,
        missed_visit_share=0.08,
        split_share=0.2,
    ),
}


# -------------------------------------------------------------------- random numbers


class Draws:
    """One seeded stream of uniform numbers in [0, 1), handed out a column at a time.

    Every frame is put in a fixed row order before a column of draws is attached, so a
    seed gives the same rows whatever order polars' threads happen to finish in.
    """

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)

    def column(self, n: int) -> pl.Series:
        return pl.Series(values=[self._rng.random() for _ in range(n)], dtype=pl.Float64)

    def pick(self, items: Sequence[T]) -> T:
        return items[int(self._rng.random() * len(items))]

    def seed(self) -> int:
        """A seed for a generator of its own, taken from this stream."""
        return self._rng.getrandbits(63)


class BulkDraws(Draws):
    """The same stream interface for millions of rows: each column comes from Arrow's
    generator in one call, seeded from the stream. The sample keeps the plain `Draws`,
    so its files stay byte for byte what they were."""

    def column(self, n: int) -> pl.Series:
        return pl.Series(values=pc.random(n, initializer=self.seed()), dtype=pl.Float64)


def scaled(u: str, n: pl.Expr | int) -> pl.Expr:
    """An index in [0, n) from the uniform draw in column `u`."""
    return (pl.col(u) * n).floor().cast(pl.Int64)


def with_draws(frame: pl.DataFrame, draws: Draws, *names: str) -> pl.DataFrame:
    return frame.with_columns(draws.column(frame.height).alias(name) for name in names)


# Running counts and sums within groups, on a frame sorted by the group keys. They equal
# `.over(keys)` windows, but cost a fraction of one when there are hundreds of thousands
# of small groups (visits, patients), as in the bench profiles.


def run_starts(*keys: str) -> pl.Expr:
    """True on the first row of each run of equal `keys`."""
    return pl.any_horizontal([pl.col(k) != pl.col(k).shift(1) for k in keys]).fill_null(True)


def position_in_run(*keys: str) -> pl.Expr:
    """0, 1, 2, ... along each run of equal `keys`."""
    index = pl.int_range(pl.len())
    return index - pl.when(run_starts(*keys)).then(index).forward_fill()


def sum_before_in_run(value: pl.Expr, *keys: str) -> pl.Expr:
    """The sum of `value` over the earlier rows of each run of equal `keys`."""
    before = value.cum_sum() - value
    return before - pl.when(run_starts(*keys)).then(before).forward_fill()


# ------------------------------------------------------------------------- providers


def npi_check_digit(first_nine: str) -> int:
    """The NPI's tenth digit: Luhn over "80840" followed by the first nine digits.

    The "80840" prefix adds a constant 24 to the Luhn sum, so only the NPI's own digits
    are summed; counting from the right of the nine, every other digit is doubled.
    """
    total = 24
    for position, char in enumerate(first_nine):
        digit = int(char) * (2 if position % 2 == 0 else 1)
        total += digit - 9 if digit > 9 else digit
    return (10 - total % 10) % 10


def make_npis(draws: Draws, n: int) -> list[str]:
    """`n` distinct valid individual NPIs: a 1, eight drawn digits, the check digit."""
    npis: dict[str, None] = {}  # keeps the order drawn, ignores a repeat
    while len(npis) < n:
        body = "1" + "".join(str(int(u * 10)) for u in draws.column(8))
        npis[body + str(npi_check_digit(body))] = None
    return list(npis)


def build_roster(profile: Profile, draws: Draws, npis: list[str] | None = None) -> pl.DataFrame:
    """Providers: NPI, role, discipline, slot among the discipline's therapists, and for
    an assistant the supervising PT (who is the rendering provider on its claims).
    Without `npis` (PTs, then OTs, then PTAs) they are drawn."""
    pts = profile.physical_therapists
    ots = profile.occupational_therapists
    ptas = profile.assistants
    if npis is None:
        npis = make_npis(draws, pts + ots + ptas)
    supervisors = [npis[i % pts] for i in range(ptas)]
    return pl.DataFrame(
        {
            "provider_npi": npis,
            "provider_role": ["PT"] * pts + ["OT"] * ots + ["PTA"] * ptas,
            "discipline": ["PT"] * pts + ["OT"] * ots + ["PT"] * ptas,
            "slot": [*range(pts), *range(ots), *([None] * ptas)],
            "supervisor_npi": [None] * (pts + ots) + supervisors,
        },
        schema={
            "provider_npi": pl.String,
            "provider_role": pl.String,
            "discipline": pl.String,
            "slot": pl.Int64,
            "supervisor_npi": pl.String,
        },
    )


# -------------------------------------------------------------------------- patients


def build_patients(
    profile: Profile,
    roster: pl.DataFrame,
    draws: Draws,
    first_patient: int = 1,
    width: int | None = None,
) -> pl.DataFrame:
    """One row per patient: discipline, payer, therapist, assistant, weekly pattern,
    start day and diagnoses. Patient ids count from `first_patient`, zero-padded to
    `width` digits (by default enough for the profile's patients, at least 4)."""
    n = profile.patients
    width = width or max(4, len(str(n)))
    numbers = pl.int_range(first_patient, first_patient + n, eager=True)
    frame = pl.DataFrame({"patient_id": "P" + numbers.cast(pl.String).str.zfill(width)})
    frame = with_draws(
        frame, draws, "u_discipline", "u_payer", "u_plan", "u_team", "u_assist", "u_start", "u_dx"
    )
    ot_patients = round(n * profile.ot_share)
    frame = frame.with_columns(
        pl.when(pl.col("u_discipline").rank("ordinal") <= ot_patients)
        .then(pl.lit("OT"))
        .otherwise(pl.lit("PT"))
        .alias("discipline")
    )
    frame = _with_payer(frame, profile.medicare_share)
    frame = _with_therapist(frame, roster)
    frame = _with_assistant(frame, roster, profile.assistant_patient_share)
    return frame.with_columns(
        scaled("u_start", profile.intake_days).alias("start_day"),
        _diagnoses().alias("diagnosis_codes"),
    ).select(
        "patient_id",
        "discipline",
        "payer",
        "payer_class",
        "therapist_npi",
        "assistant_npi",
        "assistant_role",
        "weekday_a",
        "weekday_b",
        "start_day",
        "diagnosis_codes",
    )


def _with_payer(frame: pl.DataFrame, medicare_share: float) -> pl.DataFrame:
    """Exactly the Medicare share of each discipline (so planted cases always find
    patients); the rest split at random between the commercial plans."""
    medicare = (
        pl.col("u_payer").rank("ordinal").over("discipline")
        <= (pl.len().over("discipline") * medicare_share).round()
    )
    commercial = (
        pl.when(pl.col("u_plan") < 0.5)
        .then(pl.lit(COMMERCIAL_PAYERS[0]))
        .otherwise(pl.lit(COMMERCIAL_PAYERS[1]))
    )
    return frame.with_columns(
        pl.when(medicare).then(pl.lit(MEDICARE)).otherwise(commercial).alias("payer"),
        pl.when(medicare)
        .then(pl.lit(MEDICARE_CLASS))
        .otherwise(pl.lit(COMMERCIAL_CLASS))
        .alias("payer_class"),
    )


def _with_therapist(frame: pl.DataFrame, roster: pl.DataFrame) -> pl.DataFrame:
    """Patients are dealt to their discipline's therapists in turn, and each therapist's
    patients are dealt the weekly patterns in turn: even caseloads, even weekdays."""
    therapists = roster.filter(pl.col("slot").is_not_null())
    counts = therapists.group_by("discipline").agg(pl.len().cast(pl.Int64).alias("therapists"))
    turn = pl.col("u_team").rank("ordinal").over("discipline").cast(pl.Int64) - 1
    frame = frame.join(counts, on="discipline", how="left").with_columns(
        (turn % pl.col("therapists")).alias("slot")
    )
    frame = frame.join(
        therapists.select("discipline", "slot", pl.col("provider_npi").alias("therapist_npi")),
        on=["discipline", "slot"],
        how="left",
    )
    patterns = pl.DataFrame(
        {
            "pattern": range(len(WEEKLY_PATTERNS)),
            "weekday_a": [first for first, _ in WEEKLY_PATTERNS],
            "weekday_b": [second for _, second in WEEKLY_PATTERNS],
        },
        schema={"pattern": pl.Int64, "weekday_a": pl.Int8, "weekday_b": pl.Int8},
    )
    turn_at_therapist = pl.col("u_team").rank("ordinal").over("therapist_npi").cast(pl.Int64) - 1
    return frame.with_columns((turn_at_therapist % len(WEEKLY_PATTERNS)).alias("pattern")).join(
        patterns, on="pattern", how="left"
    )


def supervised_assistants(roster: pl.DataFrame) -> pl.DataFrame:
    """therapist_npi, assistant_npi, assistant_role: the (first) assistant each
    therapist supervises."""
    return (
        roster.filter(pl.col("supervisor_npi").is_not_null())
        .unique("supervisor_npi", keep="first", maintain_order=True)
        .select(
            pl.col("supervisor_npi").alias("therapist_npi"),
            pl.col("provider_npi").alias("assistant_npi"),
            pl.col("provider_role").alias("assistant_role"),
        )
    )


def _with_assistant(frame: pl.DataFrame, roster: pl.DataFrame, share: float) -> pl.DataFrame:
    """The PTA also sees some of the supervising PT's patients: that share of each payer
    class, rounded up, so Medicare and commercial patients both get assistant visits."""
    assistants = supervised_assistants(roster)
    group = ["therapist_npi", "payer_class"]
    chosen = pl.col("u_assist").rank("ordinal").over(group) <= (pl.len().over(group) * share).ceil()
    return frame.join(assistants, on="therapist_npi", how="left").with_columns(
        pl.when(chosen).then(pl.col("assistant_npi")).alias("assistant_npi"),
        pl.when(chosen).then(pl.col("assistant_role")).alias("assistant_role"),
    )


def _diagnoses() -> pl.Expr:
    """One of the discipline's diagnosis sets, picked by the draw in `u_dx`."""
    chosen = pl.lit(None, pl.String)
    for discipline, options in DIAGNOSES.items():
        pick = scaled("u_dx", len(options)).replace_strict(range(len(options)), options)
        chosen = pl.when(pl.col("discipline") == discipline).then(pick).otherwise(chosen)
    return chosen


# ---------------------------------------------------------------------------- visits


def build_calendar(profile: Profile) -> pl.DataFrame:
    """The profile's weekdays, numbered from 0, with Monday = 0."""
    days = pl.date_range(profile.first_day, profile.last_day, eager=True)
    return (
        pl.DataFrame({"service_date": days})
        .with_columns((pl.col("service_date").dt.weekday() - 1).cast(pl.Int8).alias("weekday"))
        .filter(pl.col("weekday") < 5)
        .with_row_index("day_index")
        .with_columns(pl.col("day_index").cast(pl.Int64))
    )


def build_visits(
    profile: Profile, patients: pl.DataFrame, calendar: pl.DataFrame, draws: Draws
) -> pl.DataFrame:
    """Each patient's visits: the evaluation on the first pattern day from their start
    day, then their pattern days, less cancellations, at most `max_visits` in all."""
    on_pattern = (pl.col("weekday") == pl.col("weekday_a")) | (
        pl.col("weekday") == pl.col("weekday_b")
    )
    visits = (
        patients.join(calendar, how="cross")
        .filter(pl.col("day_index") >= pl.col("start_day"), on_pattern)
        .sort("patient_id", "service_date")
    )
    visits = with_draws(visits, draws, "u_missed")
    first = pl.int_range(pl.len()).over("patient_id") == 0
    visits = visits.filter(first | (pl.col("u_missed") >= profile.missed_visit_share))
    visits = visits.with_columns(
        (pl.int_range(pl.len()).over("patient_id") + 1).alias("visit_no")
    ).filter(pl.col("visit_no") <= profile.max_visits)
    visits = visits.sort("service_date", "patient_id").with_row_index("visit_id")
    return with_provider(visits, profile, draws)


def with_provider(visits: pl.DataFrame, profile: Profile, draws: Draws) -> pl.DataFrame:
    """Who delivers each visit: the therapist, or for some treatment visits the assistant.

    A visit's codes are all delivered by one provider; the claim names the therapist
    (the assistant's supervisor) as rendering provider either way.
    """
    visits = with_draws(visits, draws, "u_assistant").with_columns(
        (pl.col("visit_no") == 1).alias("is_evaluation")
    )
    by_assistant = (
        ~pl.col("is_evaluation")
        & pl.col("assistant_npi").is_not_null()
        & (pl.col("u_assistant") < profile.assistant_visit_share)
    )
    return visits.select(
        "visit_id",
        "patient_id",
        "service_date",
        "visit_no",
        "is_evaluation",
        "discipline",
        "payer",
        "payer_class",
        "diagnosis_codes",
        "therapist_npi",
        pl.col("therapist_npi").alias("rendering_npi"),
        pl.when(by_assistant)
        .then(pl.col("assistant_npi"))
        .otherwise(pl.col("therapist_npi"))
        .alias("provider_npi"),
        # A therapist's role is the name of the discipline (PT or OT).
        pl.when(by_assistant)
        .then(pl.col("assistant_role"))
        .otherwise(pl.col("discipline"))
        .alias("provider_role"),
    )


# ------------------------------------------------------------------------- templates


def _has_ncci_pair(codes: Sequence[str]) -> bool:
    return any(pair <= set(codes) for pair in NCCI_PAIRS)


def treatment_templates(timed: Sequence[str], max_units: int) -> list[tuple[Service, ...]]:
    """Every clean treatment visit: 2-3 distinct timed codes of 15, 30 or 45 minutes,
    each billed minutes/15 units, at most `max_units` in all, and no NCCI pair."""
    templates = []
    for size in (2, 3):
        for codes in itertools.combinations(timed, size):
            if _has_ncci_pair(codes):
                continue
            for units in itertools.product((1, 2, 3), repeat=size):
                if sum(units) <= max_units:
                    services = zip(codes, units, strict=True)
                    templates.append(tuple(Service(c, 15 * u, u) for c, u in services))
    return templates


def evaluation_templates(
    evaluations: Sequence[str], timed: Sequence[str]
) -> list[tuple[Service, ...]]:
    """Every clean evaluation visit: the evaluation (one untimed unit, one 30-45 minute
    segment), then possibly one timed code allowed on an evaluation day."""
    extras: list[tuple[Service, ...]] = [()]
    extras += [
        (Service(code, minutes, minutes // 15),)
        for code in timed
        if code not in NOT_ON_EVALUATION_DAY
        for minutes in EVALUATION_VISIT_TIMED_MINUTES
    ]
    return [
        (Service(evaluation, minutes, 1), *extra)
        for evaluation in evaluations
        for minutes in EVALUATION_MINUTES
        for extra in extras
    ]


@dataclass(frozen=True)
class Catalog:
    """Visit templates. `lines` holds their services (template_id, seq, cpt_code,
    minutes, units, and what a planted service says otherwise of: modifiers,
    place_of_service, by_assistant, offset, note_type); `choices` the run of clean
    template ids open to each discipline and kind of visit; `case_templates` the
    template id of each single-visit planted case, `visit_templates` that of each visit
    (case id, visit number from 0) of the other cases."""

    lines: pl.DataFrame
    choices: pl.DataFrame
    case_templates: dict[str, int]
    visit_templates: dict[tuple[str, int], int] = field(default_factory=dict)


CATALOG_SCHEMA = {
    "template_id": pl.Int64,
    "seq": pl.Int64,
    "cpt_code": pl.String,
    "minutes": pl.Int64,
    "units": pl.Int64,
    "modifiers": pl.String,
    "place_of_service": pl.String,
    "by_assistant": pl.Boolean,
    "offset": pl.Int64,
    "note_type": pl.String,
}


def build_catalog(profile: Profile, cases: Sequence[Case]) -> Catalog:
    """All clean templates by discipline and kind of visit, then one per visit of each
    planted case."""
    groups = {
        ("PT", True): evaluation_templates(PT_EVALUATIONS, PT_TIMED),
        ("PT", False): treatment_templates(PT_TIMED, profile.max_timed_units),
        ("OT", True): evaluation_templates(OT_EVALUATIONS, OT_TIMED),
        ("OT", False): treatment_templates(OT_TIMED, profile.max_timed_units),
    }
    templates: list[tuple[Service, ...]] = []
    choices = []
    for (discipline, is_evaluation), group in groups.items():
        choices.append((discipline, is_evaluation, len(templates), len(group)))
        templates += group
    case_templates, visit_templates = {}, {}
    for case in cases:
        for visit, services in enumerate(case.plans):
            if isinstance(case, PlantedCase):
                case_templates[case.case_id] = len(templates)
            else:
                visit_templates[case.case_id, visit] = len(templates)
            templates.append(services)
    lines = pl.DataFrame(
        [
            (
                template_id,
                seq,
                s.cpt_code,
                s.minutes,
                s.units,
                s.modifiers,
                s.place_of_service,
                s.by_assistant,
                s.offset,
                s.note_type,
            )
            for template_id, services in enumerate(templates)
            for seq, s in enumerate(services, start=1)
        ],
        schema=CATALOG_SCHEMA,
        orient="row",
    )
    choices_frame = pl.DataFrame(
        choices,
        schema={
            "discipline": pl.String,
            "is_evaluation": pl.Boolean,
            "first_template": pl.Int64,
            "templates": pl.Int64,
        },
        orient="row",
    )
    return Catalog(lines, choices_frame, case_templates, visit_templates)


def assign_templates(visits: pl.DataFrame, catalog: Catalog, draws: Draws) -> pl.DataFrame:
    """Each visit draws one of the clean templates open to its discipline and kind.
    Planting sets `case_id`, `case_visit` (the visit's number in its case, from 0) and,
    for a visit at a fixed clock time, `fixed_start` (minute of the day)."""
    visits = with_draws(visits, draws, "u_template").join(
        catalog.choices, on=["discipline", "is_evaluation"], how="left"
    )
    return visits.with_columns(
        (pl.col("first_template") + scaled("u_template", pl.col("templates"))).alias("template_id"),
        pl.lit(None, pl.String).alias("case_id"),
        pl.lit(None, pl.Int64).alias("case_visit"),
        pl.lit(None, pl.Int64).alias("fixed_start"),
    ).drop("u_template", "first_template", "templates")


def apply_plants(visits: pl.DataFrame, planted: pl.DataFrame) -> pl.DataFrame:
    """Put each planted case (`planted`: visit_id, planted_case, planted_template) on its
    visit, delivered by the patient's own therapist."""
    is_planted = pl.col("planted_case").is_not_null()
    return (
        visits.join(planted, on="visit_id", how="left")
        .with_columns(
            pl.coalesce("planted_template", "template_id").alias("template_id"),
            pl.coalesce("planted_case", "case_id").alias("case_id"),
            pl.when(is_planted).then(0).otherwise(pl.col("case_visit")).alias("case_visit"),
            pl.when(is_planted)
            .then(pl.col("therapist_npi"))
            .otherwise(pl.col("provider_npi"))
            .alias("provider_npi"),
            pl.when(is_planted)
            .then(pl.col("discipline"))
            .otherwise(pl.col("provider_role"))
            .alias("provider_role"),
        )
        .drop("planted_case", "planted_template")
        .sort("visit_id")
    )


# -------------------------------------------------------------------------- planting


def plant_sample(
    patients: pl.DataFrame,
    visits: pl.DataFrame,
    calendar: pl.DataFrame,
    catalog: Catalog,
    roster: pl.DataFrame,
    cases: Sequence[Case],
    draws: Draws,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Plant the sample's cases, in the order given (fixed days before chosen ones):
    return the patients (with the courses' own) and the visits."""
    used: list[str] = []  # patients holding a single-visit case
    for case in cases:
        if isinstance(case, Course):
            patients, visits = plant_course(
                patients, visits, calendar, catalog, roster, case, draws
            )
        elif isinstance(case, ProviderDay):
            visits = plant_provider_day(patients, visits, calendar, catalog, roster, case, draws)
        else:
            visits = plant_case(visits, catalog, roster, case, used, draws)
    return patients, visits


def therapist_npi(roster: pl.DataFrame, discipline: str, slot: int) -> str:
    """The NPI of the discipline's therapist at `slot`."""
    found = roster.filter(pl.col("discipline") == discipline, pl.col("slot") == slot)
    if found.height != 1:
        raise ValueError(f"the practice has no {discipline} therapist number {slot + 1}")
    return found.get_column("provider_npi").item()


def plant_case(
    visits: pl.DataFrame,
    catalog: Catalog,
    roster: pl.DataFrame,
    case: PlantedCase,
    used: list[str],
    draws: Draws,
) -> pl.DataFrame:
    """Give a single-visit case a visit of its own on a PT patient of its payer class,
    one not in `used` (patients other cases hold) while there are any, delivered by the
    patient's PT; the patient is added to `used`."""
    pool = case_pool(visits, catalog, roster, case)
    fresh = pool.filter(~pl.col("patient_id").is_in(used))
    pool = fresh if fresh.height else pool
    if not pool.height:
        raise ValueError(f"no visit left that case {case.case_id} can be planted on")
    patient = draws.pick(pool.get_column("patient_id").unique().sort().to_list())
    own = pool.filter(pl.col("patient_id") == patient).get_column("visit_id")
    used.append(patient)
    planted = pl.DataFrame(
        {
            "visit_id": pl.Series([draws.pick(own.sort().to_list())], dtype=own.dtype),
            "planted_case": [case.case_id],
            "planted_template": [catalog.case_templates[case.case_id]],
        }
    )
    return apply_plants(visits, planted)


def case_pool(
    visits: pl.DataFrame, catalog: Catalog, roster: pl.DataFrame, case: PlantedCase
) -> pl.DataFrame:
    """The visits a single-visit case may take: free visits of its kind on PT patients of
    its payer class (and therapist), whose therapist's day stays under MAX_DAY_MINUTES
    with the case in it; with an assistant's part, on a day the assistant sees nobody."""
    pool = visits.filter(
        pl.col("case_id").is_null(),
        pl.col("discipline") == "PT",
        pl.col("is_evaluation") == case.on_evaluation,
        pl.col("payer_class") == case.payer_class,
    )
    if case.therapist is not None:
        pool = pool.filter(pl.col("therapist_npi") == therapist_npi(roster, "PT", case.therapist))
    if any(service.by_assistant for service in case.services):
        busy = visits.select(pl.col("provider_npi").alias("assistant_npi"), "service_date")
        pool = (
            pool.join(supervised_assistants(roster), on="therapist_npi")
            .join(busy, on=["assistant_npi", "service_date"], how="anti")
            .select(pool.columns)
        )
    return _fits_the_day(pool, visits, catalog, catalog.case_templates[case.case_id])


def _fits_the_day(
    pool: pl.DataFrame, visits: pl.DataFrame, catalog: Catalog, template_id: int
) -> pl.DataFrame:
    """The visits of `pool` whose therapist's day, with the template in place of the
    visit (the therapist's own visit, or an assistant's taken over), is still under
    MAX_DAY_MINUTES from the first start to the last end."""
    durations = catalog.lines.group_by("template_id").agg(pl.col("minutes").sum().alias("busy"))
    days = (
        visits.join(durations, on="template_id")
        .group_by("provider_npi", "service_date")
        .agg((pl.col("busy") + GAP_MINUTES).sum().alias("day_busy"))
    )
    case_minutes = durations.filter(pl.col("template_id") == template_id).get_column("busy").item()
    own_minutes = pl.when(pl.col("provider_npi") == pl.col("therapist_npi")).then(
        pl.col("busy") + GAP_MINUTES
    )
    return (
        pool.join(durations, on="template_id")
        .join(
            days.rename({"provider_npi": "therapist_npi"}),
            on=["therapist_npi", "service_date"],
            how="left",
        )
        .filter(
            pl.col("day_busy").fill_null(0) - own_minutes.fill_null(0) + case_minutes
            < MAX_DAY_MINUTES
        )
        .select(pool.columns)
        .sort("visit_id")
    )


def plant_course(
    patients: pl.DataFrame,
    visits: pl.DataFrame,
    calendar: pl.DataFrame,
    catalog: Catalog,
    roster: pl.DataFrame,
    case: Course,
    draws: Draws,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A patient of the course's own, with every one of its visits on its days."""
    days = [visit.day for visit in case.visits]
    outside = sorted(set(days) - set(calendar.get_column("service_date").to_list()))
    if outside:
        raise ValueError(f"case {case.case_id}: {outside} are not weekdays of the profile")
    patient = new_patient(patients, calendar, roster, case, days[0], draws)
    plan = pl.DataFrame(
        {
            "patient_id": [patient.get_column("patient_id").item()] * len(days),
            "service_date": days,
            "case_visit": list(range(len(days))),
            "is_evaluation": [i == 0 for i in range(len(days))],
            "template_id": [catalog.visit_templates[case.case_id, i] for i in range(len(days))],
            "fixed_start": [None] * len(days),
        },
        schema_overrides={"fixed_start": pl.Int64},
    )
    patients = pl.concat([patients, patient])
    return patients, add_visits(visits, patients, plan, case.case_id)


def new_patient(
    patients: pl.DataFrame,
    calendar: pl.DataFrame,
    roster: pl.DataFrame,
    case: Course,
    first_day: date,
    draws: Draws,
) -> pl.DataFrame:
    """A patient row for a course, numbered after the practice's patients."""
    numbers = patients.get_column("patient_id").str.slice(1)
    width = numbers.str.len_chars().max()
    number = int(numbers.cast(pl.Int64).max()) + 1
    start_day = calendar.filter(pl.col("service_date") == first_day).get_column("day_index")
    payer_class = MEDICARE_CLASS if case.payer == MEDICARE else COMMERCIAL_CLASS
    row = {
        "patient_id": f"P{number:0{width}d}",
        "discipline": case.discipline,
        "payer": case.payer,
        "payer_class": payer_class,
        "therapist_npi": therapist_npi(roster, case.discipline, case.therapist),
        "assistant_npi": None,
        "assistant_role": None,
        "weekday_a": None,
        "weekday_b": None,
        "start_day": start_day.item(),
        "diagnosis_codes": draws.pick(DIAGNOSES[case.discipline]),
    }
    return pl.DataFrame([row], schema=patients.schema)


def plant_provider_day(
    patients: pl.DataFrame,
    visits: pl.DataFrame,
    calendar: pl.DataFrame,
    catalog: Catalog,
    roster: pl.DataFrame,
    case: ProviderDay,
    draws: Draws,
) -> pl.DataFrame:
    """The therapist's day of the case, on a drawn weekday that has patients for every
    visit and no planted visit of the therapist's yet. The chosen patients' visits that
    day (if any) are replaced by the case's, and with `exclusive` the therapist's other
    visits that day are cancelled."""
    therapist = therapist_npi(roster, case.discipline, case.therapist)
    own = visits.filter(pl.col("therapist_npi") == therapist)
    taken = set(own.filter(pl.col("case_id").is_not_null()).get_column("service_date"))
    evaluated = own.group_by("patient_id").agg(
        pl.col("service_date").min().alias("first_visit"), pl.col("payer").first()
    )
    options = []
    for day in calendar.get_column("service_date"):
        if day not in taken:
            chosen = _day_patients(case, evaluated.filter(pl.col("first_visit") < day))
            if chosen:
                options.append((day, chosen))
    if not options:
        raise ValueError(f"case {case.case_id}: no day has patients for all its visits")
    day, chosen = draws.pick(options)
    cancelled = (pl.col("service_date") == day) & (
        pl.col("patient_id").is_in(chosen)
        | (pl.lit(case.exclusive) & (pl.col("provider_npi") == therapist))
    )
    plan = pl.DataFrame(
        {
            "patient_id": chosen,
            "service_date": [day] * len(chosen),
            "case_visit": list(range(len(chosen))),
            "is_evaluation": [False] * len(chosen),
            "template_id": [catalog.visit_templates[case.case_id, i] for i in range(len(chosen))],
            "fixed_start": [visit.start for visit in case.visits],
        }
    )
    return add_visits(visits.filter(~cancelled), patients, plan, case.case_id)


def _day_patients(case: ProviderDay, evaluated: pl.DataFrame) -> list[str] | None:
    """A different patient for each visit of the day, the first in id order of the
    visit's payer; None when some visit finds none."""
    chosen: list[str] = []
    for visit in case.visits:
        free = evaluated.filter(~pl.col("patient_id").is_in(chosen))
        if visit.payer is not None:
            free = free.filter(pl.col("payer") == visit.payer)
        if not free.height:
            return None
        chosen.append(free.get_column("patient_id").min())
    return chosen


def add_visits(
    visits: pl.DataFrame, patients: pl.DataFrame, plan: pl.DataFrame, case_id: str
) -> pl.DataFrame:
    """Add the visits of a planted case to `visits`, one per row of `plan` (patient_id,
    service_date, case_visit, is_evaluation, template_id, fixed_start), delivered and
    billed by the patient's therapist; every visit is then numbered again in (day,
    patient) order, as build_visits numbers them."""
    added = plan.join(patients, on="patient_id").with_columns(
        pl.col("case_visit").cast(pl.Int64),
        pl.col("template_id").cast(pl.Int64),
        pl.col("fixed_start").cast(pl.Int64),
        pl.lit(case_id).alias("case_id"),
        pl.lit(None, pl.Int64).alias("visit_no"),  # it only told evaluations apart
        pl.col("therapist_npi").alias("rendering_npi"),
        pl.col("therapist_npi").alias("provider_npi"),
        pl.col("discipline").alias("provider_role"),
    )
    columns = [c for c in visits.columns if c != "visit_id"]
    return (
        pl.concat([visits.select(columns), added.select(columns)], how="vertical_relaxed")
        .sort("service_date", "patient_id")
        .with_row_index("visit_id")
        .select(visits.columns)
    )


# -------------------------------------------------------------------------- time logs


def visit_lines(visits: pl.DataFrame, catalog: Catalog) -> pl.DataFrame:
    """The services of each visit, in the order they were delivered."""
    return visits.join(catalog.lines, on="template_id", how="inner").sort("visit_id", "seq")


def split_segments(lines: pl.DataFrame, profile: Profile, draws: Draws) -> pl.DataFrame:
    """Logged services as segments (`segment` = minutes); some clean timed codes are
    logged as two back-to-back parts, as when a therapist saves a note midway.

    Evaluations and planted cases stay whole, so their minutes read plainly in the file.
    """
    logged = with_draws(lines.filter(pl.col("minutes") > 0), draws, "u_split", "u_cut")
    splittable = (
        pl.col("case_id").is_null()
        & ~pl.col("cpt_code").is_in(sorted(EVALUATION_CODES))
        & (pl.col("minutes") >= 2 * MIN_SEGMENT_MINUTES)
        & (pl.col("u_split") < profile.split_share)
    )
    cut_range = pl.col("minutes") - 2 * MIN_SEGMENT_MINUTES + 1
    logged = logged.with_columns(
        pl.when(splittable)
        .then(MIN_SEGMENT_MINUTES + scaled("u_cut", cut_range))
        .otherwise(pl.col("minutes"))
        .alias("first_part")
    )
    first = logged.with_columns(pl.lit(1).alias("part"), pl.col("first_part").alias("segment"))
    second = logged.filter(pl.col("first_part") < pl.col("minutes")).with_columns(
        pl.lit(2).alias("part"), (pl.col("minutes") - pl.col("first_part")).alias("segment")
    )
    return pl.concat([first, second]).sort("visit_id", "seq", "part")


def schedule(segments: pl.DataFrame, draws: Draws) -> pl.DataFrame:
    """Clock minutes for every segment: each provider's visits run back to back from 08:00
    in a drawn order with a gap between patients; a visit's segments follow one another
    with none. So no provider and no patient is ever in two places at once, except where
    a planted case says otherwise: a segment with an `offset` starts that many minutes
    into its visit, and a visit with a `fixed_start` keeps that clock time, the
    provider's other visits that day following the last such visit."""
    visits = (
        segments.group_by("visit_id", "provider_npi", "service_date")
        .agg(pl.col("segment").sum().alias("duration"), pl.col("fixed_start").first())
        .sort("visit_id")
    )
    visits = with_draws(visits, draws, "u_order")
    day = ("provider_npi", "service_date")
    fixed_ends = (
        visits.filter(pl.col("fixed_start").is_not_null())
        .group_by(day)
        .agg((pl.col("fixed_start") + pl.col("duration")).max().alias("fixed_end"))
    )
    visits = visits.join(fixed_ends, on=day, how="left").sort(*day, "u_order", "visit_id")
    flexible = pl.col("fixed_start").is_null()
    day_start = pl.max_horizontal(pl.lit(DAY_START_MINUTE), pl.col("fixed_end") + GAP_MINUTES)
    before = sum_before_in_run(
        pl.when(flexible).then(pl.col("duration") + GAP_MINUTES).otherwise(0), *day
    )
    visits = visits.with_columns(
        pl.coalesce("fixed_start", day_start + before).alias("visit_start")
    )
    within = pl.coalesce("offset", sum_before_in_run(pl.col("segment"), "visit_id"))
    return (
        segments.join(visits.select("visit_id", "visit_start"), on="visit_id")
        .sort("visit_id", "seq", "part")
        .with_columns((pl.col("visit_start") + within).alias("start_minute"))
        .with_columns((pl.col("start_minute") + pl.col("segment")).alias("end_minute"))
    )


def hand_over_to_assistant(segments: pl.DataFrame, roster: pl.DataFrame) -> pl.DataFrame:
    """A segment a case has logged `by_assistant` carries the NPI and role of the PTA
    the visit's therapist supervises. The visit was scheduled in the therapist's day;
    such a case is planted on a day the assistant sees nobody else."""
    by_assistant = pl.col("by_assistant")
    return (
        segments.join(supervised_assistants(roster), on="therapist_npi", how="left")
        .with_columns(
            pl.when(by_assistant)
            .then(pl.col("assistant_npi"))
            .otherwise(pl.col("provider_npi"))
            .alias("provider_npi"),
            pl.when(by_assistant)
            .then(pl.col("assistant_role"))
            .otherwise(pl.col("provider_role"))
            .alias("provider_role"),
        )
        .drop("assistant_npi", "assistant_role")
        .sort("visit_id", "seq", "part")
    )


def _clock(minute: str) -> pl.Expr:
    """`YYYY-MM-DD HH:MM` for a minute of the row's service day."""
    stamp = pl.col("service_date").cast(pl.Datetime("us")) + pl.duration(minutes=pl.col(minute))
    return stamp.dt.strftime("%Y-%m-%d %H:%M")


def timelog_rows(segments: pl.DataFrame) -> pl.DataFrame:
    """Time-log export rows, one per segment, plus the keys that order the export."""
    width = max(6, len(str(segments.get_column("visit_id").max())))
    session = pl.format("S{}", (pl.col("visit_id") + 1).cast(pl.String).str.zfill(width))
    evaluation = pl.when(pl.col("cpt_code").is_in(sorted(EVALUATION_CODES))).then(
        pl.lit(EVALUATION_NOTE)
    )
    note = pl.coalesce("note_type", evaluation)
    return segments.select(
        "patient_id",
        "provider_npi",
        "provider_role",
        pl.col("service_date").dt.strftime("%Y-%m-%d"),
        "cpt_code",
        _clock("start_minute").alias("start_time"),
        _clock("end_minute").alias("end_time"),
        session.alias("session_id"),
        note.alias("note_type"),
        pl.lit(None, pl.String).alias(REJECT_COLUMN),
        pl.col("service_date").alias("sort_date"),
        pl.col("start_minute").alias("sort_minute"),
    )


def rejected_segments(free: pl.DataFrame, segments: pl.DataFrame) -> pl.DataFrame:
    """Segments validation must reject, one per row of `free`, in turn: one ending before
    it starts, one without a patient. Each stands on a day its patient has no visit,
    after the provider's last visit, so even if one were accepted no planted outcome
    would change."""
    day_end = segments.group_by("provider_npi", "service_date").agg(
        pl.col("end_minute").max().alias("day_end")
    )
    bad = (
        free.rename({"therapist_npi": "provider_npi"})
        .join(day_end, on=["provider_npi", "service_date"], how="left")
        .with_columns(
            (pl.int_range(pl.len()) % 2).alias("which"),
            (pl.col("day_end").fill_null(DAY_START_MINUTE - GAP_MINUTES) + GAP_MINUTES).alias(
                "start_minute"
            ),
        )
        .with_columns((pl.col("start_minute") + REJECTED_SEGMENT_MINUTES).alias("end_minute"))
    )
    reversed_times = pl.col("which") == 0
    no_patient = pl.col("which") == 1
    return bad.select(
        pl.when(no_patient).then(None).otherwise(pl.col("patient_id")).alias("patient_id"),
        "provider_npi",
        pl.col("discipline").alias("provider_role"),
        pl.col("service_date").dt.strftime("%Y-%m-%d"),
        pl.lit("97110").alias("cpt_code"),
        pl.when(reversed_times)
        .then(_clock("end_minute"))
        .otherwise(_clock("start_minute"))
        .alias("start_time"),
        pl.when(reversed_times)
        .then(_clock("start_minute"))
        .otherwise(_clock("end_minute"))
        .alias("end_time"),
        pl.format("SX{}", pl.col("which") + 1).alias("session_id"),
        pl.lit(None, pl.String).alias("note_type"),
        pl.when(reversed_times)
        .then(pl.lit("end_time"))
        .otherwise(pl.lit("patient_id"))
        .alias(REJECT_COLUMN),
        pl.col("service_date").alias("sort_date"),
        pl.col("start_minute").alias("sort_minute"),
    )


def order_timelogs(pending: pl.DataFrame) -> pl.DataFrame:
    """EMR export order: by day, provider, then clock time."""
    return pending.sort(
        "sort_date", "provider_npi", "sort_minute", "patient_id", nulls_last=True
    ).drop("sort_date", "sort_minute")


# ---------------------------------------------------------------------------- claims


def _modifiers() -> pl.Expr:
    """GP or GO by discipline, then CQ or CO when an assistant delivered the visit; or
    what a planted service says (NO_MODIFIERS: none at all)."""
    therapy = pl.col("discipline").replace_strict(THERAPY_MODIFIER)
    assistant = pl.col("provider_role").replace_strict(ASSISTANT_MODIFIER, default=None)
    usual = pl.concat_str([therapy, assistant], separator=",", ignore_nulls=True)
    stated = pl.col("modifiers")
    return pl.when(stated == NO_MODIFIERS).then(None).otherwise(pl.coalesce(stated, usual))


# The columns of a planted service that claim rows read, for rows that come from no
# template (claims billed in error, rejected rows): nothing stated.
NOTHING_STATED = (
    pl.lit(None, pl.String).alias("modifiers"),
    pl.lit(None, pl.String).alias("place_of_service"),
)


def _charge(units: pl.Expr) -> pl.Expr:
    """Fee times units, written as dollars and cents from whole cents."""
    cents = pl.col("cpt_code").replace_strict(FEE_CENTS, return_dtype=pl.Int64) * units
    return pl.format("{}.{}", cents // 100, (cents % 100).cast(pl.String).str.zfill(2))


def _claim_columns() -> list[pl.Expr]:
    """Claim export columns from visit-and-service rows, with the keys that order and
    number the claims (`sort_*`, `claim_key`)."""
    return [
        pl.col("service_date").alias("sort_date"),
        pl.col("visit_start").alias("sort_minute"),
        pl.col("visit_id").alias("sort_visit"),
        "sort_sub",
        "claim_key",
        "case_id",
        "case_visit",
        "line_number",
        pl.lit("1").alias("claim_frequency"),
        "patient_id",
        "payer",
        "rendering_npi",
        pl.col("service_date").dt.strftime("%Y-%m-%d"),
        "cpt_code",
        _modifiers().alias("modifiers"),
        "units",
        _charge(pl.col("units")).alias("charge"),
        "diagnosis_codes",
        pl.col("place_of_service").fill_null(OFFICE),
        pl.lit(None, pl.String).alias(REJECT_COLUMN),
    ]


def claim_rows(lines: pl.DataFrame, visit_starts: pl.DataFrame) -> pl.DataFrame:
    """One claim per visit, one line per billed code (a code logged but not billed,
    like S12's 97116, has no line)."""
    billed = lines.filter(pl.col("units") > 0).join(visit_starts, on="visit_id", how="left")
    return (
        billed.sort("visit_id", "seq")
        .with_columns(
            (position_in_run("visit_id") + 1).alias("line_number"),
            pl.format("V{}", pl.col("visit_id")).alias("claim_key"),
            pl.lit(0).alias("sort_sub"),
        )
        .select(_claim_columns())
    )


def erroneous_claims(
    visits: pl.DataFrame, visit_starts: pl.DataFrame, cases: Sequence[PlantedCase]
) -> pl.DataFrame:
    """The second claims billed in error on planted visits' days (voided later on);
    each comes right after its visit's own claim."""
    rows = [
        (case.case_id, seq, cpt_code, units)
        for case in cases
        for seq, (cpt_code, units) in enumerate(case.voided_claim, start=1)
    ]
    extra = pl.DataFrame(
        rows,
        schema={
            "case_id": pl.String,
            "line_number": pl.Int64,
            "cpt_code": pl.String,
            "units": pl.Int64,
        },
        orient="row",
    )
    return (
        extra.join(visits.drop("template_id"), on="case_id")
        .join(visit_starts, on="visit_id")
        .with_columns(
            pl.format("X{}", pl.col("visit_id")).alias("claim_key"),
            pl.lit(1).alias("sort_sub"),
            *NOTHING_STATED,
        )
        .select(_claim_columns())
    )


def rejected_claims(free: pl.DataFrame) -> pl.DataFrame:
    """Claims of one line, one per row of `free`, each with one bad value, in turn: an
    NPI with a wrong check digit, a date that does not exist, zero units. None stands
    for a visit, so rejecting them changes no finding. Each comes after the claims of
    its day."""
    bad = free.with_columns(
        (pl.int_range(pl.len()) % 3).alias("which"),
        pl.format("R{}", pl.int_range(pl.len())).alias("claim_key"),
        pl.lit(24 * 60).alias("visit_start"),
        pl.lit(0, pl.UInt32).alias("visit_id"),
        pl.lit(2).alias("sort_sub"),
        pl.lit(1).alias("line_number"),
        pl.lit("97110").alias("cpt_code"),
        pl.lit(1).alias("units"),
        pl.col("therapist_npi").alias("rendering_npi"),
        pl.col("discipline").alias("provider_role"),
        pl.lit(None, pl.String).alias("case_id"),
        pl.lit(None, pl.Int64).alias("case_visit"),
        *NOTHING_STATED,
    )
    rows = bad.select(*_claim_columns(), "which")
    npi = pl.col("rendering_npi")
    wrong_check_digit = npi.str.slice(0, 9) + ((npi.str.slice(9, 1).cast(pl.Int64) + 1) % 10).cast(
        pl.String
    )
    which = pl.col("which")
    return rows.with_columns(
        pl.when(which == 0).then(wrong_check_digit).otherwise(npi).alias("rendering_npi"),
        pl.when(which == 1)
        .then(pl.lit(IMPOSSIBLE_DATE))
        .otherwise(pl.col("service_date"))
        .alias("service_date"),
        pl.when(which == 2).then(0).otherwise(pl.col("units")).alias("units"),
        pl.when(which == 2).then(_charge(pl.lit(0))).otherwise(pl.col("charge")).alias("charge"),
        which.replace_strict([0, 1, 2], ["rendering_npi", "service_date", "units"]).alias(
            REJECT_COLUMN
        ),
    ).drop("which")


def number_claims(
    pending: pl.DataFrame, first_day: date, start: int = 0, width: int | None = None
) -> pl.DataFrame:
    """Put the claims in export order (by day, then visit time) and number them in that
    order: C, year and month of the first day, then a running number after `start`,
    zero-padded to `width` digits (by default enough for these claims, at least 4)."""
    pending = pending.sort(
        "sort_date", "sort_minute", "sort_visit", "sort_sub", "claim_key", "line_number"
    )
    number = pl.col("claim_key").is_first_distinct().cum_sum() + start
    width = width or max(4, len(str(pending.get_column("claim_key").n_unique())))
    prefix = "C" + first_day.strftime("%y%m")
    return pending.with_columns(
        (prefix + number.cast(pl.String).str.zfill(width)).alias("claim_id")
    ).drop("sort_date", "sort_minute", "sort_visit", "sort_sub")


def follow_up_claims(claims: pl.DataFrame, cases: Sequence[PlantedCase]) -> pl.DataFrame:
    """Replacement (7) and void (8) copies of planted claims, for the end of the file."""
    copies = []
    for case in cases:
        if case.corrected_units:
            original = claims.filter(
                pl.col("case_id") == case.case_id, pl.col("claim_key").str.starts_with("V")
            )
            units = pl.col("cpt_code").replace_strict(case.corrected_units, return_dtype=pl.Int64)
            copies.append(
                original.with_columns(
                    pl.lit("7").alias("claim_frequency"),
                    units.alias("units"),
                    _charge(units).alias("charge"),
                )
            )
        if case.voided_claim:
            original = claims.filter(
                pl.col("case_id") == case.case_id, pl.col("claim_key").str.starts_with("X")
            )
            copies.append(original.with_columns(pl.lit("8").alias("claim_frequency")))
    if not copies:
        return claims.clear()
    return pl.concat(copies).sort("claim_id", "line_number")


# ------------------------------------------------------------------------ answer key


def free_patient_days(
    patients: pl.DataFrame, calendar: pl.DataFrame, visits: pl.DataFrame, draws: Draws, n: int
) -> pl.DataFrame:
    """`n` distinct (patient, weekday) pairs on which the patient has no visit, for the
    rejected rows: whatever happens to them, no visit's outcome depends on them."""
    free = (
        patients.join(calendar, how="cross")
        .join(
            visits.select("patient_id", "service_date"),
            on=["patient_id", "service_date"],
            how="anti",
        )
        .sort("patient_id", "service_date")
    )
    return with_draws(free, draws, "u").sort("u").head(n).sort("service_date", "patient_id")


def expected_findings(claims: pl.DataFrame, cases: Sequence[Case]) -> pl.DataFrame:
    """The findings a correct audit reports: exactly the planted problems. A finding on a
    claim line takes its claim, patient and day from the case's visit; one about a
    provider's day (no code) is filed under the case's lowest patient id, on its day."""
    key = pl.DataFrame(
        [
            (case.case_id, e.visit, e.rule_id, e.cpt_code, e.units_billed, e.units_supported)
            for case in cases
            for e in case.expected
        ],
        schema={
            "case_id": pl.String,
            "case_visit": pl.Int64,
            "rule_id": pl.String,
            "cpt_code": pl.String,
            "units_billed": pl.Int64,
            "units_supported": pl.Int64,
        },
        orient="row",
    )
    originals = claims.filter(
        pl.col("claim_frequency") == "1", pl.col("claim_key").str.starts_with("V")
    ).select(
        "case_id", "case_visit", "cpt_code", "claim_id", "line_number", "patient_id", "service_date"
    )
    on_lines = key.filter(pl.col("cpt_code").is_not_null()).join(
        originals, on=["case_id", "case_visit", "cpt_code"], how="left"
    )
    if on_lines.get_column("claim_id").null_count():
        raise ValueError("a planted finding names a code its claim does not bill")
    case_days = originals.group_by("case_id").agg(
        pl.col("patient_id").min(), pl.col("service_date").min()
    )
    on_days = (
        key.filter(pl.col("cpt_code").is_null())
        .join(case_days, on="case_id", how="left")
        .with_columns(
            pl.lit(None, pl.String).alias("claim_id"), pl.lit(None, pl.Int64).alias("line_number")
        )
    )
    return pl.concat(
        [on_lines.select(FINDING_COLUMNS), on_days.select(FINDING_COLUMNS)], how="vertical_relaxed"
    ).sort("service_date", "claim_id", "line_number", "rule_id", "patient_id", nulls_last=True)


def expected_rejects(claims: pl.DataFrame, timelogs: pl.DataFrame) -> pl.DataFrame:
    """The rows validation must set aside: file, data row number (from 1), bad column."""
    return pl.concat(
        frame.with_row_index("row_number", offset=1)
        .filter(pl.col(REJECT_COLUMN).is_not_null())
        .select(
            pl.lit(file).alias("file"),
            pl.col("row_number").cast(pl.Int64),
            pl.col(REJECT_COLUMN).alias("column"),
        )
        for file, frame in (("claims.csv", claims), ("timelogs.csv", timelogs))
    )


def planted_claims(claims: pl.DataFrame, visits: pl.DataFrame) -> pl.DataFrame:
    """Where each planted visit landed (`visit`: its number in the case, from 0): its
    claim, and any claim billed in error that day."""
    keys = ["case_id", "case_visit"]
    own = (
        claims.filter(pl.col("claim_key").str.starts_with("V"))
        .group_by(keys)
        .agg(pl.col("claim_id").first())
    )
    extra = (
        claims.filter(pl.col("claim_key").str.starts_with("X"))
        .group_by(keys)
        .agg(pl.col("claim_id").first().alias("voided_claim_id"))
    )
    return (
        visits.filter(pl.col("case_id").is_not_null())
        .join(own, on=keys, how="left")
        .join(extra, on=keys, how="left")
        .sort(pl.col("case_id").str.slice(1).cast(pl.Int64), "case_visit")
        .select(
            "case_id",
            pl.col("case_visit").alias("visit"),
            "claim_id",
            "voided_claim_id",
            "patient_id",
            pl.col("service_date").dt.strftime("%Y-%m-%d"),
            "payer",
            "provider_npi",
        )
    )


# ------------------------------------------------------------------------- generating


@dataclass(frozen=True)
class Dataset:
    """Everything one run writes, plus what the README says about it."""

    claims: pl.DataFrame
    timelogs: pl.DataFrame
    findings: pl.DataFrame
    rejects: pl.DataFrame
    roster: pl.DataFrame
    patients: pl.DataFrame
    planted: pl.DataFrame  # see planted_claims
    visits: int


def generate(profile: Profile, seed: int = DEFAULT_SEED) -> Dataset:
    """Build the whole practice for `profile` from `seed`. The order of the steps is
    part of the output: each one takes the next draws from the one stream."""
    draws = Draws(seed)
    cases = SAMPLE_PLANTED if profile.plant else ()
    single = [case for case in cases if isinstance(case, PlantedCase)]
    roster = build_roster(profile, draws)
    patients = build_patients(profile, roster, draws)
    calendar = build_calendar(profile)
    catalog = build_catalog(profile, cases)
    visits = assign_templates(build_visits(profile, patients, calendar, draws), catalog, draws)
    if cases:
        patients, visits = plant_sample(patients, visits, calendar, catalog, roster, cases, draws)
    lines = visit_lines(visits, catalog)
    segments = schedule(split_segments(lines, profile, draws), draws)
    segments = hand_over_to_assistant(segments, roster)
    visit_starts = segments.group_by("visit_id").agg(
        pl.col("start_minute").min().alias("visit_start")
    )

    pending_claims = [claim_rows(lines, visit_starts)]
    pending_logs = [timelog_rows(segments)]
    if cases:
        free = free_patient_days(patients, calendar, visits, draws, 5)
        pending_claims.append(erroneous_claims(visits, visit_starts, single))
        pending_claims.append(rejected_claims(free.head(3)))
        pending_logs.append(rejected_segments(free.tail(2), segments))
    claims = number_claims(pl.concat(pending_claims, how="diagonal_relaxed"), profile.first_day)
    claims = pl.concat([claims, follow_up_claims(claims, single)])
    timelogs = order_timelogs(pl.concat(pending_logs, how="diagonal_relaxed"))
    return Dataset(
        claims=claims.select(*CLAIMS_COLUMNS, REJECT_COLUMN),
        timelogs=timelogs.select(*TIMELOG_COLUMNS, REJECT_COLUMN),
        findings=expected_findings(claims, cases),
        rejects=expected_rejects(claims, timelogs),
        roster=roster,
        patients=patients,
        planted=planted_claims(claims, visits),
        visits=visits.height,
    )


# ---------------------------------------------------------------------------- writing


def write(dataset: Dataset, out: Path, profile: Profile, seed: int) -> list[Path]:
    """Write the exports, the answer key and the README into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    frames = {
        "claims.csv": dataset.claims.drop(REJECT_COLUMN),
        "timelogs.csv": dataset.timelogs.drop(REJECT_COLUMN),
        "expected_findings.csv": dataset.findings,
        "expected_rejects.csv": dataset.rejects,
    }
    written = []
    for name, frame in frames.items():
        frame.write_csv(out / name)
        written.append(out / name)
    readme = out / "README.md"
    readme.write_text(readme_text(dataset, profile, seed), encoding="utf-8")
    return [*written, readme]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.synth",
        description="Write synthetic therapy claims and time logs with planted problems.",
    )
    parser.add_argument(
        "--profile",
        default="sample",
        help="sample (default), bench-100k, bench-1m, bench-10m, or bench with --lines",
    )
    parser.add_argument("--lines", help="claim lines of --profile bench: 2500, 250k, 2m")
    parser.add_argument(
        "--chunk-lines",
        type=int,
        help="claim lines built at a time by a bench profile (memory against overhead)",
    )
    parser.add_argument("--out", type=Path, required=True, help="folder to write into")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    checks = parser.add_mutually_exclusive_group()
    checks.add_argument(
        "--no-check", action="store_true", help="skip re-reading and checking the written files"
    )
    checks.add_argument(
        "--check",
        action="store_true",
        help="check a bench profile's files even above 100k lines (reads them whole)",
    )
    args = parser.parse_args(argv)
    if args.profile not in PROFILES and not args.profile.startswith("bench"):
        parser.error(f"unknown profile {args.profile!r}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.profile not in PROFILES:
        # Imported here: bench.scale builds its chunks from this module's functions.
        from bench import scale

        check = True if args.check else False if args.no_check else None
        try:
            return scale.run(args.profile, args.lines, args.out, args.seed, check, args.chunk_lines)
        except ValueError as exc:
            print(f"bench.synth: error: {exc}", file=sys.stderr)
            return 2
    profile = PROFILES[args.profile]
    dataset = generate(profile, args.seed)
    for path in write(dataset, args.out, profile, args.seed):
        print(f"wrote {path}")
    if not args.no_check:
        for line in verify(args.out, dataset.planted, SAMPLE_PLANTED):
            print(f"checked: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
