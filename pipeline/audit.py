"""Audit: run the enabled rules over the store and keep one findings table per run.

Rules see the whole store (history matters for visit counts and running totals); a
run keeps only the findings on its own claims and patient-days, so re-running the same
files reproduces the same findings with the same finding ids. Since a rule that looks at
one patient at a time can find nothing in scope for a patient outside it, those rules
run only for the scope's patients, with all of their history: a night's run audits the
night's patients, not the months the store holds.
"""

from __future__ import annotations

import logging
import math
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipeline import progress, reference, shares
from pipeline.catalog import RULES_DIR, SEVERITIES, Catalog, Rule, bind
from pipeline.config import Config
from pipeline.logs import fields
from pipeline.scope import Patients, Scope
from pipeline.store import first_row, transaction, utc_now
from pipeline.timing import StageTimer

log = logging.getLogger(__name__)

DERIVED_DIR = RULES_DIR / "derived"
# A large store is audited a share of its patients at a time (a range of patient ids,
# pipeline/shares.py): each share's derived tables and rules then fit in memory, where
# the whole store's would spill (or, written to a file, be read back compressed). The
# rules that compare patients with one another (`across_patients` in the catalog) run
# once, after the shares, on the store's own tables.
#
# The derived tables that read across patients (every other one joins on the patient):
# built once, before the shares.
ACROSS_PATIENTS = ("logged_days",)
# The rules' priced findings wait here, share by share, until they are kept (in scope)
# in the run's one transaction; so do the claim lines the rules could not judge.
PENDING = "pending_findings"
PENDING_UNJUDGED = "pending_unjudged"
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

# A rule's rows as findings, with a stable id and a price: unsupported units x the
# code's fee for the service year x the rule's fraction, at the assistant rate where the
# line carries CQ or CO. Only payers of the profiles the rule applies to.
PRICE_FINDINGS = f"""
INSERT INTO {PENDING}
SELECT
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
WHERE r.payer IS NULL OR $all_profiles OR list_contains($profiles, m.profile)
"""

# The run keeps the findings of the rules that apply on its own claims and (findings
# without a claim) patient-days. Semi-joins, which DuckDB plans as lookups into the
# findings: the EXISTS of a CASE hashed the whole scope (a first load of 10M lines,
# 4.3M patient-days) whether or not any finding lacked a claim.
KEEP_FINDINGS = f"""
INSERT INTO findings
SELECT $run_id, p.*
FROM {PENDING} AS p
SEMI JOIN run_scope_claims AS s ON s.run_id = $run_id AND s.claim_id = p.claim_id
WHERE list_contains($applicable, p.rule_id)
UNION ALL
SELECT $run_id, p.*
FROM {PENDING} AS p
SEMI JOIN run_scope_days AS s
    ON s.run_id = $run_id AND s.patient_id = p.patient_id AND s.service_date = p.service_date
WHERE list_contains($applicable, p.rule_id) AND p.claim_id IS NULL
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
    progress.show("flag: reference tables")
    with timer.stage("flag: reference tables"):
        checksums = reference.install(con, config, catalog)
    filled = _find(con, config, catalog, timer, scope.patients(con, run_id))
    return _keep(con, run_id, catalog, timer, checksums, scope, filled)


def _find(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    catalog: Catalog,
    timer: StageTimer,
    patients: Patients | None,
) -> set[str]:
    """Run the enabled rules into PENDING, share by share for a large store; those that
    look at one patient at a time only for `patients` (None: every patient).

    Returns the tables among the rules' `requires` that hold rows (in some share).
    """
    _create_pending(con)
    derive(con, catalog, timer, per_patient=False)
    # A rule that requires an empty table of the store (or of reference data) is not
    # applicable and is not run; a derived table is known only once built, share by share.
    rules = [rule for rule in catalog.rules if rule.enabled]
    derived = {_table_name(path) for path in _derived()}
    required = {table for rule in rules for table in rule.requires}
    filled = _holding_rows(con, required - derived)
    rules = [rule for rule in rules if set(rule.requires) - derived <= filled]
    built = required & derived
    with timer.stage("flag: patients in scope"):
        some = shares.audit_some_patients(con, patients)
    # The shares are sized by the stored lines rather than by working out the lines in
    # force only to count them.
    (lines,) = first_row(con, f"SELECT count(*) FROM claim_lines WHERE {shares.audited(some)}")
    share_count = max(1, math.ceil(lines / config.store["partition_rows"]))
    # Auditing some patients goes share by share even in one share: the rules across
    # patients must not see only those patients' rows.
    if share_count == 1 and not some:
        # Most rules and the pricing of every finding read the claim lines in force:
        # worked out once, shadowing the view on this connection.
        with timer.stage("flag: claim lines in force"):
            con.execute("CREATE TEMP TABLE audited_claim_lines AS FROM main.audited_claim_lines")
        derive(con, catalog, timer, across_patients=False)
        _run_rules(con, rules, timer)
        return filled | _holding_rows(con, built)
    with timer.stage("flag: share inputs"):
        patients_of = shares.AUDITED_PATIENTS if some else shares.STORED_PATIENTS
        ranges = shares.patient_ranges(con, share_count, patients_of)
    for share, (low, high) in enumerate(ranges):
        label = f"share {share + 1} of {share_count} of the patients"
        progress.show(f"flag: {label}: derived tables")
        if share:
            # The last share's tables go before this share's are built, not as each is
            # replaced: the flag stage's peak at 10M lines was 2.9 GiB, now 2.6.
            _drop_share_tables(con)
        with timer.stage("flag: share inputs"):
            shares.shadow_inputs(con, low, high, some)
        derive(con, catalog, timer, across_patients=False)
        _run_rules(con, [r for r in rules if not r.across_patients], timer, f"{label}: ")
        filled |= _holding_rows(con, built)
    _drop_share_tables(con)
    if some:
        filled |= _derived_in_store(con, catalog, built - filled)
    across = [r for r in rules if r.across_patients]
    scope_days = patients.days if patients and some and across else None
    if scope_days:
        with timer.stage("flag: share inputs"):
            shares.shadow_provider_days(con, scope_days)
    _run_rules(con, across, timer, "across patients: ")
    if scope_days:
        shares.drop_shadows(con)
    return filled


def _derived_in_store(
    con: duckdb.DuckDBPyConnection, catalog: Catalog, tables: set[str]
) -> set[str]:
    """The derived tables among `tables` that hold rows for some patient of the store.

    A run that audits some patients only asks the store when a table a rule requires
    was empty for them: whether the rule applies is the store's property (no progress
    report marked in any time log), not the night's. Such a table is built from the
    store's tables alone."""
    held = set()
    for path in _derived(across_patients=False):
        name = _table_name(path)
        if name not in tables:
            continue
        sql = path.read_text()
        probe = f"SELECT 1 FROM (\n{sql}\n) LIMIT 1"
        if first_row(con, probe, bind(sql, catalog.params, str(path))):
            held.add(name)
    return held


def _create_pending(con: duckdb.DuckDBPyConnection) -> None:
    # Declared column by column (not `AS ... LIMIT 0`, under which DuckDB 2.0.0 has lost
    # rows inserted later): the findings table's columns but the run id.
    columns = con.execute("DESCRIBE findings").fetchall()
    declared = ", ".join(f'"{name}" {dtype}' for name, dtype, *_ in columns if name != "run_id")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {PENDING} ({declared})")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {PENDING_UNJUDGED} "
        "(source VARCHAR, claim_id VARCHAR, lines BIGINT)"
    )


def _drop_share_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the last share's tables: before the next share's, and before the rules across
    patients, which read the store's."""
    shares.drop_shadows(con)
    for table in (_table_name(p) for p in _derived(across_patients=False)):
        con.execute(f"DROP TABLE temp.{table}")


def _run_rules(
    con: duckdb.DuckDBPyConnection, rules: list[Rule], timer: StageTimer, shown: str = ""
) -> None:
    """Price each rule's rows into PENDING; note the lines it could not judge. `shown`
    tells the progress line which patients the rules are on."""
    for number, rule in enumerate(rules, 1):
        progress.show(f"flag: {shown}rule {number} of {len(rules)}: {rule.id}")
        with timer.stage(f"flag: {rule.id}"):
            _price_rule(con, rule)
    # Counted per claim, since the run's scope (claims) is known only when they are kept.
    for table in sorted({rule.unjudged for rule in rules if rule.unjudged}):
        con.execute(
            f"INSERT INTO {PENDING_UNJUDGED} "
            f"SELECT $table, claim_id, count(*) FROM {table} GROUP BY claim_id",
            {"table": table},
        )


def _holding_rows(con: duckdb.DuckDBPyConnection, tables: set[str]) -> set[str]:
    return {table for table in tables if first_row(con, f"SELECT 1 FROM {table} LIMIT 1")}


def _price_rule(con: duckdb.DuckDBPyConnection, rule: Rule) -> None:
    params = bind(rule.sql, rule.params, f"rules/{rule.id}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE rule_rows AS {rule.sql}", params)
    _complete_rule_rows(con, rule)
    con.execute(
        PRICE_FINDINGS,
        {
            "rule_id": rule.id,
            "severity": rule.severity,
            "configured_severity": rule.severity if rule.severity_configured else None,
            "priced": rule.money != "none",
            "all_profiles": "*" in rule.payer_profiles,
            "profiles": list(rule.payer_profiles),
            **{name: rule.params[name] for name in PRICING_PARAMS},
        },
    )


def _keep(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    catalog: Catalog,
    timer: StageTimer,
    checksums: dict[str, str],
    scope: Scope,
    filled: set[str],
) -> list[RuleResult]:
    """Replace the run's findings with those the rules found in its scope, in one
    transaction."""
    applicable = [r.id for r in catalog.rules if r.enabled and not _empty(r, filled)]
    with transaction(con):
        con.execute("DELETE FROM findings WHERE run_id = $run_id", {"run_id": run_id})
        con.execute("DELETE FROM rule_results WHERE run_id = $run_id", {"run_id": run_id})
        con.execute("DELETE FROM run_reference WHERE run_id = $run_id", {"run_id": run_id})
        # In the same transaction as the findings, so they always match the run's scope.
        scope.write(con, run_id)
        with timer.stage("flag: findings in scope"):
            con.execute(KEEP_FINDINGS, {"run_id": run_id, "applicable": applicable})
        results = [_result(con, run_id, rule, filled) for rule in catalog.rules]
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


def _result(
    con: duckdb.DuckDBPyConnection, run_id: str, rule: Rule, filled: set[str]
) -> RuleResult:
    if not rule.enabled:
        return RuleResult(rule.id, "disabled", 0, 0.0, "switched off in configuration")
    empty = _empty(rule, filled)
    if empty:
        return RuleResult(rule.id, "not applicable", 0, 0.0, f"no data in {', '.join(empty)}")
    count, amount = _totals(con, run_id, rule.id)
    log.info("rule %s: %d findings", rule.id, count, extra=fields(rule=rule.id, findings=count))
    return RuleResult(
        rule.id, "findings" if count else "clean", count, amount, _unjudged(con, run_id, rule)
    )


def _empty(rule: Rule, filled: set[str]) -> list[str]:
    """The tables the rule requires that hold no rows: with any, it does not apply."""
    return [table for table in rule.requires if table not in filled]


def derive(
    con: duckdb.DuckDBPyConnection,
    catalog: Catalog,
    timer: StageTimer | None = None,
    *,
    across_patients: bool = True,
    per_patient: bool = True,
) -> None:
    """Build the derived tables (rules/derived/<name>.sql) over the claim lines and
    segments this connection sees, as temporary tables, each timed as
    `flag: derived <name>` (summed over shares) when a timer is given.

    The report builds them over a few patients' temporary copies of the store's tables,
    to show a finding's evidence as the rules computed it.
    """
    for path in _derived(across_patients=across_patients, per_patient=per_patient):
        name, sql = _table_name(path), path.read_text()
        with timer.stage(f"flag: derived {name}") if timer else nullcontext():
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}",
                bind(sql, catalog.params, f"rules/derived/{path.name}"),
            )


def _derived(*, across_patients: bool = True, per_patient: bool = True) -> list[Path]:
    """The derived tables' SQL files in build order, those across patients or per patient."""
    return [
        path
        for path in sorted(DERIVED_DIR.glob("*.sql"))
        if (across_patients if _table_name(path) in ACROSS_PATIENTS else per_patient)
    ]


def _table_name(path: Path) -> str:
    """`10_timed_segments.sql` builds `timed_segments`; the number orders the builds."""
    return path.stem.split("_", 1)[1] if path.stem[0].isdigit() else path.stem


def _unjudged(con: duckdb.DuckDBPyConnection, run_id: str, rule: Rule) -> str | None:
    if rule.unjudged is None:
        return None
    (lines,) = first_row(
        con,
        f"SELECT coalesce(sum(lines), 0) FROM {PENDING_UNJUDGED} AS u "
        "WHERE u.source = $table AND EXISTS ("
        "SELECT 1 FROM run_scope_claims AS s WHERE s.run_id = $run_id AND s.claim_id = u.claim_id)",
        {"run_id": run_id, "table": rule.unjudged},
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
