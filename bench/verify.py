"""An independent check of generated exports, run after every generation.

It re-reads the written CSVs and tests what the README promises: the rows listed as
rejects, and only those, are invalid; no provider or patient is in two places at once;
every clean timed line bills minutes/15 units; the planted cases are in place; and the
findings recomputed here from the minutes, under each payer's unit method, are exactly
the expected findings. A bench profile writes its answer key as Parquet, and its
exports as Parquet too: those must hold the rows of the CSVs. It shares only the
planted-case definitions (bench.cases) with the generator; the validity rules, unit
methods and schedules are worked out afresh.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path

import polars as pl

from bench.cases import (
    ASSISTANT_MODIFIER,
    EVALUATION_CODES,
    EVALUATION_NOTE,
    FORBIDDEN_MODIFIERS,
    MEDICARE,
    NCCI_PAIRS,
    NOT_ON_EVALUATION_DAY,
    PLANTED_CASES,
    TIME_LOG_MISSING,
    TIMED_CODES,
    UNITS_OVERBILLED,
    UNITS_UNDER_8_MIN,
    PlantedCase,
)

ROW = "row_number"
MAX_DAY_MINUTES = 8 * 60
MAX_VISITS = 9  # per patient over the profile's weeks
DISCIPLINE_OF_ROLE = {"PT": "PT", "PTA": "PT", "OT": "OT", "OTA": "OT"}
DISCIPLINE_OF_MODIFIER = {"GP": "PT", "GO": "OT"}
FINDING_KEY = ("rule_id", "claim_id", "line_number", "cpt_code", "units_billed", "units_supported")


class CheckFailed(AssertionError):
    """The generated files break a promise the README makes."""


def _require(condition: bool, message: str, evidence: pl.DataFrame | None = None) -> None:
    if not condition:
        raise CheckFailed(message if evidence is None else f"{message}:\n{evidence}")


def verify(
    out: Path, case_claims: Mapping[str, str], planted: Collection[str] | None = None
) -> list[str]:
    """Check the files in `out`; `case_claims` maps planted case id to the claim id of
    one visit it was planted on, and `planted` holds the claim ids of every planted
    visit (by default those of `case_claims`: each case planted once).
    Returns one line per passed check; raises CheckFailed on the first broken one."""
    claims = _read(out / "claims.csv")
    timelogs = _read(out / "timelogs.csv")
    done = [_check_rejects(out, claims, timelogs)]
    done += [
        _check_parquet_twin(out / f"{name}.parquet", frame)
        for name, frame in (("claims", claims), ("timelogs", timelogs))
        if (out / f"{name}.parquet").is_file()
    ]
    claims, segments = _accepted_claims(claims, out), _accepted_segments(timelogs, out)
    live = _live_lines(claims)
    done += [
        _check_no_overlaps(segments),
        _check_days(segments, live),
        _check_modifiers_and_pairs(live, segments),
        _check_clean_lines(live, segments, set(planted or case_claims.values())),
        _check_planted(claims, segments, case_claims),
        _check_findings(out, live, segments),
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


def _live_lines(claims: pl.DataFrame) -> pl.DataFrame:
    """The lines that stand: a void (8) cancels its claim, a replacement (7) takes the
    original's place. Discipline comes from the GP/GO modifier."""
    frequencies = claims.group_by("claim_id").agg(pl.col("claim_frequency").unique())
    voided = frequencies.filter(pl.col("claim_frequency").list.contains("8"))
    replaced = frequencies.filter(pl.col("claim_frequency").list.contains("7"))
    is_replaced = pl.col("claim_id").is_in(replaced.get_column("claim_id").implode())
    return (
        claims.filter(~pl.col("claim_id").is_in(voided.get_column("claim_id").implode()))
        .filter(~is_replaced | (pl.col("claim_frequency") == "7"))
        .with_columns(
            pl.col("modifier_list")
            .list.first()
            .replace_strict(DISCIPLINE_OF_MODIFIER, default=None)
            .alias("discipline")
        )
    )


# -------------------------------------------------------------------------- checks


def _check_no_overlaps(segments: pl.DataFrame) -> str:
    for who in ("provider_npi", "patient_id"):
        ordered = segments.sort(who, "start", "end")
        latest_end = pl.col("end").cum_max().shift(1).over([who, "service_date"])
        clashes = ordered.filter(pl.col("start") < latest_end)
        _require(clashes.is_empty(), f"overlapping segments for one {who}", clashes)
    return "no overlapping segments per provider-day or per patient-day"


def _check_days(segments: pl.DataFrame, live: pl.DataFrame) -> str:
    days = segments.group_by("provider_npi", "service_date").agg(
        (pl.col("end").max() - pl.col("start").min()).dt.total_minutes().alias("span")
    )
    long_days = days.filter(pl.col("span") >= MAX_DAY_MINUTES)
    _require(long_days.is_empty(), "a provider's day lasts 8 hours or more", long_days)
    weekend = segments.filter(pl.col("service_date").dt.weekday() > 5)
    _require(weekend.is_empty(), "segments on a weekend", weekend)
    visits = live.group_by("patient_id").agg(pl.col("service_date").n_unique().alias("visits"))
    too_many = visits.filter(pl.col("visits") > MAX_VISITS)
    _require(too_many.is_empty(), f"a patient has more than {MAX_VISITS} visits", too_many)
    payers = live.group_by("patient_id").agg(pl.col("payer").n_unique())
    _require(payers.get_column("payer").max() == 1, "a patient with more than one payer")
    return f"{days.height} provider-days all under 8 hours; at most {MAX_VISITS} visits each"


def _check_modifiers_and_pairs(live: pl.DataFrame, segments: pl.DataFrame) -> str:
    roles = segments.group_by("patient_id", "service_date").agg(
        pl.col("provider_role").unique().alias("roles")
    )
    lines = live.join(roles, on=["patient_id", "service_date"], how="left")
    assistant = pl.col("roles").list.eval(pl.element().is_in(list(ASSISTANT_MODIFIER))).list.any()
    has_cq = pl.col("modifier_list").list.eval(pl.element().is_in(["CQ", "CO"])).list.any()
    wrong = lines.filter(
        pl.col("discipline").is_null()
        | (assistant.fill_null(False) != has_cq)
        | pl.col("modifier_list")
        .list.eval(pl.element().is_in(sorted(FORBIDDEN_MODIFIERS)))
        .list.any()
    )
    _require(wrong.is_empty(), "a line's modifiers do not match who delivered it", wrong)

    codes = live.group_by("patient_id", "service_date").agg(pl.col("cpt_code").unique())
    for pair in (
        *NCCI_PAIRS,
        *(frozenset({e, c}) for e in EVALUATION_CODES for c in NOT_ON_EVALUATION_DAY),
    ):
        both = codes.filter(
            pl.all_horizontal(pl.col("cpt_code").list.contains(code) for code in sorted(pair))
        )
        _require(both.is_empty(), f"NCCI pair {sorted(pair)} billed on one day", both)
    return "modifiers GP/GO match the discipline, CQ exactly on assistant visits; no NCCI pair"


def _logged(segments: pl.DataFrame) -> pl.DataFrame:
    """Minutes and segment count per patient, day, discipline and code."""
    return segments.group_by("patient_id", "service_date", "discipline", "cpt_code").agg(
        pl.col("minutes").sum(), pl.len().alias("segments"), pl.col("note_type").first()
    )


def _check_clean_lines(live: pl.DataFrame, segments: pl.DataFrame, planted: set[str]) -> str:
    """Outside the planted claims, every line's units are its minutes/15 (timed) or one
    evaluation unit for a single 30-45 minute evaluation segment."""
    clean = live.filter(~pl.col("claim_id").is_in(sorted(planted))).join(
        _logged(segments), on=["patient_id", "service_date", "discipline", "cpt_code"], how="left"
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


def _check_planted(
    claims: pl.DataFrame, segments: pl.DataFrame, case_claims: Mapping[str, str]
) -> str:
    """Each planted case's claim bills, and its day logs, what the case defines. A
    profile without planted cases passes an empty mapping; otherwise all must be there."""
    if not case_claims:
        return "no planted cases in this profile"
    missing = [case.case_id for case in PLANTED_CASES if case.case_id not in case_claims]
    _require(not missing, f"planted cases not placed: {missing}")
    for case in PLANTED_CASES:
        _check_case(case, claims, segments, case_claims[case.case_id])
    return f"planted cases {', '.join(c.case_id for c in PLANTED_CASES)} are in place"


def _check_case(
    case: PlantedCase, claims: pl.DataFrame, segments: pl.DataFrame, claim_id: str
) -> None:
    lines = claims.filter(pl.col("claim_id") == claim_id)
    original = lines.filter(pl.col("claim_frequency") == "1")
    _require(original.height > 0, f"{case.case_id}: claim {claim_id} has no original")
    patient, day, payer = original.select("patient_id", "service_date", "payer").row(0)
    _require((payer == MEDICARE) == (case.payer_class == "medicare"), f"{case.case_id}: payer")
    billed = dict(original.select("cpt_code", "units").iter_rows())
    _require(
        billed == {s.cpt_code: s.units for s in case.services if s.units},
        f"{case.case_id}: billed units {billed}",
    )
    logs = segments.filter(pl.col("patient_id") == patient, pl.col("service_date") == day)
    logged = dict(logs.select("cpt_code", "minutes").iter_rows())
    _require(
        logs.height == len(logged)
        and logged == {s.cpt_code: s.minutes for s in case.services if s.minutes},
        f"{case.case_id}: logged minutes {logged}",
    )
    _require(set(logs.get_column("provider_role")) == {"PT"}, f"{case.case_id}: not the PT's visit")
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
            pl.col("claim_id") != claim_id,
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


# -------------------------------------------------------------------------- findings


def _supported_units(logged: pl.DataFrame, payers: pl.DataFrame) -> pl.DataFrame:
    """Units the minutes support per patient, day, discipline and timed code.

    Medicare (CMS total-time): floor((T + 7) / 15) units for the day's total T; each
    code gets its full units, the rest go one each to the largest leftovers.
    Commercial (AMA per code): floor((minutes + 7) / 15) per code.
    """
    day = ["patient_id", "service_date", "discipline"]
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


def _check_findings(out: Path, live: pl.DataFrame, segments: pl.DataFrame) -> str:
    payers = live.select("patient_id", "payer").unique()
    supported = _supported_units(_logged(segments), payers)
    keys = ["patient_id", "service_date", "discipline", "cpt_code"]
    lines = live.filter(pl.col("cpt_code").is_in(sorted(TIMED_CODES))).join(
        supported.select(*keys, "minutes", "supported"), on=keys, how="left"
    )
    rule = (
        pl.when(pl.col("minutes").is_null())
        .then(pl.lit(TIME_LOG_MISSING))
        .when((pl.col("supported") == 0) & (pl.col("minutes") < 8))
        .then(pl.lit(UNITS_UNDER_8_MIN))
        .when(pl.col("units") > pl.col("supported"))
        .then(pl.lit(UNITS_OVERBILLED))
    )
    derived = (
        lines.with_columns(rule.alias("rule_id"))
        .filter(pl.col("rule_id").is_not_null())
        .select(
            "rule_id",
            "claim_id",
            "line_number",
            "cpt_code",
            pl.col("units").alias("units_billed"),
            pl.col("supported").fill_null(0).alias("units_supported"),
        )
    )
    expected = _answer_key(out, "expected_findings")
    derived_rows = {tuple(str(v) for v in row) for row in derived.select(FINDING_KEY).iter_rows()}
    expected_rows = set(expected.select(FINDING_KEY).iter_rows())
    _require(
        derived_rows == expected_rows,
        f"recomputed findings differ: extra {derived_rows - expected_rows}, "
        f"missing {expected_rows - derived_rows}",
    )
    billed = live.group_by(keys).agg(pl.col("units").sum().alias("billed"))
    under = supported.join(billed, on=keys, how="left").filter(
        pl.col("supported") > pl.col("billed").fill_null(0)
    )
    _require(under.is_empty(), "minutes support more units than are billed", under)
    return f"recomputed findings equal expected_findings.csv ({len(expected_rows)} rows)"
