"""Audit: run the enabled rules over the store and keep one findings table per run.

Rules see the whole store (history matters for visit counts and running totals); a
run keeps only the findings on its own claims and patient-days, so re-running the same
files reproduces the same findings with the same finding ids.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import duckdb

from pipeline import reference
from pipeline.catalog import RULES_DIR, Catalog, Rule, bind
from pipeline.config import Config
from pipeline.store import first_row

log = logging.getLogger(__name__)

DERIVED_DIR = RULES_DIR / "derived"
FINDING_COLUMNS = (
    "patient_id",
    "provider_npi",
    "service_date",
    "claim_id",
    "line_number",
    "cpt_code",
    "payer",
    "units_billed",
    "units_supported",
    "units_at_risk",
    "message",
)


@dataclass(frozen=True)
class RuleResult:
    rule_id: str
    status: str  # findings | clean | not applicable | disabled
    findings: int
    amount_at_risk: float
    note: str | None = None


def flag(
    con: duckdb.DuckDBPyConnection, run_id: str, config: Config, catalog: Catalog
) -> list[RuleResult]:
    checksums = prepare(con, config, catalog)
    con.execute("BEGIN TRANSACTION")
    con.execute("DELETE FROM findings WHERE run_id = $run_id", {"run_id": run_id})
    con.execute("DELETE FROM rule_results WHERE run_id = $run_id", {"run_id": run_id})
    con.execute("DELETE FROM run_reference WHERE run_id = $run_id", {"run_id": run_id})
    results = [_run_rule(con, run_id, rule) for rule in catalog.rules]
    con.executemany(
        "INSERT INTO rule_results VALUES (?, ?, ?, ?, ?, ?)",
        [(run_id, r.rule_id, r.status, r.findings, r.amount_at_risk, r.note) for r in results],
    )
    con.executemany(
        "INSERT INTO run_reference VALUES (?, ?, ?)",
        [
            (run_id, name, checksum)
            for name, checksum in {**checksums, "rules": catalog.checksum}.items()
        ],
    )
    con.execute("UPDATE runs SET flagged_at = now() WHERE run_id = $run_id", {"run_id": run_id})
    con.execute("COMMIT")
    return results


def prepare(con: duckdb.DuckDBPyConnection, config: Config, catalog: Catalog) -> dict[str, str]:
    """Reference tables, then the tables several rules read (rules/derived/<name>.sql).

    Returns the reference files' checksums, which the run records.
    """
    checksums = reference.install(con, config)
    for path in sorted(DERIVED_DIR.glob("*.sql")):
        sql = path.read_text()
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {path.stem} AS {sql}",
            bind(sql, catalog.params, f"rules/derived/{path.name}"),
        )
    return checksums


def _run_rule(con: duckdb.DuckDBPyConnection, run_id: str, rule: Rule) -> RuleResult:
    if not rule.enabled:
        return RuleResult(rule.id, "disabled", 0, 0.0, "switched off in configuration")
    empty = [t for t in rule.requires if not first_row(con, f"SELECT 1 FROM {t} LIMIT 1")]
    if empty:
        note = f"no data in {', '.join(empty)}"
        return RuleResult(rule.id, "not applicable", 0, 0.0, note)

    params = bind(rule.sql, rule.params, f"rules/{rule.id}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE rule_rows AS {rule.sql}", params)
    returned = [row[0] for row in con.execute("DESCRIBE rule_rows").fetchall()]
    if tuple(returned) != FINDING_COLUMNS:
        raise RuntimeError(f"rule {rule.id} returns {returned}, expected {list(FINDING_COLUMNS)}")

    con.execute(
        """
        INSERT INTO findings
        SELECT
            $run_id,
            substr(md5(concat_ws('|', $rule_id, coalesce(r.claim_id, ''),
                coalesce(CAST(r.line_number AS VARCHAR), ''), coalesce(r.patient_id, ''),
                coalesce(CAST(r.service_date AS VARCHAR), ''), coalesce(r.cpt_code, ''),
                coalesce(r.provider_npi, ''))), 1, 16),
            $rule_id,
            $severity,
            r.patient_id, r.provider_npi, r.service_date, r.claim_id, r.line_number, r.cpt_code,
            r.units_billed, r.units_supported,
            round(r.units_at_risk * fee.rate, 2),
            r.message, r.payer, r.units_at_risk
        FROM rule_rows AS r
        LEFT JOIN fee_schedule AS fee
            ON fee.cpt_code = r.cpt_code AND fee.year = year(r.service_date)
        WHERE CASE
            WHEN r.claim_id IS NOT NULL THEN EXISTS (
                SELECT 1 FROM run_scope_claims AS s
                WHERE s.run_id = $run_id AND s.claim_id = r.claim_id)
            ELSE EXISTS (
                SELECT 1 FROM run_scope_days AS s
                WHERE s.run_id = $run_id AND s.patient_id = r.patient_id
                    AND s.service_date = r.service_date)
        END
        """,
        {"run_id": run_id, "rule_id": rule.id, "severity": rule.severity},
    )
    count, amount = _totals(con, run_id, rule.id)
    log.info("rule %s: %d findings", rule.id, count)
    return RuleResult(rule.id, "findings" if count else "clean", count, amount)


def _totals(con: duckdb.DuckDBPyConnection, run_id: str, rule_id: str) -> tuple[int, float]:
    row = first_row(
        con,
        "SELECT count(*), coalesce(sum(amount_at_risk), 0) FROM findings "
        "WHERE run_id = $run_id AND rule_id = $rule_id",
        {"run_id": run_id, "rule_id": rule_id},
    )
    return int(row[0]), float(row[1])
