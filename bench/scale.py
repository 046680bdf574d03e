"""Bench profiles: the sample's practice grown to 100k-10M claim lines, written in chunks.

    python -m bench.synth --profile bench-1m --out bench/data/1m
    python -m bench.synth --profile bench --lines 250k --out /tmp/bench

A bench practice is a network of therapists over calendar year 2025. Each therapist
keeps `CASELOAD` patients at a time: every place in the caseload takes a new patient
each `EPISODE_WEEKDAYS` weekdays (the places staggered, so intakes spread over the
weeks), who is evaluated and then seen twice a week, on the weekdays of that place,
until discharge after 9 visits or when the place's next patient arrives. Weekday
patterns are dealt to the places in turn, so a therapist's day holds at most 6 visits,
as in the sample, and an episode stays under 6 weeks and 10 visits. PTAs take some of
their PT's treatment visits. Codes, minutes, clock times and claims all come from the
sample's own building blocks in bench.synth.

Planted problems are the sample's cases (bench.cases), each on the same number of
visits, `plant_share` of all visits in all, at most one per patient. The rows that
validation must reject are the sample's five kinds in turn, `reject_share` of the claim
lines (and two time-log rows for every three claims), each on a weekday before its
patient's first visit, so no visit's outcome depends on them.

The practice is built in chunks of therapists with their patients, each appended to
the exports as soon as it is built, so memory holds one chunk whatever the size;
random numbers come a column at a time from Arrow (BulkDraws). A chunk that would pass
its share of lines drops whole patients, so the files hold the requested number of
claim lines less a few dozen. Each export is then sorted into the order a practice's
system writes it (EXPORT_ORDER: by date, not by chunk), one file at a time.

Writes claims.csv, timelogs.csv, claims.parquet and timelogs.parquet (the same rows,
typed: dates, timestamps, integers, decimal charges; a date that does not exist is
null), expected_findings.parquet, expected_rejects.parquet, planted_claims.parquet and,
last, manifest.json: a folder without the manifest holds an interrupted run.
"""

from __future__ import annotations

import hashlib
import json
import math
import platform
import re
import resource
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from bench.cases import PLANTED_CASES, PlantedCase
from bench.synth import (
    CLAIMS_COLUMNS,
    PROFILES,
    REJECT_COLUMN,
    TIMELOG_COLUMNS,
    WEEKLY_PATTERNS,
    BulkDraws,
    Catalog,
    Draws,
    Profile,
    apply_plants,
    assign_templates,
    build_calendar,
    build_catalog,
    build_patients,
    build_roster,
    claim_rows,
    erroneous_claims,
    expected_findings,
    follow_up_claims,
    npi_check_digit,
    number_claims,
    order_timelogs,
    position_in_run,
    rejected_claims,
    rejected_segments,
    run_starts,
    schedule,
    split_segments,
    timelog_rows,
    visit_lines,
    with_draws,
    with_provider,
)
from bench.verify import verify

SIZES = {"100k": 100_000, "1m": 1_000_000, "10m": 10_000_000}
FIRST_DAY = date(2025, 1, 1)
LAST_DAY = date(2025, 12, 31)
CASELOAD = 14  # patients a therapist treats at one time, as in the sample
EPISODE_WEEKDAYS = 28  # a caseload place takes its next patient after this many weekdays
OT_EVERY = 4  # every fourth therapist is an OT, the rest PTs; one PTA per two PTs
PATIENT_DIGITS = 7
CLAIM_DIGITS = 8
CHUNK_LINES = 500_000  # about 1.2 GB resident at the peak of a chunk
# Claim lines a therapist bills in the year: the first chunk's guess, before it measures.
LINES_PER_THERAPIST = 2_300
HEADROOM = 1.15  # build this much more than a chunk's share, then drop patients to fit
# Re-read and verify the files by default up to this many lines: the check reads them
# whole, and at 1M it takes twice as long as generating them and 1.8 GB.
CHECK_LIMIT = 100_000
SEGMENT_REJECTS_PER_CLAIM_REJECT = 2 / 3  # the sample's 2 bad segments to 3 bad claims
# NPIs are counted, not drawn, so they are unique across chunks. Multiplying the count by
# a number prime to 10**8 spreads consecutive counts over the whole 8-digit range.
NPI_STRIDE = 7_654_321
NPI_RANGE = 10**8


@dataclass(frozen=True)
class BenchProfile:
    """A bench practice of about `lines` claim lines."""

    name: str
    lines: int
    plant_share: float = 0.03  # planted visits, of all visits
    reject_share: float = 0.001  # rejected claim rows, of all claim lines
    chunk_lines: int = CHUNK_LINES


def parse_size(text: str) -> int:
    """`100k`, `1m`, `10M`, `2500`: a number of lines."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([km]?)", text.strip().lower())
    if not match:
        raise ValueError(f"not a size: {text!r} (try 100k, 1m or 2500)")
    number, suffix = match.groups()
    return round(float(number) * {"": 1, "k": 1_000, "m": 1_000_000}[suffix])


def bench_profile(name: str, lines: str | None = None) -> BenchProfile:
    """`bench-100k`, `bench-1m`, `bench-10m` (any size: `bench-250k`), or `bench` with
    `lines`."""
    if name == "bench":
        if not lines:
            raise ValueError("--profile bench needs --lines (for example 250k)")
        return BenchProfile(name=f"bench-{lines}", lines=parse_size(lines))
    if not name.startswith("bench-") or lines:
        raise ValueError(f"{name!r}: give a size in the name (bench-1m) or --profile bench --lines")
    return BenchProfile(name=name, lines=parse_size(name.removeprefix("bench-")))


# ----------------------------------------------------------------- practice and people


def practice(therapists: int) -> Profile:
    """The sample's practice shape, over the bench year, for `therapists` therapists and
    every patient their caseloads take in over the year."""
    ots = therapists // OT_EVERY
    pts = therapists - ots
    base = replace(PROFILES["sample"], name="bench", first_day=FIRST_DAY, last_day=LAST_DAY)
    episodes_per_place = math.ceil(build_calendar(base).height / EPISODE_WEEKDAYS)
    return replace(
        base,
        patients=therapists * CASELOAD * episodes_per_place,
        physical_therapists=pts,
        assistants=pts // 2,
        occupational_therapists=ots,
        ot_share=ots / therapists,
        intake_days=1,  # not used: caseload places decide the start days
    )


def counted_npis(first: int, n: int, offset: int) -> list[str]:
    """`n` valid NPIs for providers `first`..`first + n - 1`: distinct for any count
    below 10**8. One Python step per provider: thousands, not millions."""
    bodies = [f"1{(NPI_STRIDE * i + offset) % NPI_RANGE:08d}" for i in range(first, first + n)]
    return [body + str(npi_check_digit(body)) for body in bodies]


def place_in_caseloads(patients: pl.DataFrame) -> pl.DataFrame:
    """Each therapist's patients, in id order, fill the caseload places in turn: place p
    takes its k-th patient on weekday k * EPISODE_WEEKDAYS + p * EPISODE_WEEKDAYS /
    CASELOAD, and its twice-weekly pattern is the p-th in turn, whoever the patient."""
    turn = pl.int_range(pl.len()).over("therapist_npi")
    place = turn % CASELOAD
    patterns = len(WEEKLY_PATTERNS)
    first_days = [first for first, _ in WEEKLY_PATTERNS]
    second_days = [second for _, second in WEEKLY_PATTERNS]
    return (
        patients.sort("patient_id")
        .with_columns(
            ((turn // CASELOAD) * EPISODE_WEEKDAYS + place * EPISODE_WEEKDAYS // CASELOAD).alias(
                "start_day"
            ),
            (place % patterns)
            .replace_strict(range(patterns), first_days, return_dtype=pl.Int8)
            .alias("weekday_a"),
            (place % patterns)
            .replace_strict(range(patterns), second_days, return_dtype=pl.Int8)
            .alias("weekday_b"),
        )
        .with_columns(pl.col("start_day").cast(pl.Int64))
    )


def episode_visits(
    profile: Profile, patients: pl.DataFrame, calendar: pl.DataFrame, draws: Draws, first: int
) -> pl.DataFrame:
    """Each patient's visits: the evaluation on the first pattern day of the episode,
    then the pattern days, less cancellations, at most `max_visits`, all before the
    caseload place's next patient arrives. Visit ids count from `first`."""
    offsets = pl.DataFrame({"offset": pl.int_range(EPISODE_WEEKDAYS, eager=True)})
    on_pattern = (pl.col("weekday") == pl.col("weekday_a")) | (
        pl.col("weekday") == pl.col("weekday_b")
    )
    # The days are found on the few columns that decide them; the rest join the visits.
    schedules = patients.select("patient_id", "start_day", "weekday_a", "weekday_b")
    visits = (
        schedules.join(offsets, how="cross")
        .with_columns((pl.col("start_day") + pl.col("offset")).alias("day_index"))
        .join(calendar, on="day_index")
        .filter(on_pattern)
        .join(patients.drop(schedules.columns[1:]), on="patient_id")
        .sort("patient_id", "service_date")
    )
    visits = with_draws(visits, draws, "u_missed")
    first_day = run_starts("patient_id")
    visits = (
        visits.filter(first_day | (pl.col("u_missed") >= profile.missed_visit_share))
        .with_columns((position_in_run("patient_id") + 1).alias("visit_no"))
        .filter(pl.col("visit_no") <= profile.max_visits)
        .sort("service_date", "patient_id")
        .with_row_index("visit_id", offset=first)
    )
    return with_provider(visits, profile, draws)


# -------------------------------------------------------------------------- planting


def plant_share(
    visits: pl.DataFrame,
    catalog: Catalog,
    cases: Sequence[PlantedCase],
    share: float,
    draws: Draws,
) -> pl.DataFrame:
    """Plant every case on the same number of PT treatment visits of its payer class,
    `share` of all visits in all, one visit per patient at most (a drawn one), each
    delivered by the patient's own PT as in the sample."""
    candidates = visits.filter(~pl.col("is_evaluation"), pl.col("discipline") == "PT")
    candidates = with_draws(
        candidates.select("visit_id", "patient_id", "payer_class").sort("visit_id"),
        draws,
        "u_visit",
    )
    one_each = candidates.filter(pl.col("u_visit") == pl.col("u_visit").min().over("patient_id"))
    pool = with_draws(one_each.sort("visit_id"), draws, "u_pick").sort("u_pick")
    per_case = max(1, round(share * visits.height / len(cases)))
    classes = dict.fromkeys(case.payer_class for case in cases)
    picks = pl.concat(
        _class_picks(pool, [c for c in cases if c.payer_class == payer_class], per_case)
        for payer_class in classes
    )
    templates = pl.col("planted_case").replace_strict(catalog.case_templates, return_dtype=pl.Int64)
    return apply_plants(visits, picks.with_columns(templates.alias("planted_template")))


def _class_picks(pool: pl.DataFrame, cases: list[PlantedCase], per_case: int) -> pl.DataFrame:
    """The first `per_case` visits of the pool per case of one payer class, dealt to the
    cases in turn."""
    payer_class = cases[0].payer_class
    chosen = pool.filter(pl.col("payer_class") == payer_class).head(per_case * len(cases))
    if chosen.height < len(cases):
        raise ValueError(f"too few {payer_class} PT treatment visits to plant every case")
    case_ids = [case.case_id for case in cases]
    turn = pl.int_range(pl.len()) % len(cases)
    return chosen.select(
        "visit_id", turn.replace_strict(range(len(cases)), case_ids).alias("planted_case")
    )


def extra_lines(case: PlantedCase) -> int:
    """Claim lines a planted case adds to its visit's own: the replacement claim's copy
    of its lines, and the claim billed in error with its void."""
    replacement = sum(1 for s in case.services if s.units) if case.corrected_units else 0
    return replacement + 2 * len(case.voided_claim)


def with_billed_lines(visits: pl.DataFrame, catalog: Catalog) -> pl.DataFrame:
    """Each visit with `lines`: the claim lines its template bills."""
    billed = (
        catalog.lines.filter(pl.col("units") > 0)
        .group_by("template_id")
        .agg(pl.len().cast(pl.Int64).alias("lines"))
    )
    return visits.join(billed, on="template_id", how="left")


def keep_within(
    visits: pl.DataFrame, catalog: Catalog, cases: Sequence[PlantedCase], budget: int
) -> tuple[pl.DataFrame, int]:
    """The visits of the patients that fit in `budget` claim lines, with the lines all
    patients would bill. Patients with a planted visit come first, so a small chunk
    keeps its planted cases; the rest in id order."""
    extra = {case.case_id: extra_lines(case) for case in cases}
    per_patient = (
        with_billed_lines(visits, catalog)
        .group_by("patient_id")
        .agg(
            (
                pl.col("lines").sum()
                + pl.col("case_id").replace_strict(extra, default=0, return_dtype=pl.Int64).sum()
            ).alias("lines"),
            pl.col("case_id").is_not_null().any().alias("planted"),
        )
        .sort("planted", "patient_id", descending=[True, False])
    )
    kept = per_patient.filter(pl.col("lines").cum_sum() <= budget).get_column("patient_id")
    in_full = int(per_patient.get_column("lines").sum())
    return visits.filter(pl.col("patient_id").is_in(kept.implode())), in_full


def free_days(patients: pl.DataFrame, calendar: pl.DataFrame, draws: Draws, n: int) -> pl.DataFrame:
    """Up to `n` drawn patient-days for the rejected rows: the weekday before a patient's
    first visit, at most one per therapist and day (so two bad segments never share a
    key), in date order."""
    days = (
        patients.with_columns((pl.col("start_day") - 1).alias("day_index"))
        .join(calendar, on="day_index")
        .sort("patient_id")
    )
    return (
        with_draws(days, draws, "u")
        .sort("u")
        .unique(["therapist_npi", "service_date"], keep="first", maintain_order=True)
        .head(n)
        .sort("service_date", "patient_id")
    )


# ------------------------------------------------------------------------ one chunk


@dataclass(frozen=True)
class ChunkPlan:
    """What one chunk builds, and where its numbers start."""

    therapists: int
    budget: int  # claim lines, rejected rows included
    rejected_claims: int
    first_patient: int
    first_visit: int
    first_claim: int
    first_provider: int


@dataclass(frozen=True)
class Chunk:
    claims: pl.DataFrame  # export columns and REJECT_COLUMN
    timelogs: pl.DataFrame  # export columns and REJECT_COLUMN
    findings: pl.DataFrame
    planted: pl.DataFrame  # case_id, claim_id of every planted visit
    providers: int
    patients: int  # patients with a visit
    visits: int
    next_visit: int  # the first visit id after this chunk's, dropped visits included
    claims_numbered: int
    lines_in_full: int  # claim lines before patients were dropped to fit


def build_chunk(
    plan: ChunkPlan,
    profile: BenchProfile,
    calendar: pl.DataFrame,
    catalog: Catalog,
    draws: Draws,
    npi_offset: int,
) -> Chunk:
    """Therapists with their year of patients, visits, time logs and claims. The steps
    are those of bench.synth.generate, in its order."""
    shape = practice(plan.therapists)
    providers = shape.physical_therapists + shape.occupational_therapists + shape.assistants
    roster = build_roster(shape, draws, counted_npis(plan.first_provider, providers, npi_offset))
    patients = place_in_caseloads(
        build_patients(shape, roster, draws, plan.first_patient, PATIENT_DIGITS)
    )
    visits = assign_templates(
        episode_visits(shape, patients, calendar, draws, plan.first_visit), catalog, draws
    )
    next_visit = plan.first_visit + visits.height
    visits, in_full = planted_within_budget(visits, plan, profile, catalog, draws)
    present = visits.get_column("case_id").drop_nulls().unique().to_list()
    cases = [c for c in PLANTED_CASES if c.case_id in present]
    kept = patients.filter(pl.col("patient_id").is_in(visits.get_column("patient_id").implode()))
    claims, timelogs = export_rows(plan, shape, kept, visits, calendar, catalog, cases, draws)
    planted = (
        claims.filter(pl.col("case_id").is_not_null(), pl.col("claim_key").str.starts_with("V"))
        .select("case_id", "claim_id")
        .unique()
        .sort("claim_id")
    )
    return Chunk(
        claims=claims.select(*CLAIMS_COLUMNS, REJECT_COLUMN),
        timelogs=timelogs.select(*TIMELOG_COLUMNS, REJECT_COLUMN),
        findings=expected_findings(claims, cases),
        planted=planted,
        providers=providers,
        patients=kept.height,
        visits=visits.height,
        next_visit=next_visit,
        claims_numbered=claims.filter(pl.col("claim_frequency") == "1")
        .get_column("claim_id")
        .n_unique(),
        lines_in_full=in_full,
    )


def planted_within_budget(
    visits: pl.DataFrame, plan: ChunkPlan, profile: BenchProfile, catalog: Catalog, draws: Draws
) -> tuple[pl.DataFrame, int]:
    """Plant the cases, then keep the patients that fit the chunk's budget; with the
    lines all patients would have billed. The planted share is of the visits that will
    be kept: a chunk built with headroom keeps about budget / (all lines) of them."""
    budget = plan.budget - plan.rejected_claims
    clean_lines = with_billed_lines(visits, catalog).get_column("lines").sum()
    share = profile.plant_share * min(1.0, budget / clean_lines)
    visits = plant_share(visits, catalog, PLANTED_CASES, share, draws)
    return keep_within(visits, catalog, PLANTED_CASES, budget)


def export_rows(
    plan: ChunkPlan,
    shape: Profile,
    patients: pl.DataFrame,
    visits: pl.DataFrame,
    calendar: pl.DataFrame,
    catalog: Catalog,
    cases: Sequence[PlantedCase],
    draws: Draws,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The chunk's claim lines and time-log segments in export order, the rejected rows
    among them; claims keep their `claim_key` and `case_id`."""
    lines = visit_lines(visits, catalog)
    segments = schedule(split_segments(lines, shape, draws), draws)
    visit_starts = segments.group_by("visit_id").agg(
        pl.col("start_minute").min().alias("visit_start")
    )
    bad_segments = round(plan.rejected_claims * SEGMENT_REJECTS_PER_CLAIM_REJECT)
    free = free_days(patients, calendar, draws, plan.rejected_claims + bad_segments)
    pending = [
        claim_rows(lines, visit_starts),
        erroneous_claims(visits, visit_starts, cases),
        rejected_claims(free.head(plan.rejected_claims)),
    ]
    claims = number_claims(
        pl.concat(pending, how="diagonal_relaxed"), FIRST_DAY, plan.first_claim, CLAIM_DIGITS
    )
    claims = pl.concat([claims, follow_up_claims(claims, cases)])
    logs = [timelog_rows(segments), rejected_segments(free.slice(plan.rejected_claims), segments)]
    return claims, order_timelogs(pl.concat(logs, how="diagonal_relaxed"))


# ---------------------------------------------------------------------------- writing


def typed_claims(claims: pl.DataFrame) -> pl.DataFrame:
    """Claims as a Parquet export types them; a date that does not exist becomes null."""
    return claims.with_columns(
        pl.col("line_number", "units").cast(pl.Int32),
        pl.col("service_date").str.to_date("%Y-%m-%d", strict=False),
        pl.col("charge").cast(pl.Decimal(12, 2)),
    )


def typed_timelogs(timelogs: pl.DataFrame) -> pl.DataFrame:
    return timelogs.with_columns(
        pl.col("service_date").str.to_date("%Y-%m-%d"),
        pl.col("start_time", "end_time").str.to_datetime("%Y-%m-%d %H:%M", time_unit="us"),
    )


class Exports:
    """The CSV and Parquet exports, appended a chunk at a time."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.typed = {"claims": typed_claims, "timelogs": typed_timelogs}
        self.rows = dict.fromkeys(self.typed, 0)
        self._csv: dict[str, IO[bytes]] = {}
        self._parquet: dict[str, pq.ParquetWriter] = {}

    def __enter__(self) -> Exports:
        self.out.mkdir(parents=True, exist_ok=True)
        for name in self.typed:
            self._csv[name] = (self.out / f"{name}.csv").open("wb")
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        for handle in self._csv.values():
            handle.close()
        for writer in self._parquet.values():
            writer.close()

    def append(self, name: str, frame: pl.DataFrame) -> pl.DataFrame:
        """Write the chunk's rows; return its rejected rows' key, numbered in the file."""
        rejects = (
            frame.with_row_index("row_number", offset=self.rows[name] + 1)
            .filter(pl.col(REJECT_COLUMN).is_not_null())
            .select(
                pl.lit(f"{name}.csv").alias("file"),
                pl.col("row_number").cast(pl.Int64),
                pl.col(REJECT_COLUMN).alias("column"),
            )
        )
        rows = frame.drop(REJECT_COLUMN)
        rows.write_csv(self._csv[name], include_header=self.rows[name] == 0)
        table = self.typed[name](rows).to_arrow()
        if name not in self._parquet:
            self._parquet[name] = pq.ParquetWriter(self.out / f"{name}.parquet", table.schema)
        self._parquet[name].write_table(table)
        self.rows[name] += frame.height
        return rejects


# How a practice's system exports a year: claims by date of service (a claim's lines
# together, a replacement after its original), time logs by day and clock time. Built a
# chunk of therapists at a time, the files would otherwise hold each chunk's patients
# together, an order that spares the audit work real exports would cost it.
EXPORT_ORDER = {
    "claims": (
        pl.col("service_date").min().over("claim_id", "claim_frequency"),
        pl.col("claim_id"),
        pl.col("claim_frequency"),
    ),
    "timelogs": (pl.col("service_date"), pl.col("start_time"), pl.col("provider_npi")),
}


def in_export_order(out: Path, rejects: pl.DataFrame) -> pl.DataFrame:
    """Sort each export, CSV and Parquet alike, into EXPORT_ORDER, one file at a time
    (a file whole in memory: about 2 GB at 10M lines), and renumber the rejected rows.

    The order is decided on the CSV's text, so a row the Parquet types as null (a date
    that does not exist) sorts as in the CSV; ties keep their order, so a repeated row
    stays after the one it repeats."""
    renumbered = []
    for name, order in EXPORT_ORDER.items():
        csv = out / f"{name}.csv"
        rows = pl.read_csv(csv, infer_schema=False)
        moved = rows.select(pl.int_range(1, pl.len() + 1).alias("row_number"), *order).sort(
            pl.exclude("row_number"), nulls_last=True, maintain_order=True
        )["row_number"]
        _replace(csv, rows.gather(moved - 1).write_csv)
        del rows
        parquet = out / f"{name}.parquet"
        # As Exports wrote it: pyarrow's defaults (snappy), a row group per chunk's worth.
        table = pl.read_parquet(parquet).gather(moved - 1).to_arrow()
        _replace(parquet, partial(pq.write_table, table, row_group_size=CHUNK_LINES))
        del table
        new_numbers = pl.DataFrame(
            {"row_number": moved, "new": pl.int_range(1, moved.len() + 1, eager=True)}
        )
        renumbered.append(
            rejects.filter(pl.col("file") == csv.name)
            .join(new_numbers, on="row_number", how="left")
            .select("file", pl.col("new").cast(pl.Int64).alias("row_number"), "column")
        )
    ordered = pl.concat(renumbered).sort("file", "row_number", "column")
    assert ordered.height == rejects.height and ordered["row_number"].null_count() == 0
    return ordered


def _replace(path: Path, write: Callable[[Path], object]) -> None:
    written = path.with_suffix(".partial")
    write(written)
    written.replace(path)


# ------------------------------------------------------------------------- the whole


@dataclass
class Tally:
    """Running totals over the chunks: where the next chunk's numbers start, and the
    counts for the manifest."""

    providers: int = 0
    patient_numbers: int = 0  # patient ids handed out (some patients have no visit)
    visit_numbers: int = 0  # visit ids handed out (dropped patients' visits included)
    claims: int = 0
    patients: int = 0
    visits: int = 0
    chunks: int = 0
    lines: int = 0
    segments: int = 0

    def plan(self, profile: BenchProfile, remaining: int, rate: float) -> ChunkPlan:
        budget = min(remaining, profile.chunk_lines)
        return ChunkPlan(
            therapists=max(1, math.ceil(budget * HEADROOM / rate)),
            budget=budget,
            rejected_claims=max(3, round(budget * profile.reject_share)),
            first_patient=self.patient_numbers + 1,
            first_visit=self.visit_numbers,
            first_claim=self.claims,
            first_provider=self.providers,
        )

    def add(self, plan: ChunkPlan, chunk: Chunk) -> None:
        self.providers += chunk.providers
        self.patient_numbers += practice(plan.therapists).patients
        self.visit_numbers = chunk.next_visit
        self.claims += chunk.claims_numbered
        self.patients += chunk.patients
        self.visits += chunk.visits
        self.chunks += 1
        self.lines += chunk.claims.height
        self.segments += chunk.timelogs.height


def generate_bench(profile: BenchProfile, out: Path, seed: int) -> dict[str, Any]:
    """Write the bench practice into `out`, a chunk at a time; return the manifest."""
    began = time.perf_counter()
    root = Draws(seed)
    npi_offset = root.seed() % NPI_RANGE
    calendar = build_calendar(practice(1))
    catalog = build_catalog(practice(1), PLANTED_CASES)
    tally = Tally()
    findings, planted, rejects = [], [], []
    remaining, rate = profile.lines, float(LINES_PER_THERAPIST)
    with Exports(out) as exports:
        while remaining > 0:
            plan = tally.plan(profile, remaining, rate)
            chunk = build_chunk(
                plan, profile, calendar, catalog, BulkDraws(root.seed()), npi_offset
            )
            rejects += [
                exports.append("claims", chunk.claims),
                exports.append("timelogs", chunk.timelogs),
            ]
            findings.append(chunk.findings)
            planted.append(chunk.planted)
            tally.add(plan, chunk)
            if not chunk.claims.height:
                raise RuntimeError(f"a chunk of {plan.therapists} therapists billed nothing")
            rate = chunk.lines_in_full / plan.therapists
            # A chunk that dropped patients filled its budget but for the last patient's
            # lines; one that did not leaves the rest to the next chunk.
            filled = chunk.lines_in_full > plan.budget - plan.rejected_claims
            remaining -= plan.budget if filled else chunk.claims.height
    key = {
        "expected_findings": pl.concat(findings).sort("claim_id", "line_number"),
        "expected_rejects": in_export_order(out, pl.concat(rejects)),
        "planted_claims": pl.concat(planted),
    }
    for name, frame in key.items():
        frame.write_parquet(out / f"{name}.parquet")
    return manifest(profile, seed, tally, key, time.perf_counter() - began)


def manifest(
    profile: BenchProfile, seed: int, tally: Tally, key: dict[str, pl.DataFrame], seconds: float
) -> dict[str, Any]:
    planted = key["planted_claims"]
    first_claims = planted.sort("claim_id").unique("case_id", keep="first", maintain_order=True)
    return {
        "profile": profile.name,
        "seed": seed,
        "lines_requested": profile.lines,
        "generator": generator_fingerprint(),
        "claim_lines": tally.lines,
        "time_segments": tally.segments,
        "visits": tally.visits,
        "patients": tally.patients,
        "providers": tally.providers,
        "period": [FIRST_DAY.isoformat(), LAST_DAY.isoformat()],
        "chunks": tally.chunks,
        "plant_share": profile.plant_share,
        "planted_visits": _counts(planted, "case_id"),
        "expected_findings": _counts(key["expected_findings"], "rule_id"),
        "expected_rejects": _counts(key["expected_rejects"], "file"),
        "case_claims": dict(first_claims.select("case_id", "claim_id").iter_rows()),
        "generate_seconds": round(seconds, 1),
        "generate_peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "versions": {
            "python": platform.python_version(),
            "polars": pl.__version__,
            "pyarrow": pa.__version__,
        },
    }


def generator_fingerprint() -> str:
    """A digest of the modules that decide the data: a folder whose manifest carries
    another one was made by other code and is generated again by `make bench`."""
    digest = hashlib.sha256()
    for module in ("cases.py", "synth.py", "scale.py"):
        digest.update((Path(__file__).parent / module).read_bytes())
    return digest.hexdigest()[:16]


def _counts(frame: pl.DataFrame, column: str) -> dict[str, int]:
    counted = frame.group_by(column).agg(pl.len()).sort(column)
    return dict(counted.iter_rows())


def run(
    profile_name: str,
    lines: str | None,
    out: Path,
    seed: int,
    check: bool | None,
    chunk_lines: int | None = None,
) -> int:
    """The bench side of `python -m bench.synth`: generate, verify the files (by
    default only up to CHECK_LIMIT lines: the check reads them whole), then write the
    manifest, last, so that a folder whose check failed counts as unfinished."""
    profile = bench_profile(profile_name, lines)
    if chunk_lines:
        profile = replace(profile, chunk_lines=chunk_lines)
    (out / "manifest.json").unlink(missing_ok=True)  # the folder is unfinished until the end
    facts = generate_bench(profile, out, seed)
    facts["checked"] = bool(check or (check is None and profile.lines <= CHECK_LIMIT))
    if facts["checked"]:
        planted = pl.read_parquet(out / "planted_claims.parquet")
        for line in verify(out, planted, PLANTED_CASES):
            print(f"checked: {line}")
    (out / "manifest.json").write_text(json.dumps(facts, indent=2) + "\n", encoding="utf-8")
    print(
        f"wrote {out}: {facts['claim_lines']:,} claim lines, {facts['time_segments']:,} "
        f"time segments, {facts['visits']:,} visits in {facts['chunks']} chunks, "
        f"{facts['generate_seconds']} s, peak RSS {facts['generate_peak_rss_mib']:,} MiB"
    )
    return 0
