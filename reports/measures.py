"""The report's figures over every finding of the run (not only the embedded ones):
counts by severity and week, dollars by rule and payer, units per provider."""

from __future__ import annotations

import duckdb
import polars as pl

from pipeline.catalog import SEVERITIES, Catalog
from pipeline.reference import CPT_FILE, REFERENCE_DIR
from pipeline.store import frame

# The unit rules between them speak for every unsupported timed unit, each unit once
# (README, "The unit methods"); the underbilling rule counts the units the minutes
# support beyond those billed. Billed units less the first plus the second are the
# units the minutes support.
UNSUPPORTED_UNIT_RULES = ("UNITS_OVERBILLED", "UNITS_UNDER_8_MIN", "TIME_LOG_MISSING")
MISSED_UNIT_RULE = "UNITS_UNDERBILLED"

# Timed units billed per rendering provider on the run's own claims ($lines_run, as
# claim_lines_in_force takes it: Scope.lines_run).
BILLED_UNITS = """
SELECT l.rendering_npi AS provider_npi, CAST(sum(l.units) AS BIGINT) AS units_billed
FROM claim_lines_in_force($lines_run) AS l
JOIN timed_codes USING (cpt_code)
GROUP BY l.rendering_npi
"""


def by_severity(findings: pl.DataFrame) -> dict[str, int]:
    counts = dict(findings.group_by("severity").len().iter_rows())
    return {severity: counts.get(severity, 0) for severity in SEVERITIES}


def at_risk_by_payer(findings: pl.DataFrame, catalog: Catalog) -> pl.DataFrame:
    """Dollars at risk per payer; revenue missed is not money at risk and stays out."""
    at_risk = [rule.id for rule in catalog.rules if rule.money == "at_risk"]
    return (
        findings.filter(pl.col("rule_id").is_in(at_risk) & pl.col("amount_at_risk").is_not_null())
        .group_by(pl.col("payer").fill_null("(no payer)"))
        .agg(pl.len().alias("findings"), pl.col("amount_at_risk").sum().cast(pl.Float64))
        .sort(["amount_at_risk", "payer"], descending=[True, False])
    )


def by_week(findings: pl.DataFrame) -> pl.DataFrame:
    """Findings per week of service (weeks start on Monday), one column per severity,
    every week from the first to the last, so quiet weeks show as gaps."""
    dated = findings.filter(pl.col("service_date").is_not_null())
    if dated.is_empty():
        return pl.DataFrame(schema={"week": pl.Date, **dict.fromkeys(SEVERITIES, pl.UInt32)})
    weekly = dated.with_columns(pl.col("service_date").dt.truncate("1w").alias("week"))
    counts = weekly.pivot(
        on="severity", index="week", values="finding_id", aggregate_function="len"
    )
    weeks = pl.DataFrame(
        {"week": pl.date_range(weekly["week"].min(), weekly["week"].max(), "1w", eager=True)}
    )
    return weeks.join(counts, on="week", how="left").select(
        "week",
        *[
            pl.col(s).fill_null(0) if s in counts.columns else pl.lit(0).alias(s)
            for s in SEVERITIES
        ],
    )


def provider_units(
    con: duckdb.DuckDBPyConnection, lines_run: str | None, findings: pl.DataFrame
) -> pl.DataFrame:
    """Per rendering provider: timed units billed, unsupported, missed, supported, and
    the share of billed units flagged, most flagged first."""
    timed = pl.read_csv(REFERENCE_DIR / CPT_FILE, schema_overrides={"cpt_code": pl.String}).filter(
        pl.col("billing") == "timed"
    )
    con.register("timed_codes", timed.select("cpt_code"))
    try:
        billed = frame(con, BILLED_UNITS, {"lines_run": lines_run})
    finally:
        con.unregister("timed_codes")
    flagged = findings.group_by("provider_npi").agg(
        _units_of(UNSUPPORTED_UNIT_RULES).alias("units_unsupported"),
        _units_of((MISSED_UNIT_RULE,)).alias("units_missed"),
    )
    return (
        billed.join(flagged, on="provider_npi", how="left")
        .with_columns(pl.col("units_unsupported", "units_missed").fill_null(0))
        .with_columns(
            (pl.col("units_billed") - pl.col("units_unsupported") + pl.col("units_missed")).alias(
                "units_supported"
            ),
            (pl.col("units_unsupported") / pl.col("units_billed")).alias("flagged_share"),
        )
        .sort(["flagged_share", "provider_npi"], descending=[True, False])
    )


def _units_of(rule_ids: tuple[str, ...]) -> pl.Expr:
    return (
        pl.col("units_at_risk")
        .filter(pl.col("rule_id").is_in(rule_ids))
        .sum()
        .fill_null(0)
        .cast(pl.Int64)
    )
