"""Audit: run the enabled rules over the store and keep one findings table per run.

Rules see the whole store (history matters for visit counts and running totals); a
run keeps only the findings on its own claims and patient-days, so re-running the same
files reproduces the same findings with the same finding ids.
"""

from __future__ import annotations

import logging
import math
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipeline import progress, reference
from pipeline.catalog import RULES_DIR, SEVERITIES, Catalog, Rule, bind
from pipeline.config import Config
from pipeline.logs import fields
from pipeline.scope import Scope
from pipeline.store import first_row, transaction, utc_now
from pipeline.timing import StageTimer

log = logging.getLogger(__name__)

DERIVED_DIR = RULES_DIR / "derived"
# A large store's derived tables live in a scratch database file beside the store,
# deleted when the rules are done. As temporary tables they would be held in memory
# uncompressed (about 9 GB at 10M claim lines), spilled to disk past the memory limit
# and read back by every rule; in a database file they are compressed, and DuckDB can
# drop their blocks from memory without writing them.
WORK = "derived_work"
# The derived tables read across patients (every other one joins on the patient).
ACROSS_PATIENTS = ("logged_days",)
# The store's tables the per-patient derived tables read, shadowed one share at a time.
PATIENT_INPUTS = ("audited_claim_lines", "time_segments")
# What every rule's SQL returns (in any order); the optional ones are added if left out.
RULE_COLUMNS = (
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
OPTIONAL_RULE_COLUMNS = {
    # Tells apart two findings of one rule on the same line or patient-day.
    "finding_key": "VARCHAR DEFAULT NULL",
    # The share of the unsupported units' fee at risk (a missing CQ costs 15%, not 100%).
    "rate_fraction": "DOUBLE DEFAULT 1.0",
    # A rule with graded thresholds (12 visits medium, 18 high) sets each finding's
    # severity; a severity set in the configuration still wins.
    "severity": "VARCHAR DEFAULT NULL",
}

PRICING_PARAMS = ("assistant_rate_fraction", "assistant_rate_from")

# Findings of a rule, kept to the run's own claims and patient-days, with a stable id
# and a price: unsupported units x the code's fee for the service year x the rule's
# fraction, at the assistant rate where the line carries CQ or CO.
INSERT_FINDINGS = """
INSERT INTO findings
SELECT
    $run_id,
    substr(md5(concat_ws('|', $rule_id, coalesce(r.claim_id, ''),
        coalesce(CAST(r.line_number AS VARCHAR), ''), coalesce(r.patient_id, ''),
        coalesce(CAST(r.service_date AS VARCHAR), ''), coalesce(r.cpt_code, ''),
        coalesce(r.provider_npi, ''), coalesce(r.finding_key, ''))), 1, 16),
    $rule_id,
    coalesce($configured_severity, r.severity, $severity),
    r.patient_id, r.provider_npi, r.service_date, r.claim_id, r.line_number, r.cpt_code,
    r.units_billed, r.units_supported,
    CASE WHEN $priced THEN round(
        r.units_at_risk * fee.rate * r.rate_fraction
        * CASE
            WHEN r.service_date >= CAST($assistant_rate_from AS DATE)
                AND ('CQ' IN (l.modifier_1, l.modifier_2, l.modifier_3, l.modifier_4)
                    OR 'CO' IN (l.modifier_1, l.modifier_2, l.modifier_3, l.modifier_4))
            THEN $assistant_rate_fraction ELSE 1.0 END,
        2) END,
    r.message, r.payer, r.units_at_risk
FROM rule_rows AS r
LEFT JOIN fee_schedule AS fee ON fee.cpt_code = r.cpt_code AND fee.year = year(r.service_date)
LEFT JOIN audited_claim_lines AS l ON l.claim_id = r.claim_id AND l.line_number = r.line_number
LEFT JOIN payer_methods AS m ON m.payer = r.payer
WHERE (r.payer IS NULL OR $all_profiles OR list_contains($profiles, m.profile))
    AND CASE
        WHEN r.claim_id IS NOT NULL THEN EXISTS (
            SELECT 1 FROM run_scope_claims AS s
            WHERE s.run_id = $run_id AND s.claim_id = r.claim_id)
        ELSE EXISTS (
            SELECT 1 FROM run_scope_days AS s
            WHERE s.run_id = $run_id AND s.patient_id = r.patient_id
                AND s.service_date = r.service_date)
    END
"""


@dataclass(frozen=True)
class RuleResult:
    rule_id: str
    status: str  # findings | clean | not applicable | disabled
    findings: int
    amount_at_risk: float
    note: str | None = None


def flag(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    config: Config,
    catalog: Catalog,
    scope: Scope,
) -> list[RuleResult]:
    timer = StageTimer()
    progress.show("flag: preparing reference and derived tables")
    try:
        checksums = prepare(con, config, catalog, timer)
        results = _run_rules(con, run_id, catalog, timer, checksums, scope)
    finally:
        detach_work(con)
    return results


def _run_rules(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    catalog: Catalog,
    timer: StageTimer,
    checksums: dict[str, str],
    scope: Scope,
) -> list[RuleResult]:
    """Replace the run's findings with the rules' findings, in one transaction."""
    with transaction(con):
        con.execute("DELETE FROM findings WHERE run_id = $run_id", {"run_id": run_id})
        con.execute("DELETE FROM rule_results WHERE run_id = $run_id", {"run_id": run_id})
        con.execute("DELETE FROM run_reference WHERE run_id = $run_id", {"run_id": run_id})
        # In the same transaction as the findings, so they always match the run's scope.
        scope.write(con, run_id)
        results = []
        for number, rule in enumerate(catalog.rules, 1):
            progress.show(f"flag: rule {number} of {len(catalog.rules)}: {rule.id}")
            with timer.stage(f"flag: {rule.id}"):
                results.append(_run_rule(con, run_id, rule))
        timer.save(con, run_id)
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
        con.execute(
            "UPDATE runs SET flagged_at = $at WHERE run_id = $run_id",
            {"at": utc_now(), "run_id": run_id},
        )
    return results


def prepare(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    catalog: Catalog,
    timer: StageTimer | None = None,
) -> dict[str, str]:
    """Reference tables, then the tables several rules read (rules/derived/<name>.sql),
    each timed as a stage of its own when a timer is given.

    Returns the reference files' checksums, which the run records.
    """
    with _timed(timer, "flag: reference tables"):
        checksums = reference.install(con, config, catalog)
    # The shares are sized by the stored lines, a count DuckDB keeps, rather than by
    # working out the lines in force only to count them.
    (lines,) = first_row(con, "SELECT count(*) FROM claim_lines")
    partitions = max(1, math.ceil(lines / config.store["partition_rows"]))
    # A store built in one share keeps its derived tables in memory, which is quicker
    # (about 1.5 s of 6 at 1M lines); a larger one writes them to the scratch file.
    into, store_tables = (WORK, attach_work(con)) if partitions > 1 else ("temp", "main")
    derive(con, catalog, partitions, into=into, store_tables=store_tables, timer=timer)
    # Most rules and the pricing of every finding read the claim lines in force: they
    # are computed once for the rules here, shadowing the view on this connection.
    with _timed(timer, "flag: claim lines in force"):
        con.execute(
            f"CREATE {_table(into, 'audited_claim_lines')} AS "
            f"SELECT * FROM {store_tables}.audited_claim_lines"
        )
    return checksums


def _timed(timer: StageTimer | None, stage: str) -> AbstractContextManager[None]:
    return timer.stage(stage) if timer else nullcontext()


def attach_work(con: duckdb.DuckDBPyConnection) -> str:
    """Attach a new scratch database for the derived tables, searched before the store.

    Returns the store's qualified schema, by which its own tables stay reachable.
    """
    store_name, store_path = first_row(
        con,
        "SELECT database_name, path FROM duckdb_databases() "
        "WHERE database_name = current_database()",
    )
    # The store is always a file (store.connect), so the scratch file sits beside it.
    work = Path(f"{store_path}.work")
    _remove(work)  # a killed run's
    con.execute(f"ATTACH '{work}' AS {WORK}")
    store_tables = f'"{store_name}".main'
    con.execute(f"SET search_path = '{WORK}.main,{store_tables}'")
    return store_tables


def detach_work(con: duckdb.DuckDBPyConnection) -> None:
    attached = first_row(
        con, "SELECT path FROM duckdb_databases() WHERE database_name = $work", {"work": WORK}
    )
    if attached is None:
        return
    con.execute("RESET search_path")
    con.execute(f"DETACH {WORK}")
    _remove(Path(attached[0]))


def _remove(work: Path) -> None:
    for path in (work, work.with_name(f"{work.name}.wal")):
        path.unlink(missing_ok=True)


def derive(
    con: duckdb.DuckDBPyConnection,
    catalog: Catalog,
    partitions: int = 1,
    into: str = "temp",
    store_tables: str = "main",
    timer: StageTimer | None = None,
) -> None:
    """Build the derived tables over the claim lines and segments this connection sees,
    as tables of the database `into`.

    Every derived table but those in ACROSS_PATIENTS joins on the patient, so a large
    store builds them a share of its patients at a time (`partitions` shares, by a hash
    of the patient id): each share's joins and windows fit in memory where the whole
    store's would spill. Each share's tables are written once to `into` (`name_0`,
    `name_1`, ...), and a view of each plain name puts the shares together.

    The report rebuilds them over a few patients' temporary copies of those tables, to
    show a finding's evidence as the rules computed it.
    """
    paths = sorted(DERIVED_DIR.glob("*.sql"))
    across = [p for p in paths if _table_name(p) in ACROSS_PATIENTS]
    per_patient = [p for p in paths if p not in across]
    for path in across:
        _build(con, path, catalog, into, timer)
    if partitions == 1:
        for path in per_patient:
            _build(con, path, catalog, into, timer)
        return
    for share in range(partitions):
        progress.show(f"flag: derived tables, share {share + 1} of {partitions}")
        # A share's inputs shadow the store's tables on this connection while it builds.
        # The last share's are dropped first: DuckDB 2.0.0 reads the store's view wrong
        # while a temporary table of the same name exists, even when asked for main's.
        with _timed(timer, "flag: share inputs"):
            for table in PATIENT_INPUTS:
                con.execute(f"DROP TABLE IF EXISTS temp.{table}")
                con.execute(
                    f"CREATE TEMP TABLE {table} AS SELECT * FROM {store_tables}.{table} "
                    f"WHERE hash(patient_id) % {partitions} = {share}"
                )
        # Each table is written once, as the share's own table; a temporary view of the
        # plain name lets the share's later tables read it.
        for path in per_patient:
            name = _build(con, path, catalog, into, timer, suffix=f"_{share}")
            con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS FROM {into}.{name}_{share}")
    for table in PATIENT_INPUTS:
        con.execute(f"DROP TABLE temp.{table}")
    for path in per_patient:
        name = _table_name(path)
        con.execute(f"DROP VIEW temp.{name}")
        shares = " UNION ALL ".join(f"SELECT * FROM {into}.{name}_{k}" for k in range(partitions))
        con.execute(f"CREATE OR REPLACE VIEW {into}.{name} AS {shares}")


def _build(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    catalog: Catalog,
    into: str,
    timer: StageTimer | None,
    suffix: str = "",
) -> str:
    """Build one derived table, timed as `flag: derived <name>` (summed over shares)."""
    name, sql = _table_name(path), path.read_text()
    with _timed(timer, f"flag: derived {name}"):
        con.execute(
            f"CREATE OR REPLACE {_table(into, name + suffix)} AS {sql}",
            bind(sql, catalog.params, f"rules/derived/{path.name}"),
        )
    return name


def _table(into: str, name: str) -> str:
    # DuckDB names temporary tables only by CREATE TEMP TABLE, never as temp.<name>.
    return f"TEMP TABLE {name}" if into == "temp" else f"TABLE {into}.{name}"


def _table_name(path: Path) -> str:
    """`10_timed_segments.sql` builds `timed_segments`; the number orders the builds."""
    return path.stem.split("_", 1)[1] if path.stem[0].isdigit() else path.stem


def _run_rule(con: duckdb.DuckDBPyConnection, run_id: str, rule: Rule) -> RuleResult:
    if not rule.enabled:
        return RuleResult(rule.id, "disabled", 0, 0.0, "switched off in configuration")
    empty = [t for t in rule.requires if not first_row(con, f"SELECT 1 FROM {t} LIMIT 1")]
    if empty:
        note = f"no data in {', '.join(empty)}"
        return RuleResult(rule.id, "not applicable", 0, 0.0, note)

    params = bind(rule.sql, rule.params, f"rules/{rule.id}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE rule_rows AS {rule.sql}", params)
    _complete_rule_rows(con, rule)
    con.execute(
        INSERT_FINDINGS,
        {
            "run_id": run_id,
            "rule_id": rule.id,
            "severity": rule.severity,
            "configured_severity": rule.severity if rule.severity_configured else None,
            "priced": rule.money != "none",
            "all_profiles": "*" in rule.payer_profiles,
            "profiles": list(rule.payer_profiles),
            **{name: rule.params[name] for name in PRICING_PARAMS},
        },
    )
    count, amount = _totals(con, run_id, rule.id)
    log.info("rule %s: %d findings", rule.id, count, extra=fields(rule=rule.id, findings=count))
    return RuleResult(
        rule.id, "findings" if count else "clean", count, amount, _unjudged(con, run_id, rule)
    )


def _unjudged(con: duckdb.DuckDBPyConnection, run_id: str, rule: Rule) -> str | None:
    if rule.unjudged is None:
        return None
    (lines,) = first_row(
        con,
        f"SELECT count(*) FROM {rule.unjudged} AS u WHERE EXISTS ("
        "SELECT 1 FROM run_scope_claims AS s WHERE s.run_id = $run_id AND s.claim_id = u.claim_id)",
        {"run_id": run_id},
    )
    return (
        f"{lines} claim lines on days the time logs do not cover were not judged" if lines else None
    )


def _complete_rule_rows(con: duckdb.DuckDBPyConnection, rule: Rule) -> None:
    """Check the rule's columns and add the optional ones it left out."""
    returned = {row[0] for row in con.execute("DESCRIBE rule_rows").fetchall()}
    missing = [c for c in RULE_COLUMNS if c not in returned]
    extra = returned - set(RULE_COLUMNS) - set(OPTIONAL_RULE_COLUMNS)
    if missing or extra:
        raise RuntimeError(
            f"rule {rule.id}: its SQL lacks {missing or 'nothing'} "
            f"and adds {sorted(extra) or 'nothing'}"
        )
    for column, default in OPTIONAL_RULE_COLUMNS.items():
        if column not in returned:
            con.execute(f"ALTER TABLE rule_rows ADD COLUMN {column} {default}")
    graded = con.execute(
        "SELECT DISTINCT severity FROM rule_rows WHERE severity IS NOT NULL"
    ).fetchall()
    unknown = sorted({row[0] for row in graded} - set(SEVERITIES))
    if unknown:
        raise RuntimeError(f"rule {rule.id}: its SQL grades findings {unknown}, not {SEVERITIES}")


def _totals(con: duckdb.DuckDBPyConnection, run_id: str, rule_id: str) -> tuple[int, float]:
    row = first_row(
        con,
        "SELECT count(*), coalesce(sum(amount_at_risk), 0) FROM findings "
        "WHERE run_id = $run_id AND rule_id = $rule_id",
        {"run_id": run_id, "rule_id": rule_id},
    )
    return int(row[0]), float(row[1])
