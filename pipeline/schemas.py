"""Declared schemas of the two inputs, as pandera (polars backend) schemas.

The schemas validate the text that ingest read, so every kind of bad value becomes a
failure case on its own row and column. The parsers here are also what turns accepted
text into typed values, so a value that passed validation always converts.

Dates and timestamps are parsed once per batch, into hidden columns beside the text
(`with_parsed`), which the checks and the typed conversion all read: several checks
need the same parsed value.

A file's keys are unique (`InputKind.key`); that needs the whole file, so it is checked
where the file's rows meet, in the store (see `store.reject_repeated_keys`).
"""

from __future__ import annotations

from collections.abc import Callable

import pandera.polars as pa
import polars as pl
from pandera.api.polars.types import PolarsData

DATE_FORMAT = "%Y-%m-%d"
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
CPT_PATTERN = r"^(\d{4}[0-9FTU]|[A-Z]\d{4})$"
# Between the codes of a list cell: commas, spaces or line breaks (a cell of one code
# per line, as a spreadsheet's Alt+Enter writes it).
LIST_SEPARATOR = r"[\s,]+"
MODIFIERS_PATTERN = rf"^[A-Z0-9]{{2}}({LIST_SEPARATOR}[A-Z0-9]{{2}}){{0,3}}$"
ICD10_CODE = r"[A-Z]\d[0-9A-Z](\.?[0-9A-Z]{1,4})?"
# What ingest's lossy UTF-8 reading puts where a byte was not UTF-8.
REPLACEMENT_CHARACTER = "\ufffd"
ROLES = ("PT", "PTA", "OT", "OTA", "SLP")
FREQUENCIES = ("1", "7", "8")


def parse_date(expr: pl.Expr) -> pl.Expr:
    return expr.str.strptime(pl.Date, DATE_FORMAT, strict=False)


def parse_timestamp(expr: pl.Expr) -> pl.Expr:
    """'YYYY-MM-DD HH:MM[:SS]', with ' ' or 'T' between date and time.

    The text is brought to one form first: one parse per value, where trying each
    form in turn would parse every value four times.
    """
    spaced = expr.str.replace("T", " ", literal=True, n=1)
    full = (
        pl.when(spaced.str.len_bytes() == len("YYYY-MM-DD HH:MM"))
        .then(spaced + ":00")
        .otherwise(spaced)
    )
    return full.str.strptime(pl.Datetime("us"), TIMESTAMP_FORMAT, strict=False)


def parse_int(expr: pl.Expr) -> pl.Expr:
    return expr.str.to_integer(strict=False)


def parse_decimal(expr: pl.Expr) -> pl.Expr:
    return expr.cast(pl.Float64, strict=False)


# The columns parsed once per file, for each schema (by name).
PARSERS: dict[str, dict[str, Callable[[pl.Expr], pl.Expr]]] = {
    "claims": {"service_date": parse_date},
    "timelogs": {
        "service_date": parse_date,
        "start_time": parse_timestamp,
        "end_time": parse_timestamp,
    },
}


def parsed(column: str) -> str:
    """The hidden column holding `column` parsed (see `with_parsed`)."""
    return f"{column}.parsed"


def with_parsed(frame: pl.DataFrame, schema: pa.DataFrameSchema) -> pl.DataFrame:
    """The frame with its date and time columns parsed once, beside the text."""
    return frame.with_columns(
        parse(pl.col(column)).alias(parsed(column))
        for column, parse in PARSERS[schema.name].items()
    )


def _column_check(test: Callable[[pl.Expr], pl.Expr], error: str) -> pa.Check:
    """A vectorised check on one column; a missing value is left to `nullable`."""

    def run(data: PolarsData) -> pl.LazyFrame:
        value = pl.col(data.key)
        return data.lazyframe.select(value.is_null() | test(value).fill_null(False))

    return pa.Check(run, error=error)


def _distinct_value_check(test: Callable[[pl.Expr], pl.Expr], error: str) -> pa.Check:
    """A column check worked out once per distinct value (for costly tests on columns
    that repeat a few values, such as NPIs), then joined back to every row in order."""

    def run(data: PolarsData) -> pl.LazyFrame:
        value = pl.col(data.key)
        verdicts = (
            data.lazyframe.select(value.unique())
            .filter(value.is_not_null())
            .with_columns(test(value).fill_null(False).alias("passed"))
        )
        return (
            data.lazyframe.select(value)
            .join(verdicts, on=data.key, how="left", maintain_order="left")
            .select(value.is_null() | pl.col("passed"))
        )

    return pa.Check(run, error=error)


def _parsed_check(error: str) -> pa.Check:
    """The column's value parses (read from its parsed column, see `with_parsed`)."""

    def run(data: PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(
            pl.col(data.key).is_null() | pl.col(parsed(data.key)).is_not_null()
        )

    return pa.Check(run, error=error)


def _frame_check(column: str, test: pl.Expr, error: str) -> pa.Check:
    """A check across columns, reported against `column` (kept as the check's name)."""
    return pa.Check(
        lambda data: data.lazyframe.select(test.fill_null(True)), name=column, error=error
    )


def frame_check_columns(schema: pa.DataFrameSchema) -> dict[str, str]:
    """Failure cases name a frame-level check by its error text: map that to its column."""
    return {check.error: check.name for check in schema.checks}


def _npi_check_digit_ok(value: pl.Expr) -> pl.Expr:
    """NPI check digit: Luhn over the prefix 80840 and the first nine digits.

    The prefix contributes a constant 24 to the Luhn sum (CMS, "Requirements for
    NPI check digit"), so only the NPI's own digits are summed here.
    """
    digit = [value.str.slice(i, 1).cast(pl.Int32, strict=False) for i in range(10)]
    doubled = [pl.when(d * 2 > 9).then(d * 2 - 9).otherwise(d * 2) for d in digit[0:9:2]]
    total = 24 + pl.sum_horizontal(*doubled, *digit[1:9:2])
    expected = (10 - total % 10) % 10
    return ~value.str.contains(r"^\d{10}$") | (expected == digit[9])


# Rejected rather than stored lossy: two ids differing only in an accent ('José',
# 'Josè') would otherwise become one, and a payer name would stop matching its profile.
UTF8_CHECK = _column_check(
    lambda v: ~v.str.contains(REPLACEMENT_CHARACTER, literal=True),
    "text is not UTF-8 (a Latin-1 export?): re-export the file as UTF-8",
)


def _text(*checks: pa.Check, required: bool = True) -> pa.Column:
    return pa.Column(pl.String, checks=[UTF8_CHECK, *checks], nullable=not required)


NPI_CHECKS = (
    _column_check(lambda v: v.str.contains(r"^\d{10}$"), "NPI must be exactly 10 digits"),
    _distinct_value_check(_npi_check_digit_ok, "NPI check digit is wrong (fails the Luhn check)"),
)
DATE_CHECK = _parsed_check("not a real calendar date in YYYY-MM-DD form")
TIMESTAMP_CHECK = _parsed_check("not a real date and time in 'YYYY-MM-DD HH:MM[:SS]' form")
CPT_CHECK = _column_check(
    lambda v: v.str.contains(CPT_PATTERN),
    "not a CPT/HCPCS code (five characters: 97110, G0283)",
)


def _whole_number_between(low: int, high: int, what: str) -> pa.Check:
    return _column_check(
        lambda v: parse_int(v).is_between(low, high),
        f"{what} must be a whole number from {low} to {high}",
    )


CLAIMS_SCHEMA = pa.DataFrameSchema(
    name="claims",
    columns={
        "claim_id": _text(),
        "line_number": _text(_whole_number_between(1, 999, "line number")),
        "claim_frequency": _text(
            _column_check(
                lambda v: v.is_in(FREQUENCIES),
                "claim frequency must be 1 (original), 7 (replacement) or 8 (void)",
            ),
            required=False,
        ),
        "patient_id": _text(),
        "payer": _text(),
        "rendering_npi": _text(*NPI_CHECKS),
        "service_date": _text(DATE_CHECK),
        "cpt_code": _text(CPT_CHECK),
        "modifiers": _text(
            _column_check(
                lambda v: v.str.contains(MODIFIERS_PATTERN),
                "modifiers must be up to four 2-character codes separated by ',' or spaces",
            ),
            required=False,
        ),
        "units": _text(_whole_number_between(1, 99, "units")),
        "charge": _text(
            _column_check(
                lambda v: v.str.contains(r"^\d+(\.\d+)?$"),
                "charge must be a non-negative amount like 125.00",
            ),
            required=False,
        ),
        "diagnosis_codes": _text(
            _column_check(
                lambda v: v.str.contains(rf"^{ICD10_CODE}({LIST_SEPARATOR}{ICD10_CODE})*$"),
                "diagnosis codes must be ICD-10-CM codes separated by ','",
            ),
            required=False,
        ),
        "place_of_service": _text(
            _column_check(lambda v: v.str.contains(r"^\d{2}$"), "place of service is 2 digits"),
            required=False,
        ),
    },
)

TIMELOGS_SCHEMA = pa.DataFrameSchema(
    name="timelogs",
    columns={
        "patient_id": _text(),
        "provider_npi": _text(*NPI_CHECKS),
        "provider_role": _text(
            _column_check(
                lambda v: v.is_in(ROLES), f"provider role must be one of {', '.join(ROLES)}"
            )
        ),
        "service_date": _text(DATE_CHECK),
        "cpt_code": _text(CPT_CHECK),
        "start_time": _text(TIMESTAMP_CHECK),
        "end_time": _text(TIMESTAMP_CHECK),
        "session_id": _text(required=False),
        "note_type": _text(required=False),
    },
    checks=[
        _frame_check(
            "end_time",
            pl.col(parsed("end_time")) > pl.col(parsed("start_time")),
            "end_time must be after start_time",
        ),
        _frame_check(
            "start_time",
            pl.col(parsed("start_time")).dt.date() == pl.col(parsed("service_date")),
            "start_time is not on the service_date",
        ),
    ],
)
