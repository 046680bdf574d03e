"""Reference tables the rules join against: code lists, payer methods, fee schedule."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import duckdb
import polars as pl

from pipeline.catalog import RULES_DIR
from pipeline.config import Config

REFERENCE_DIR = RULES_DIR / "reference"
RVU_FILE = "pfs_rvu_therapy_2019_2025.csv"
CF_FILE = "conversion_factors.csv"
CPT_FILE = "cpt_codes.csv"


def install(con: duckdb.DuckDBPyConnection, config: Config) -> dict[str, str]:
    """Create the reference tables for this session; return each source file's checksum."""
    cpt = pl.read_csv(REFERENCE_DIR / CPT_FILE, schema_overrides={"cpt_code": pl.String})
    _replace(con, "ref_cpt_codes", cpt)
    _replace(con, "fee_schedule", fee_schedule(REFERENCE_DIR / RVU_FILE, REFERENCE_DIR / CF_FILE))
    _replace(con, "payer_methods", payer_methods(con, config))
    return {
        name: hashlib.sha256((REFERENCE_DIR / name).read_bytes()).hexdigest()[:16]
        for name in (CPT_FILE, RVU_FILE, CF_FILE)
    }


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


def payer_methods(con: duckdb.DuckDBPyConnection, config: Config) -> pl.DataFrame:
    """Each payer in the store mapped to its profile and unit method (first match wins)."""
    payers = [row[0] for row in con.execute("SELECT DISTINCT payer FROM claim_lines").fetchall()]
    rows = []
    for payer in payers:
        profile = config.profile_for(payer)
        if profile is not None:
            rows.append((payer, profile.name, profile.unit_method))
    return pl.DataFrame(
        rows,
        schema={"payer": pl.String, "profile": pl.String, "unit_method": pl.String},
        orient="row",
    )


def _replace(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    con.register("reference_frame", frame)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT * FROM reference_frame")
    con.unregister("reference_frame")
