"""An independent check of generated exports, run after every generation.

It re-reads the written CSVs and tests what the README promises: the rows listed as
rejects, and only those, are invalid; no provider or patient is in two places at once,
no provider's day lasts 8 hours, no patient has more than 9 visits, every line carries
the modifiers its time log calls for and is billed at the office, and no NCCI pair is
billed, except where a planted case breaks one of these on purpose (and each such case
must break it); every clean timed line bills minutes/15 units; the planted cases are in
place; and the unit-rule findings recomputed here from the minutes, under each payer's
unit method, are exactly the expected ones. A bench profile writes its answer key as
Parquet, and its exports as Parquet too: those must hold the rows of the CSVs. It
shares only the planted-case definitions (bench.cases) with the generator; the validity
rules, unit methods and schedules are worked out afresh.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import polars as pl

from bench.cases import (
    ASSISTANT_MODIFIER,
    EVALUATION_CODES,
    EVALUATION_NOTE,
    MEDICARE,
    MEDICARE_CLASS,
    NCCI_PAIRS,
    NO_MODIFIERS,
    NOT_ON_EVALUATION_DAY,
    OFFICE,
    THERAPY_MODIFIER,
    TIME_LOG_MISSING,
    TIMED_CODES,
    UNIT_RULES,
    UNITS_OVERBILLED,
    UNITS_UNDER_8_MIN,
    UNITS_UNDERBILLED,
    Case,
    Course,
    PlantedCase,
    ProviderDay,
    Service,
)

ROW = "row_number"
MAX_DAY_MINUTES = 8 * 60
MAX_VISITS = 9  # per patient over the profile's weeks
DISCIPLINE_OF_ROLE = {"PT": "PT", "PTA": "PT", "OT": "OT", "OTA": "OT"}
DISCIPLINE_OF_MODIFIER = {"GP": "PT", "GO": "OT"}
FINDING_KEY = (
    "rule_id",
    "patient_id",
    "service_date",
    "claim_id",
    "line_number",
    "cpt_code",
    "units_billed",
    "units_supported",
)
PATIENT_DAY = ["patient_id", "service_date"]


class CheckFailed(AssertionError):
    """The generated files break a promise the README makes."""


def _require(condition: bool, message: str, evidence: pl.DataFrame | None = None) -> None:
    if not condition:
        raise CheckFailed(message if evidence is None else f"{message}:\n{evidence}")


@dataclass(frozen=True)
class Placed:
    """Where the planted cases landed: `claims` has one row per planted claim (case_id,
    visit, claim_id), `cases` the definitions of the cases the profile plants."""

    claims: pl.DataFrame
    cases: dict[str, Case]

    @property
    def claim_ids(self) -> list[str]:
        return self.claims.get_column("claim_id").to_list()

    def first_claims(self) -> Iterator[tuple[Case, int, str]]:
        """Each planted visit's definition with the first claim it was planted on."""
        firsts = self.claims.group_by("case_id", "visit").agg(pl.col("claim_id").min())
        for case_id, visit, claim_id in firsts.sort("claim_id").iter_rows():
            yield self.cases[case_id], visit, claim_id

    def case_ids(self, breaks: Callable[[Case], bool]) -> set[str]:
        """The cases whose definition breaks a promise."""
        return {case_id for case_id, case in self.cases.items() if breaks(case)}


def verify(out: Path, planted: pl.DataFrame, cases: Sequence[Case]) -> list[str]:
    """Check the files in `out`. `planted` has a row per planted claim: case_id, claim_id
    and `visit`, the visit's number in its case (0 when the column is missing: each
    case is one visit); `cases` are the definitions of every case the profile plants.
    Returns one line per passed check; raises CheckFailed on the first broken one."""
    if "visit" not in planted.columns:
        planted = planted.with_columns(pl.lit(0, pl.Int64).alias("visit"))
    placed = Placed(
        planted.select("case_id", pl.col("visit").cast(pl.Int64), "claim_id"),
        {case.case_id: case for case in cases},
    )
    claims = _read(out / "claims.csv")
    timelogs = _read(out / "timelogs.csv")
    done = [_check_rejects(out, claims, timelogs)]
    done += [
        _check_parquet_twin(out / f"{name}.parquet", frame)
        for name, frame in (("claims", claims), ("timelogs", timelogs))
        if (out / f"{name}.parquet").is_file()
    ]
    claims, segments = _accepted_claims(claims, out), _accepted_segments(timelogs, out)
    live = _live_lines(claims, segments)
    done += [
        _check_no_overlaps(segments, live, placed),
        _check_days(segments, live, placed),
        _check_modifiers_and_places(live, segments, placed),
        _check_pairs(live, placed),
        _check_clean_lines(live, segments, placed.claim_ids),
        _check_planted(claims, segments, placed),
        _check_findings(out, live, segments, placed),
    ]
    return done


# ------------------------------------------------------------------------- reading


def _read(path: Path) -> pl.DataFrame:
    """Every value as text, as an export is; rows numbered from 1 like the reject key."""
    return pl.read_csv(path, infer_schema=False).with_row_index(ROW, offset=1)


def _answer_key(out: Path, name: str) -> pl.DataFrame:
    """An answer-key file as text: the sample's is CSV, a bench profile's Parquet."""
    parquet = out / f"{name}.parquet"
    if parquet.is_file():
        return pl.read_parquet(parquet).select(pl.all().cast(pl.String))
    return pl.read_csv(out / f"{name}.csv", infer_schema=False)


def _expected_rejects(out: Path) -> pl.DataFrame:
    return _answer_key(out, "expected_rejects").with_columns(pl.col(ROW).cast(pl.Int64))


def _npi_ok(npi: str | None) -> bool:
    """10 digits whose check digit fits: Luhn over the prefix 80840 and the NPI."""
    if npi is None or len(npi) != 10 or not npi.isdigit():
        return False
    digits = [int(c) for c in "80840" + npi]
    total = 0
    for position, digit in enumerate(reversed(digits)):
        doubled = digit * 2 if position % 2 else digit
        total += doubled - 9 if doubled > 9 else doubled
    return total % 10 == 0


def _date(column: str) -> pl.Expr:
    return pl.col(column).str.strptime(pl.Date, "%Y-%m-%d", strict=False)


def _stamp(column: str) -> pl.Expr:
    return pl.col(column).str.strptime(pl.Datetime("us"), "%Y-%m-%d %H:%M", strict=False)


def _bad_npi(frame: pl.DataFrame, column: str) -> pl.Expr:
    """Each distinct NPI is checked once: a file has few providers and many rows."""
    distinct = frame.get_column(column).drop_nulls().unique().to_list()
    return ~pl.col(column).is_in(sorted(npi for npi in distinct if _npi_ok(npi)))


def _problems(frame: pl.DataFrame, checks: dict[str, pl.Expr]) -> pl.DataFrame:
    """(row_number, column) for every row and column whose check says it is bad."""
    return pl.concat(
        frame.filter(bad.fill_null(True)).select(ROW, pl.lit(column).alias("column"))
        for column, bad in checks.items()
    )


def _claim_checks(claims: pl.DataFrame) -> dict[str, pl.Expr]:
    units = pl.col("units").str.to_integer(strict=False)
    return {
        "claim_id": pl.col("claim_id").is_null(),
        "line_number": ~(pl.col("line_number").str.to_integer(strict=False) >= 1),
        "claim_frequency": ~pl.col("claim_frequency").is_in(["1", "7", "8"]),
        "patient_id": pl.col("patient_id").is_null(),
        "rendering_npi": _bad_npi(claims, "rendering_npi"),
        "service_date": _date("service_date").is_null(),
        "cpt_code": ~pl.col("cpt_code").str.contains(r"^\d{5}$"),
        "units": ~(units >= 1),
    }


def _timelog_checks(timelogs: pl.DataFrame) -> dict[str, pl.Expr]:
    return {
        "patient_id": pl.col("patient_id").is_null(),
        "provider_npi": _bad_npi(timelogs, "provider_npi"),
        "provider_role": ~pl.col("provider_role").is_in(list(DISCIPLINE_OF_ROLE)),
        "service_date": _date("service_date").is_null(),
        "start_time": _stamp("start_time").dt.date() != _date("service_date"),
        "end_time": ~(_stamp("end_time") > _stamp("start_time")),
    }


def _check_rejects(out: Path, claims: pl.DataFrame, timelogs: pl.DataFrame) -> str:
    found = pl.concat(
        [
            _problems(claims, _claim_checks(claims)).with_columns(
                pl.lit("claims.csv").alias("file")
            ),
            _problems(timelogs, _timelog_checks(timelogs)).with_columns(
                pl.lit("timelogs.csv").alias("file")
            ),
        ]
    ).select("file", pl.col(ROW).cast(pl.Int64), "column")
    expected = _expected_rejects(out)
    _require(
        found.sort(pl.all()).equals(expected.sort(pl.all())),
        "invalid rows differ from expected_rejects.csv",
        pl.concat(
            [
                found.join(expected, on=list(expected.columns), how="anti"),
                expected.join(found, on=list(found.columns), how="anti"),
            ]
        ),
    )
    return f"{found.height} invalid rows, exactly those in expected_rejects.csv"


def _check_parquet_twin(path: Path, csv: pl.DataFrame) -> str:
    """A Parquet export holds its CSV twin's rows in the same order, typed: dates and
    times as such (a date that does not exist is null), numbers as numbers."""
    typed = pl.read_parquet(path)
    as_text = typed.select(_parquet_text(column, dtype) for column, dtype in typed.schema.items())
    expected = csv.drop(ROW).with_columns(
        pl.when(_date("service_date").is_not_null()).then(pl.col("service_date"))
    )
    _require(as_text.columns == expected.columns, f"{path.name}: columns differ from the CSV")
    differs = as_text.with_row_index(ROW, offset=1).join(
        expected.with_row_index(ROW, offset=1),
        on=[ROW, *expected.columns],
        how="anti",
        nulls_equal=True,
    )
    _require(
        as_text.height == expected.height and differs.is_empty(),
        f"{path.name}: rows differ from the CSV",
        differs.head(5),
    )
    return f"{path.name} holds the {typed.height} rows of {path.stem}.csv, typed"


def _parquet_text(column: str, dtype: pl.DataType) -> pl.Expr:
    if dtype == pl.Date:
        return pl.col(column).dt.strftime("%Y-%m-%d")
    if isinstance(dtype, pl.Datetime):
        return pl.col(column).dt.strftime("%Y-%m-%d %H:%M")
    return pl.col(column).cast(pl.String)


def _rejected_rows(out: Path, file: str) -> list[int]:
    rejects = _expected_rejects(out)
    return rejects.filter(pl.col("file") == file).get_column(ROW).to_list()


def _accepted_claims(claims: pl.DataFrame, out: Path) -> pl.DataFrame:
    return claims.filter(~pl.col(ROW).is_in(_rejected_rows(out, "claims.csv"))).with_columns(
        _date("service_date"),
        pl.col("units").str.to_integer(),
        pl.col("line_number").str.to_integer(),
        pl.col("modifiers").str.split(",").alias("modifier_list"),
    )


def _accepted_segments(timelogs: pl.DataFrame, out: Path) -> pl.DataFrame:
    accepted = timelogs.filter(~pl.col(ROW).is_in(_rejected_rows(out, "timelogs.csv")))
    return accepted.with_columns(
        _date("service_date"),
        _stamp("start_time").alias("start"),
        _stamp("end_time").alias("end"),
        pl.col("provider_role").replace_strict(DISCIPLINE_OF_ROLE).alias("discipline"),
    ).with_columns(((pl.col("end") - pl.col("start")).dt.total_minutes()).alias("minutes"))


def _live_lines(claims: pl.DataFrame, segments: pl.DataFrame) -> pl.DataFrame:
    """The lines that stand: a void (8) cancels its claim, a replacement (7) takes the
    original's place. A line's discipline is its GP/GO modifier's; a line with neither
    takes the discipline that logged most minutes of its code that day, else the one
    that logged the patient's day."""
    frequencies = claims.group_by("claim_id").agg(pl.col("claim_frequency").unique())
    voided = frequencies.filter(pl.col("claim_frequency").list.contains("8"))
    replaced = frequencies.filter(pl.col("claim_frequency").list.contains("7"))
    is_replaced = pl.col("claim_id").is_in(replaced.get_column("claim_id").implode())
    live = claims.filter(~pl.col("claim_id").is_in(voided.get_column("claim_id").implode())).filter(
        ~is_replaced | (pl.col("claim_frequency") == "7")
    )
    by_code = (
        segments.group_by(*PATIENT_DAY, "cpt_code", "discipline")
        .agg(pl.col("minutes").sum())
        .sort("minutes", "discipline", descending=[True, False])
        .unique([*PATIENT_DAY, "cpt_code"], keep="first", maintain_order=True)
        .select(*PATIENT_DAY, "cpt_code", pl.col("discipline").alias("code_discipline"))
    )
    by_day = segments.group_by(PATIENT_DAY).agg(pl.col("discipline").min().alias("day_discipline"))
    from_modifier = (
        pl.col("modifier_list")
        .list.eval(pl.element().replace_strict(DISCIPLINE_OF_MODIFIER, default=None))
        .list.drop_nulls()
        .list.first()
    )
    return (
        live.join(by_code, on=[*PATIENT_DAY, "cpt_code"], how="left")
        .join(by_day, on=PATIENT_DAY, how="left")
        .with_columns(
            pl.coalesce(from_modifier, "code_discipline", "day_discipline").alias("discipline")
        )
        .drop("code_discipline", "day_discipline")
    )


# ------------------------------------------------------- what the cases break on purpose


def _timeline(services: Sequence[Service]) -> list[tuple[Service, int]]:
    """Each logged service with its start, in minutes from the visit's start: its
    offset, or the sum of the minutes logged before it."""
    timeline, before = [], 0
    for service in services:
        if service.minutes:
            timeline.append((service, before if service.offset is None else service.offset))
            before += service.minutes
    return timeline


def _overlaps(intervals: Sequence[tuple[int, int]]) -> bool:
    """Whether any two (start, end) intervals share a minute."""
    ordered = sorted(intervals)
    return any(later[0] < earlier[1] for earlier, later in itertools.pairwise(ordered))


def _patient_overlap(case: Case) -> bool:
    """A visit of the case logs the same minutes of its patient twice."""
    return any(
        _overlaps([(start, start + s.minutes) for s, start in _timeline(services)])
        for services in case.plans
    )


def _day_intervals(case: ProviderDay) -> list[tuple[int, int]]:
    return [
        (visit.start, visit.start + sum(s.minutes for s in visit.services)) for visit in case.visits
    ]


def _provider_overlap(case: Case) -> bool:
    """The case's day has its therapist with two patients at once."""
    return isinstance(case, ProviderDay) and _overlaps(_day_intervals(case))


def _long_day(case: Case) -> bool:
    """The case's day runs MAX_DAY_MINUTES or longer."""
    if not isinstance(case, ProviderDay):
        return False
    intervals = _day_intervals(case)
    return max(end for _, end in intervals) - min(start for start, _ in intervals) >= (
        MAX_DAY_MINUTES
    )


def _many_visits(case: Case) -> bool:
    return isinstance(case, Course) and len(case.visits) > MAX_VISITS


def _bills_pair(pair: frozenset[str]) -> Callable[[Case], bool]:
    def bills(case: Case) -> bool:
        return any(pair <= {s.cpt_code for s in services if s.units} for services in case.plans)

    return bills


def _only_where_planted(
    violations: pl.DataFrame, live: pl.DataFrame, placed: Placed, cases: set[str], promise: str
) -> None:
    """The patient-days in `violations` (patient_id, service_date) are all visits of the
    `cases` that break the promise on purpose, and each of those cases does break it."""
    hits = (
        violations.select(PATIENT_DAY)
        .unique()
        .join(live.select(*PATIENT_DAY, "claim_id").unique(), on=PATIENT_DAY, how="left")
        .join(placed.claims.select("claim_id", "case_id"), on="claim_id", how="left")
    )
    stray = hits.filter(pl.col("case_id").is_null() | ~pl.col("case_id").is_in(sorted(cases)))
    _require(stray.is_empty(), f"{promise} outside the cases planted for it", stray)
    missing = cases - set(hits.get_column("case_id").drop_nulls())
    _require(not missing, f"{promise}: planted for {sorted(missing)}, but not in the files")


# -------------------------------------------------------------------------- checks


def _clashes(segments: pl.DataFrame, keys: Sequence[str]) -> pl.DataFrame:
    """The segments that start before an earlier one with the same `keys` has ended."""
    ordered = segments.sort(*keys, "start", "end")
    latest_end = pl.col("end").cum_max().shift(1).over(keys)
    return ordered.filter(pl.col("start") < latest_end)


def _stretches(segments: pl.DataFrame, keys: Sequence[str]) -> pl.DataFrame:
    """Segments with the same `keys` that overlap or touch merged into one stretch."""
    ordered = segments.sort(*keys, "start", "end")
    latest_end = pl.col("end").cum_max().shift(1).over(keys)
    stretch = (pl.col("start") > latest_end).fill_null(True).cast(pl.Int64).cum_sum().over(keys)
    return (
        ordered.with_columns(stretch.alias("stretch"))
        .group_by(*keys, "stretch")
        .agg(pl.col("start").min(), pl.col("end").max())
    )


def _check_no_overlaps(segments: pl.DataFrame, live: pl.DataFrame, placed: Placed) -> str:
    # A provider is in two places at once only with two patients: a patient's own
    # overlapping segments are merged first (those are the patient check's business).
    patient_stretches = _stretches(segments, ["provider_npi", "service_date", "patient_id"])
    provider_clashes = _clashes(patient_stretches, ["provider_npi", "service_date"])
    _only_where_planted(
        provider_clashes,
        live,
        placed,
        placed.case_ids(_provider_overlap),
        "a provider with two patients at once",
    )
    _only_where_planted(
        _clashes(segments, PATIENT_DAY),
        live,
        placed,
        placed.case_ids(_patient_overlap),
        "overlapping segments for one patient",
    )
    return "no provider or patient in two places at once, but in the cases planted for it"


def _check_days(segments: pl.DataFrame, live: pl.DataFrame, placed: Placed) -> str:
    day = ["provider_npi", "service_date"]
    days = segments.group_by(day).agg(
        (pl.col("end").max() - pl.col("start").min()).dt.total_minutes().alias("span")
    )
    long_days = segments.join(days.filter(pl.col("span") >= MAX_DAY_MINUTES), on=day)
    _only_where_planted(
        long_days, live, placed, placed.case_ids(_long_day), "a provider's day of 8 hours or more"
    )
    weekend = segments.filter(pl.col("service_date").dt.weekday() > 5)
    _require(weekend.is_empty(), "segments on a weekend", weekend)
    # A provider-day case may give a patient a visit on top of the usual ones.
    provider_days = placed.case_ids(lambda case: isinstance(case, ProviderDay))
    on_provider_days = placed.claims.filter(pl.col("case_id").is_in(sorted(provider_days)))
    counted = live.filter(
        ~pl.col("claim_id").is_in(on_provider_days.get_column("claim_id").implode())
    )
    visits = counted.group_by("patient_id").agg(pl.col("service_date").n_unique().alias("visits"))
    many = live.join(visits.filter(pl.col("visits") > MAX_VISITS), on="patient_id")
    _only_where_planted(
        many, live, placed, placed.case_ids(_many_visits), f"more than {MAX_VISITS} visits"
    )
    payers = live.group_by("patient_id").agg(pl.col("payer").n_unique())
    _require(payers.get_column("payer").max() == 1, "a patient with more than one payer")
    short = days.filter(pl.col("span") < MAX_DAY_MINUTES).height
    return (
        f"{short} of {days.height} provider-days under 8 hours and at most {MAX_VISITS} "
        "visits a patient, but in the cases planted for it"
    )


def _stated(placed: Placed) -> pl.DataFrame:
    """The modifiers and place of service planted lines state (claim_id, cpt_code)."""
    rows = [
        (claim_id, s.cpt_code, s.modifiers, s.place_of_service)
        for case_id, visit, claim_id in placed.claims.iter_rows()
        for s in placed.cases[case_id].plans[visit]
        if s.units and (s.modifiers is not None or s.place_of_service is not None)
    ]
    return pl.DataFrame(
        rows,
        schema={
            "claim_id": pl.String,
            "cpt_code": pl.String,
            "stated_modifiers": pl.String,
            "stated_place": pl.String,
        },
        orient="row",
    )


def _check_modifiers_and_places(live: pl.DataFrame, segments: pl.DataFrame, placed: Placed) -> str:
    """Every line carries the modifiers its patient-day's time log calls for (GP or GO
    by discipline, CQ or CO when an assistant logged), and is billed at the office;
    a planted line carries what its case states instead."""
    assistants = sorted(ASSISTANT_MODIFIER)
    days = segments.group_by(PATIENT_DAY).agg(
        pl.col("discipline").min(),
        pl.col("provider_role").filter(pl.col("provider_role").is_in(assistants)).first(),
    )
    usual = pl.concat_str(
        [
            pl.col("day_discipline").replace_strict(THERAPY_MODIFIER, default=None),
            pl.col("provider_role").replace_strict(ASSISTANT_MODIFIER, default=None),
        ],
        separator=",",
        ignore_nulls=True,
    )
    stated = pl.col("stated_modifiers")
    expected = pl.when(stated == NO_MODIFIERS).then(None).otherwise(pl.coalesce(stated, usual))
    lines = live.join(
        days.rename({"discipline": "day_discipline"}), on=PATIENT_DAY, how="left"
    ).join(_stated(placed), on=["claim_id", "cpt_code"], how="left")
    wrong = lines.filter(
        ~pl.col("modifiers").eq_missing(expected)
        | (pl.col("place_of_service") != pl.coalesce("stated_place", pl.lit(OFFICE)))
    )
    _require(
        wrong.is_empty(),
        "a line's modifiers or place of service differ from its visit's",
        wrong.select("claim_id", "line_number", "cpt_code", "modifiers", "place_of_service"),
    )
    return (
        "modifiers match who logged the visit, and lines are billed at the office, but as planted"
    )


def _check_pairs(live: pl.DataFrame, placed: Placed) -> str:
    codes = live.group_by(PATIENT_DAY).agg(pl.col("cpt_code").unique())
    evaluation_pairs = (frozenset({e, c}) for e in EVALUATION_CODES for c in NOT_ON_EVALUATION_DAY)
    for pair in (*NCCI_PAIRS, *evaluation_pairs):
        both = codes.filter(
            pl.all_horizontal(pl.col("cpt_code").list.contains(code) for code in sorted(pair))
        )
        _only_where_planted(
            both,
            live,
            placed,
            placed.case_ids(_bills_pair(pair)),
            f"NCCI pair {sorted(pair)} billed on one day",
        )
    return "no NCCI pair billed on one day, but in the cases planted for it"


def _credited(segments: pl.DataFrame) -> pl.DataFrame:
    """Segments with `counted`: their minutes not already logged by an earlier segment of
    the patient that day, so that a minute logged twice counts once, for the code
    logged first."""
    ordered = segments.sort(*PATIENT_DAY, "start", "end", "cpt_code", "provider_npi")
    covered = pl.col("end").cum_max().shift(1).over(PATIENT_DAY)
    counted = (pl.col("end") - pl.max_horizontal("start", covered)).dt.total_minutes()
    return ordered.with_columns(counted.clip(lower_bound=0).alias("counted"))


def _logged(segments: pl.DataFrame) -> pl.DataFrame:
    """Minutes (each counted once) and segment count per patient, day, discipline and
    code."""
    return (
        _credited(segments)
        .group_by(*PATIENT_DAY, "discipline", "cpt_code")
        .agg(
            pl.col("counted").sum().alias("minutes"),
            pl.len().alias("segments"),
            pl.col("note_type").first(),
        )
    )


def _check_clean_lines(live: pl.DataFrame, segments: pl.DataFrame, planted: list[str]) -> str:
    """Outside the planted claims, every line's units are its minutes/15 (timed) or one
    evaluation unit for a single 30-45 minute evaluation segment."""
    clean = live.filter(~pl.col("claim_id").is_in(planted)).join(
        _logged(segments), on=[*PATIENT_DAY, "discipline", "cpt_code"], how="left"
    )
    timed = pl.col("cpt_code").is_in(sorted(TIMED_CODES))
    evaluation = pl.col("cpt_code").is_in(sorted(EVALUATION_CODES))
    wrong = clean.filter(
        pl.when(timed)
        .then(pl.col("minutes").is_in([15, 30, 45]) & (pl.col("units") * 15 == pl.col("minutes")))
        .when(evaluation)
        .then(
            (pl.col("units") == 1)
            & (pl.col("segments") == 1)
            & pl.col("minutes").is_between(30, 45)
            & (pl.col("note_type") == EVALUATION_NOTE)
        )
        .otherwise(False)
        .fill_null(False)
        .not_()
    )
    _require(wrong.is_empty(), "clean lines whose units do not match their minutes", wrong)
    return f"{clean.height} clean lines bill exactly their logged minutes / 15"


# ------------------------------------------------------------------- planted cases


def _check_planted(claims: pl.DataFrame, segments: pl.DataFrame, placed: Placed) -> str:
    """Each planted visit's claim bills, and its day logs, what its case defines; a
    course is one patient's every visit, a provider day one therapist's day. A profile
    without planted cases passes no cases; otherwise all must be there."""
    if not placed.cases:
        return "no planted cases in this profile"
    missing = sorted(set(placed.cases) - set(placed.claims.get_column("case_id")))
    _require(not missing, f"planted cases not placed: {missing}")
    visits = 0
    for case, visit, claim_id in placed.first_claims():
        _check_visit(case, visit, claims, segments, claim_id)
        visits += 1
    for case in placed.cases.values():
        own = placed.claims.filter(pl.col("case_id") == case.case_id).get_column("claim_id")
        if isinstance(case, Course):
            _check_course(case, claims, own)
        elif isinstance(case, ProviderDay):
            _check_provider_day(case, claims, segments, own)
    return f"the {len(placed.cases)} planted cases are in place ({visits} visits checked)"


def _therapist_role(case: Case) -> str:
    return "PT" if isinstance(case, PlantedCase) else case.discipline


def _note(service: Service) -> str | None:
    if service.note_type is not None:
        return service.note_type
    return EVALUATION_NOTE if service.cpt_code in EVALUATION_CODES else None


def _check_visit(
    case: Case, visit: int, claims: pl.DataFrame, segments: pl.DataFrame, claim_id: str
) -> None:
    """The claim bills the visit's services; the patient's day logs them, each as one
    segment of its minutes, by whom and when the case says, and nothing else."""
    name = f"{case.case_id} visit {visit}"
    services = case.plans[visit]
    lines = claims.filter(pl.col("claim_id") == claim_id)
    original = lines.filter(pl.col("claim_frequency") == "1")
    _require(original.height > 0, f"{name}: claim {claim_id} has no original")
    patient, day, payer, rendering = original.select(
        "patient_id", "service_date", "payer", "rendering_npi"
    ).row(0)
    _require(_payer_fits(case, visit, payer), f"{name}: payer {payer}")
    billed = sorted(original.select("cpt_code", "units").iter_rows())
    wanted = sorted((s.cpt_code, s.units) for s in services if s.units)
    _require(billed == wanted, f"{name}: billed {billed}")

    logs = segments.filter(pl.col("patient_id") == patient, pl.col("service_date") == day)
    visit_start = logs.get_column("start").min()
    offset = (pl.col("start") - visit_start).dt.total_minutes()
    logged = sorted(
        logs.select("cpt_code", "minutes", "provider_role", offset, "note_type").iter_rows()
    )
    role = _therapist_role(case)
    expected = sorted(
        (s.cpt_code, s.minutes, "PTA" if s.by_assistant else role, start, _note(s))
        for s, start in _timeline(services)
    )
    _require(logged == expected, f"{name}: logged {logged}")
    therapist = logs.filter(pl.col("provider_role") == role).get_column("provider_npi")
    _require(set(therapist) <= {rendering}, f"{name}: not the rendering therapist's visit")
    _check_visit_kind(case, visit, claims, lines, patient, day, visit_start)


def _payer_fits(case: Case, visit: int, payer: str) -> bool:
    if isinstance(case, PlantedCase):
        return (payer == MEDICARE) == (case.payer_class == MEDICARE_CLASS)
    if isinstance(case, Course):
        return payer == case.payer
    return case.visits[visit].payer in (None, payer)


def _check_visit_kind(
    case: Case,
    visit: int,
    claims: pl.DataFrame,
    lines: pl.DataFrame,
    patient: str,
    day: date,
    visit_start: datetime,
) -> None:
    """What each kind of case fixes about its visit besides the services."""
    name = f"{case.case_id} visit {visit}"
    first_visit = claims.filter(pl.col("patient_id") == patient).get_column("service_date").min()
    if isinstance(case, Course):
        _require(day == case.visits[visit].day, f"{name}: on {day}")
    elif isinstance(case, ProviderDay):
        start = visit_start.hour * 60 + visit_start.minute
        _require(start == case.visits[visit].start, f"{name}: starts at minute {start}")
        _require(first_visit < day, f"{name}: the patient was not evaluated before")
    else:
        is_first = first_visit == day
        _require(is_first == case.on_evaluation, f"{name}: first visit {first_visit}")
        _check_corrections(case, claims, lines, patient, day)


def _check_corrections(
    case: PlantedCase, claims: pl.DataFrame, lines: pl.DataFrame, patient: str, day: date
) -> None:
    original = lines.filter(pl.col("claim_frequency") == "1")
    if case.corrected_units:
        replacement = lines.filter(pl.col("claim_frequency") == "7")
        _require(
            dict(replacement.select("cpt_code", "units").iter_rows()) == case.corrected_units
            and replacement.get_column(ROW).min() > original.get_column(ROW).max(),
            f"{case.case_id}: replacement claim",
        )
    if case.voided_claim:
        same_day = claims.filter(
            pl.col("patient_id") == patient,
            pl.col("service_date") == day,
            ~pl.col("claim_id").is_in(lines.get_column("claim_id").unique().implode()),
        )
        voided = same_day.filter(pl.col("claim_frequency") == "8")
        first = same_day.filter(pl.col("claim_frequency") == "1")
        _require(
            set(voided.get_column("claim_id")) == set(first.get_column("claim_id"))
            and dict(first.select("cpt_code", "units").iter_rows()) == dict(case.voided_claim)
            and dict(voided.select("cpt_code", "units").iter_rows()) == dict(case.voided_claim)
            and voided.get_column(ROW).min() > first.get_column(ROW).max(),
            f"{case.case_id}: voided claim",
        )


def _check_course(case: Course, claims: pl.DataFrame, own: pl.Series) -> None:
    """A course's visits are one patient's, and that patient has no others."""
    patients = claims.filter(pl.col("claim_id").is_in(own.implode())).get_column("patient_id")
    _require(patients.n_unique() == 1, f"{case.case_id}: visits of several patients")
    everything = claims.filter(pl.col("patient_id") == patients.first()).get_column("claim_id")
    _require(set(everything) == set(own), f"{case.case_id}: the patient has other claims")


def _check_provider_day(
    case: ProviderDay, claims: pl.DataFrame, segments: pl.DataFrame, own: pl.Series
) -> None:
    """A provider day's visits are different patients' on one day under one therapist,
    who, when the day is exclusive, logs nobody else that day."""
    lines = claims.filter(pl.col("claim_id").is_in(own.implode()))
    patients = lines.get_column("patient_id").unique()
    _require(
        patients.len() == len(case.visits)
        and lines.get_column("service_date").n_unique() == 1
        and lines.get_column("rendering_npi").n_unique() == 1,
        f"{case.case_id}: not one therapist's day with a patient a visit",
    )
    if case.exclusive:
        npi, day = lines.select("rendering_npi", "service_date").row(0)
        seen = segments.filter(pl.col("provider_npi") == npi, pl.col("service_date") == day)
        others = seen.filter(~pl.col("patient_id").is_in(patients.implode()))
        _require(others.is_empty(), f"{case.case_id}: the therapist sees others that day", others)


# -------------------------------------------------------------------------- findings


def _supported_units(logged: pl.DataFrame, payers: pl.DataFrame) -> pl.DataFrame:
    """Units the minutes support per patient, day, discipline and timed code.

    Medicare (CMS total-time): floor((T + 7) / 15) units for the day's total T; each
    code gets its full units, the rest go one each to the largest leftovers.
    Commercial (AMA per code): floor((minutes + 7) / 15) per code.
    """
    day = [*PATIENT_DAY, "discipline"]
    timed = logged.filter(pl.col("cpt_code").is_in(sorted(TIMED_CODES))).join(
        payers, on="patient_id", how="left"
    )
    full = pl.col("minutes") // 15
    spare = (pl.col("minutes").sum().over(day) + 7) // 15 - full.sum().over(day)
    leftover_rank = (
        pl.struct((-(pl.col("minutes") % 15)).alias("left"), "cpt_code").rank("ordinal").over(day)
    )
    medicare = full + (leftover_rank <= spare).cast(pl.Int64)
    return timed.with_columns(
        pl.when(pl.col("payer") == MEDICARE)
        .then(medicare)
        .otherwise((pl.col("minutes") + 7) // 15)
        .alias("supported")
    )


def _unit_findings(live: pl.DataFrame, segments: pl.DataFrame) -> pl.DataFrame:
    """The unit rules' findings, worked out code by code from the minutes: a billed
    code with no log, one under 8 minutes earning no unit, one billed above its
    supported units, and one billed below them. (Code by code is the CMS method's
    day total too, as long as no day has one code under and another over its share:
    none has, and such a day would show here as a difference from the key.)"""
    payers = live.select("patient_id", "payer").unique()
    supported = _supported_units(_logged(segments), payers)
    keys = [*PATIENT_DAY, "discipline", "cpt_code"]
    billed = (
        live.filter(pl.col("cpt_code").is_in(sorted(TIMED_CODES)))
        .sort("claim_id", "line_number")
        .group_by(keys, maintain_order=True)
        .agg(
            pl.col("units").sum(),
            pl.col("claim_id").first(),
            pl.col("line_number").first(),
        )
    )
    codes = billed.join(supported.select(*keys, "minutes", "supported"), on=keys, how="full")
    rule = (
        pl.when(pl.col("units").is_null())
        .then(None)
        .when(pl.col("minutes").is_null())
        .then(pl.lit(TIME_LOG_MISSING))
        .when((pl.col("supported") == 0) & (pl.col("minutes") < 8))
        .then(pl.lit(UNITS_UNDER_8_MIN))
        .when(pl.col("units") > pl.col("supported"))
        .then(pl.lit(UNITS_OVERBILLED))
        .when(pl.col("units") < pl.col("supported"))
        .then(pl.lit(UNITS_UNDERBILLED))
    )
    unbilled = codes.filter(pl.col("units").is_null() & (pl.col("supported") > 0))
    _require(unbilled.is_empty(), "minutes support units of a code that is not billed", unbilled)
    return (
        codes.with_columns(rule.alias("rule_id"))
        .filter(pl.col("rule_id").is_not_null())
        .select(
            "rule_id",
            pl.coalesce("patient_id", "patient_id_right").alias("patient_id"),
            pl.coalesce("service_date", "service_date_right").dt.strftime("%Y-%m-%d"),
            "claim_id",
            "line_number",
            pl.coalesce("cpt_code", "cpt_code_right").alias("cpt_code"),
            pl.col("units").alias("units_billed"),
            pl.col("supported").fill_null(0).alias("units_supported"),
        )
    )


def _check_findings(out: Path, live: pl.DataFrame, segments: pl.DataFrame, placed: Placed) -> str:
    """The unit rules' expected findings are exactly those worked out here; every other
    expected finding is on a planted claim, or (with no claim) on a planted day."""
    expected = _answer_key(out, "expected_findings")
    as_text = [pl.col(column).cast(pl.String) for column in FINDING_KEY]
    derived = set(_unit_findings(live, segments).select(as_text).iter_rows())
    from_key = set(expected.filter(pl.col("rule_id").is_in(UNIT_RULES)).select(as_text).iter_rows())
    _require(
        derived == from_key,
        f"recomputed unit findings differ: extra {derived - from_key}, "
        f"missing {from_key - derived}",
    )
    others = expected.filter(~pl.col("rule_id").is_in(UNIT_RULES))
    planted_days = (
        live.filter(pl.col("claim_id").is_in(placed.claim_ids))
        .select(*PATIENT_DAY)
        .with_columns(pl.col("service_date").dt.strftime("%Y-%m-%d"))
    )
    on_claims = others.filter(pl.col("claim_id").is_not_null())
    on_days = others.filter(pl.col("claim_id").is_null())
    stray = pl.concat(
        [
            on_claims.filter(~pl.col("claim_id").is_in(placed.claim_ids)),
            on_days.join(planted_days, on=PATIENT_DAY, how="anti"),
        ]
    )
    _require(stray.is_empty(), "expected findings off the planted visits", stray)
    return (
        f"recomputed unit findings equal the expected ({len(from_key)}); the other "
        f"{others.height} expected findings are on planted visits"
    )
