"""The report's figures over every finding of the run (not only the embedded ones):
counts by severity and week, dollars by rule and payer, units per provider; and the
run's claim lines in figures (their period, and the units each provider billed)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb
import polars as pl

from pipeline.catalog import SEVERITIES, Catalog
from pipeline.reference import cpt_codes
from pipeline.store import frame

# The unit rules between them speak for every unsupported timed unit, each unit once
# (README, "The unit methods"); the underbilling rule counts the units the minutes
# support beyond those billed. Billed units less the first plus the second are the
# units the minutes support.
UNSUPPORTED_UNIT_RULES = ("UNITS_OVERBILLED", "UNITS_UNDER_8_MIN", "TIME_LOG_MISSING")
MISSED_UNIT_RULE = "UNITS_UNDERBILLED"

# The run's own claim lines ($lines_run, as claim_lines_in_force takes it:
# Scope.lines_run) in one pass: the period they cover, then the timed units billed per
# rendering provider. The lines are read once (a materialized CTE of the few columns
# both need): 0.45 s to 0.24 s on a night of a 10M-line store, 1.35 s to 1.0 s on a
# first load of 10M.
RUN_LINES = """
WITH lines AS MATERIALIZED (
    SELECT
        l.service_date,
        l.claim_id,
        l.rendering_npi,
        l.units,
        t.cpt_code IS NOT NULL AS timed
    FROM claim_lines_in_force($lines_run) AS l
    LEFT JOIN timed_codes AS t USING (cpt_code)
)
SELECT
    'period' AS part,
    CAST(NULL AS VARCHAR) AS provider_npi,
    min(service_date) AS first_service_date,
    max(service_date) AS last_service_date,
    count(DISTINCT claim_id) AS claims,
    count(*) AS claim_lines,
    CAST(NULL AS BIGINT) AS units_billed
FROM lines
UNION ALL
SELECT 'provider', rendering_npi, NULL, NULL, NULL, NULL, CAST(sum(units) AS BIGINT)
FROM lines
WHERE timed
GROUP BY rendering_npi
"""


@dataclass(frozen=True)
class RunLines:
    """The run's claim lines in force in figures: the days they cover and how many
    there are (summary.json's `audited`), and the timed units billed per provider."""

    first_service_date: date | None
    last_service_date: date | None
    claims: int
    claim_lines: int
    billed: pl.DataFrame  # provider_npi, units_billed


def run_lines(con: duckdb.DuckDBPyConnection, lines_run: str | None) -> RunLines:
    timed = cpt_codes().filter(pl.col("billing") == "timed")
    con.register("timed_codes", timed.select("cpt_code"))
    try:
        rows = frame(con, RUN_LINES, {"lines_run": lines_run})
    finally:
        con.unregister("timed_codes")
    (period,) = rows.filter(pl.col("part") == "period").iter_rows(named=True)
    return RunLines(
        first_service_date=period["first_service_date"],
        last_service_date=period["last_service_date"],
        claims=period["claims"],
        claim_lines=period["claim_lines"],
        billed=rows.filter(pl.col("part") == "provider").select("provider_npi", "units_billed"),
    )


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


def provider_units(billed: pl.DataFrame, findings: pl.DataFrame) -> pl.DataFrame:
    """Per rendering provider: timed units billed (`RunLines.billed`), unsupported,
    missed, supported, and the share of billed units flagged, most flagged first."""
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
