"""Validate: check each export against its declared schema and set bad rows aside.

A row with any failing value is rejected whole, with one reject record per failing
column and reason; every other row goes on, typed. A row set aside while reading (a
header repeated among the rows, an X12 claim or envelope that failed its check) is
rejected with the one reason given then. Nothing is dropped silently: rows read = rows accepted +
rows rejected, for every batch (and so every file).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandera.polars as pa
import polars as pl

from pipeline.columns import CLAIMS, MODIFIER_COLUMNS
from pipeline.ingest import (
    ROW_NUMBER,
    SET_ASIDE,
    SET_ASIDE_COLUMN,
    SET_ASIDE_REASON,
    SET_ASIDE_VALUE,
    SOURCE_FILE,
    RawInput,
)
from pipeline.schemas import (
    CLAIMS_SCHEMA,
    LIST_SEPARATOR,
    TIMELOGS_SCHEMA,
    frame_check_columns,
    parse_decimal,
    parse_int,
    parsed,
    with_parsed,
)

REJECT_COLUMNS = {
    "source_file": pl.String,
    "row_number": pl.Int64,
    "column": pl.String,
    "value": pl.String,
    "reason": pl.String,
}
MISSING_REASON = "required value is missing"
# A value longer than this is cut in rejects.csv: a 1 MB cell would swamp the file and
# the report, and its first characters show what it is.
SHOWN_VALUE_CHARS = 200
MODIFIER_LIST = "modifiers.list"


@dataclass(frozen=True)
class Validated:
    source: RawInput
    rows_read: int
    accepted: pl.DataFrame
    rejects: pl.DataFrame

    @property
    def rows_rejected(self) -> int:
        return self.rows_read - self.accepted.height


def validate(raw: RawInput, batch: pl.DataFrame) -> Validated:
    schema = CLAIMS_SCHEMA if raw.kind is CLAIMS else TIMELOGS_SCHEMA
    aside = batch.get_column(SET_ASIDE_REASON).is_not_null()
    set_aside = batch.filter(aside)
    frame = batch.filter(~aside).drop(SET_ASIDE)
    checked = with_parsed(frame, schema)
    failures = _failures(schema, checked)
    rejected_rows = failures.get_column("index").unique()
    accepted = checked.filter(~pl.int_range(pl.len()).is_in(rejected_rows.implode()))
    del checked
    typed = _typed_claims(accepted) if raw.kind is CLAIMS else _typed_timelogs(accepted)
    result = Validated(
        source=raw,
        rows_read=batch.height,
        accepted=typed,
        rejects=pl.concat([_reject_records(frame, failures), _set_aside_records(set_aside)]).sort(
            "row_number", "column"
        ),
    )
    assert result.rows_read == typed.height + rejected_rows.len() + set_aside.height, (
        "rows lost in validation"
    )
    return result


def _failures(schema: pa.DataFrameSchema, frame: pl.DataFrame) -> pl.DataFrame:
    """Failure cases as (index, column, reason), one per failing row and column."""
    empty = pl.DataFrame(schema={"index": pl.Int64, "column": pl.String, "reason": pl.String})
    try:
        schema.validate(frame, lazy=True)
        return empty
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
    if cases.get_column("index").null_count():
        # A schema-level failure (not tied to a row) means ingest handed over a frame
        # of the wrong shape: a fault of the program, not of the export.
        raise RuntimeError(
            f"schema failure not tied to a row: {cases.filter(pl.col('index').is_null())}"
        )
    return cases.select(
        pl.col("index").cast(pl.Int64),
        pl.when(pl.col("schema_context") == "DataFrameSchema")
        .then(pl.col("check").replace_strict(frame_check_columns(schema), default=None))
        .otherwise(pl.col("column"))
        .alias("column"),
        pl.when(pl.col("check") == "not_nullable")
        .then(pl.lit(MISSING_REASON))
        .otherwise(pl.col("check"))
        .alias("reason"),
    ).unique(maintain_order=True)


def _reject_records(frame: pl.DataFrame, failures: pl.DataFrame) -> pl.DataFrame:
    if failures.is_empty():
        return pl.DataFrame(schema=REJECT_COLUMNS)
    values = (
        frame.with_row_index("index")
        .with_columns(pl.col("index").cast(pl.Int64))
        .join(failures.select("index").unique(), on="index")
        .unpivot(index=["index", SOURCE_FILE, ROW_NUMBER], variable_name="column")
    )
    return failures.join(values, on=["index", "column"], how="left").select(
        pl.col(SOURCE_FILE).alias("source_file"),
        pl.col(ROW_NUMBER).cast(pl.Int64).alias("row_number"),
        "column",
        _shown(pl.col("value")),
        "reason",
    )


def _set_aside_records(rows: pl.DataFrame) -> pl.DataFrame:
    """One record per row set aside while reading, as ingest described it."""
    return rows.select(
        pl.col(SOURCE_FILE).alias("source_file"),
        pl.col(ROW_NUMBER).cast(pl.Int64).alias("row_number"),
        pl.col(SET_ASIDE_COLUMN).alias("column"),
        _shown(pl.col(SET_ASIDE_VALUE)),
        pl.col(SET_ASIDE_REASON).alias("reason"),
    )


def _shown(value: pl.Expr) -> pl.Expr:
    """The value as rejects.csv shows it: whole, or its start and its length."""
    length = value.str.len_chars()
    cut = value.str.slice(0, SHOWN_VALUE_CHARS) + pl.format("... ({} characters)", length)
    return pl.when(length > SHOWN_VALUE_CHARS).then(cut).otherwise(value).alias("value")


def _typed_claims(frame: pl.DataFrame) -> pl.DataFrame:
    # "GP 59", "GP,59" and "GP\n59" all become ["GP", "59"]: split once into a hidden
    # column that the five columns made from it read (an eager select would split the
    # text once for each).
    split = pl.col("modifiers").str.replace_all(LIST_SEPARATOR, ",").str.split(",")
    frame = frame.with_columns(split.alias(MODIFIER_LIST))
    modifier_list = pl.col(MODIFIER_LIST)
    return frame.select(
        "claim_id",
        parse_int(pl.col("line_number")).cast(pl.Int32).alias("line_number"),
        pl.col("claim_frequency").fill_null("1"),
        "patient_id",
        "payer",
        "rendering_npi",
        pl.col(parsed("service_date")).alias("service_date"),
        "cpt_code",
        modifier_list.list.join(",").alias("modifiers"),
        *(
            modifier_list.list.get(i, null_on_oob=True).alias(c)
            for i, c in enumerate(MODIFIER_COLUMNS)
        ),
        parse_int(pl.col("units")).cast(pl.Int32).alias("units"),
        parse_decimal(pl.col("charge")).alias("charge"),
        pl.col("diagnosis_codes").str.replace_all(LIST_SEPARATOR, ","),
        "place_of_service",
        pl.col(ROW_NUMBER).cast(pl.Int64),
    )


def _typed_timelogs(frame: pl.DataFrame) -> pl.DataFrame:
    start = pl.col(parsed("start_time"))
    end = pl.col(parsed("end_time"))
    return frame.select(
        "patient_id",
        "provider_npi",
        "provider_role",
        pl.col(parsed("service_date")).alias("service_date"),
        "cpt_code",
        start.alias("start_time"),
        end.alias("end_time"),
        (end - start).dt.total_seconds().cast(pl.Int64).alias("duration_seconds"),
        "session_id",
        "note_type",
        pl.col(ROW_NUMBER).cast(pl.Int64),
    )
