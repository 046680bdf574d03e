"""Reference tables the rules join against: code lists, payer methods, fee schedule."""

from __future__ import annotations

import hashlib
import logging
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from pipeline import edits
from pipeline.catalog import RULES_DIR, Catalog
from pipeline.config import Config
from pipeline.logs import fields

log = logging.getLogger(__name__)

REFERENCE_DIR = RULES_DIR / "reference"
RVU_FILE = "pfs_rvu_therapy_2019_2025.csv"
CF_FILE = "conversion_factors.csv"
CPT_FILE = "cpt_codes.csv"
PTP_FILE = "ncci_ptp_therapy.csv"
MUE_FILE = "mue_therapy.csv"


def install(con: duckdb.DuckDBPyConnection, config: Config, catalog: Catalog) -> dict[str, str]:
    """Create the reference tables for this session; return each source file's checksum."""
    _replace(con, "ref_cpt_codes", cpt_codes())
    _replace(con, "fee_schedule", fee_schedule(REFERENCE_DIR / RVU_FILE, REFERENCE_DIR / CF_FILE))
    _replace(con, "payer_methods", payer_methods(con, config, catalog.profile_params))
    # CMS's own edit files, when configured, replace the bundled therapy edits whole.
    sources = {name: REFERENCE_DIR / name for name in (CPT_FILE, RVU_FILE, CF_FILE)}
    if "ncci_ptp" in config.reference:
        ptp = edits.read_ptp_files(config.reference["ncci_ptp"])
        sources |= {str(path): path for path in config.reference["ncci_ptp"]}
    else:
        ptp = edits.bundled_ptp(REFERENCE_DIR / PTP_FILE)
        sources[PTP_FILE] = REFERENCE_DIR / PTP_FILE
    if "mue" in config.reference:
        mue = edits.read_mue_file(config.reference["mue"])
        sources[str(config.reference["mue"])] = config.reference["mue"]
    else:
        mue = edits.bundled_mue(REFERENCE_DIR / MUE_FILE)
        sources[MUE_FILE] = REFERENCE_DIR / MUE_FILE
    _replace(con, "ref_ncci_ptp", ptp)
    _replace(con, "ref_mue", mue)
    return {
        name: hashlib.sha256(path.read_bytes()).hexdigest()[:16] for name, path in sources.items()
    }


def cpt_codes() -> pl.DataFrame:
    """The bundled code list (rules/reference/cpt_codes.csv), codes kept as text."""
    return pl.read_csv(REFERENCE_DIR / CPT_FILE, schema_overrides={"cpt_code": pl.String})


def fee_schedule(rvu_path: Path, cf_path: Path, last_year: int | None = None) -> pl.DataFrame:
    """Medicare national non-facility amount per code and calendar year.

    amount = (work RVU + non-facility PE RVU + malpractice RVU) x conversion factor,
    without geographic adjustment. A year with no RVU file uses the latest earlier
    RVUs, and likewise for conversion factors, so recent claims are still priced; the
    columns rvu_year and cf_year say which were used.
    """
    rvus = pl.read_csv(rvu_path, schema_overrides={"hcpcs": pl.String}).select(
        pl.col("year").alias("rvu_year"),
        pl.col("hcpcs").alias("cpt_code"),
        (pl.col("work_rvu") + pl.col("pe_rvu_nonfac") + pl.col("mp_rvu")).alias("total_rvu"),
    )
    factors = pl.read_csv(cf_path).select(
        pl.col("year").alias("cf_year"), pl.col("conversion_factor_usd")
    )
    first = min(rvus["rvu_year"].min(), factors["cf_year"].min())
    last = last_year or max(date.today().year, factors["cf_year"].max()) + 1
    rvu_years = rvus.select("rvu_year").unique().sort("rvu_year")
    return (
        pl.DataFrame({"year": range(first, last + 1)})
        .join_asof(factors.sort("cf_year"), left_on="year", right_on="cf_year", strategy="backward")
        .join_asof(rvu_years, left_on="year", right_on="rvu_year", strategy="backward")
        .drop_nulls(["cf_year", "rvu_year"])
        .join(rvus, on="rvu_year")
        .select(
            "year",
            "cpt_code",
            (pl.col("total_rvu") * pl.col("conversion_factor_usd")).round(2).alias("rate"),
            "rvu_year",
            "cf_year",
        )
    )


def payer_methods(
    con: duckdb.DuckDBPyConnection, config: Config, defaults: dict[str, Any]
) -> pl.DataFrame:
    """Each payer in the store with its profile (first match wins), unit method and
    profile parameters. A payer no profile matches is left out, and so not judged by
    the rules that need a method."""
    payers = [row[0] for row in con.execute("SELECT DISTINCT payer FROM claim_lines").fetchall()]
    rows = []
    for payer in payers:
        profile = config.profile_for(payer)
        if profile is not None:
            params = {**defaults, **profile.params}
            rows.append(
                {
                    "payer": payer,
                    "profile": profile.name,
                    "unit_method": profile.unit_method,
                    **params,
                }
            )
    unmatched = len(payers) - len(rows)
    if unmatched:
        log.warning(
            "%d payers match no payer profile; their lines are not audited",
            unmatched,
            extra=fields(payers_unmatched=unmatched),
        )
    schema = {"payer": pl.String, "profile": pl.String, "unit_method": pl.String}
    return (
        pl.DataFrame(rows, schema_overrides=schema)
        if rows
        else pl.DataFrame(schema=schema | {name: _dtype(value) for name, value in defaults.items()})
    )


def _dtype(value: Any) -> pl.DataType:
    return (
        pl.Int64
        if isinstance(value, int)
        else pl.Float64
        if isinstance(value, float)
        else pl.String
    )


def _replace(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    con.register("reference_frame", frame)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT * FROM reference_frame")
    con.unregister("reference_frame")
