"""Shares: a large store is audited a share of its patients at a time.

Each share is a range of patient ids. The store's tables the rules per patient read are
shadowed, for the share, by temporary tables or views of the same names, so that the
derived tables and rules built on them fit in memory, where the whole store's would
spill. A run whose scope covers only some patients (a night's) audits those alone, and
the rules that compare patients read only the provider-days its patient-days are on.
"""

from __future__ import annotations

import itertools
import logging

import duckdb

from pipeline.logs import fields
from pipeline.scope import Patients, Query
from pipeline.store import first_row

log = logging.getLogger(__name__)

# The store's tables the per-patient derived tables and rules read, shadowed one share
# at a time.
PATIENT_INPUTS = ("audited_claim_lines", "time_segments")
# The one of them a share of a range of patients reads in the store, through a view,
# rather than copies: DuckDB then reads the segments as stored, compressed (the rules
# that aggregate them ran a quarter quicker than on a copy, whose text is not), and the
# range skips the row groups of other patients, since a load stores its rows in patient
# order. The claim lines in force are copied: the store's view of them is worked out
# claim by claim. So is a share of some patients (a night's): its filter is a list of
# patients, which every reader would apply to the whole table again.
READ_IN_STORE = "time_segments"
# The patients the rules per patient run for, when a run's scope covers only some.
AUDITED_PATIENTS = "audited_patients"
# The patient-days the rules across patients can find something in scope on.
AUDITED_DAYS = "audited_days"
STORED_PATIENTS = "(SELECT DISTINCT patient_id FROM claim_lines)"


def audit_some_patients(con: duckdb.DuckDBPyConnection, patients: Patients | None) -> bool:
    """Whether the rules per patient run for some of the store's patients only, the
    scope's, kept as the temporary table AUDITED_PATIENTS. A night's files touch a small
    part of a store that holds months: the rest of it need not be audited again."""
    if patients is None:
        return False
    of_days, of_claims = patients.of_days, patients.of_claims
    con.execute(f"CREATE OR REPLACE TEMP TABLE {AUDITED_PATIENTS} AS {of_days.sql}", of_days.params)
    stored, left_out = _stored_and_left_out(con)
    if left_out:
        con.execute(f"INSERT INTO {AUDITED_PATIENTS} {of_claims.sql}", of_claims.params)
        stored, left_out = _stored_and_left_out(con)
    log.info(
        "flag: the rules per patient run for %d of the store's %d patients with claims "
        "(those the run's scope covers)",
        stored - left_out,
        stored,
        extra=fields(
            stage="flag: patients in scope",
            patients_audited=stored - left_out,
            patients_stored=stored,
        ),
    )
    return left_out > 0


def _stored_and_left_out(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """The store's patients with claims, and how many of them are not among the
    audited: one pass over the store's patients."""
    stored, left_out = first_row(
        con,
        f"SELECT count(*), count(*) FILTER (WHERE NOT {audited(some=True)}) FROM {STORED_PATIENTS}",
    )
    return stored, left_out


def audited(some: bool) -> str:
    """The condition on patient_id that keeps the patients audited."""
    return f"patient_id IN (SELECT patient_id FROM {AUDITED_PATIENTS})" if some else "true"


def patient_ranges(
    con: duckdb.DuckDBPyConnection, shares: int, patients: str = STORED_PATIENTS
) -> list[tuple[str | None, str | None]]:
    """Ranges of patient ids, [low, high) and open at either end, each holding about as
    many of the patients (a table or subquery of patient ids). A range of ids, unlike a
    hash of them, is a filter DuckDB applies as it reads the patient id column,
    skipping row groups outside it."""
    if shares == 1:
        return [(None, None)]
    (cuts,) = first_row(
        con,
        f"SELECT quantile_disc(patient_id, $fractions) FROM {patients}",
        {"fractions": [k / shares for k in range(1, shares)]},
    )
    edges = [None, *cuts, None]
    return list(itertools.pairwise(edges))


def shadow_inputs(
    con: duckdb.DuckDBPyConnection, low: str | None, high: str | None, some: bool
) -> None:
    """The store's rows of the audited patients (`some`: those of AUDITED_PATIENTS) from
    `low` to before `high`, as temporary tables or views of the same names.

    The last share's are dropped first: DuckDB 2.0.0 reads the store's view wrong while a
    temporary table of the same name exists, even when asked for the store's. The view
    names the store's table with its database: `main` alone would name the view itself.
    """
    share = _share_range(con, low, high)
    for table in PATIENT_INPUTS:
        _drop_temporary(con, table)
        if table == READ_IN_STORE and not some:
            (database,) = first_row(con, "SELECT current_database()")
            stored = '"' + database.replace('"', '""') + f'".main.{table}'
            con.execute(f"CREATE TEMP VIEW {table} AS FROM {stored} WHERE {share}")
        else:
            con.execute(
                f"CREATE TEMP TABLE {table} AS FROM main.{table} WHERE {share} AND {audited(some)}"
            )


def _share_range(con: duckdb.DuckDBPyConnection, low: str | None, high: str | None) -> str:
    """The condition that keeps the patients from `low` to before `high` (either may be
    open). The bounds are session variables, since a view takes no parameters; DuckDB
    applies them as it reads the patient id column, as it would parameters."""
    conditions = []
    for name, bound, test in (("low", low, ">="), ("high", high, "<")):
        if bound is not None:
            con.execute(f"SET VARIABLE share_{name} = $bound", {"bound": bound})
            conditions.append(f"patient_id {test} getvariable('share_{name}')")
    return " AND ".join(conditions) or "true"


def shadow_provider_days(con: duckdb.DuckDBPyConnection, days: Query) -> None:
    """The store's rows on the provider-days of the scope's patient-days `days` (every
    patient's rows on them), as temporary tables of the same names.

    A rule across patients looks at a provider's day (catalog) and names one of the
    patients on it: its finding is in scope only on one of the scope's patient-days, so
    a provider-day none of them is on finds nothing in scope. (The provider-days of the
    scope's patients' whole history, as before, took 0.55 s of a night on a store of 10M
    lines, these 0.21 s.)"""
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {AUDITED_DAYS} AS {days.sql}",
        days.params,
    )
    for table, provider in (
        ("audited_claim_lines", "rendering_npi"),
        ("time_segments", "provider_npi"),
    ):
        con.execute(
            f"""
            CREATE TEMP TABLE {table} AS
            FROM main.{table} SEMI JOIN (
                SELECT DISTINCT {provider}, service_date FROM main.{table}
                SEMI JOIN {AUDITED_DAYS} USING (patient_id, service_date)
            ) AS scope_days USING ({provider}, service_date)
            """
        )


def drop_shadows(con: duckdb.DuckDBPyConnection) -> None:
    for table in PATIENT_INPUTS:
        _drop_temporary(con, table)


def _drop_temporary(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Drop the temporary table or view `name`, whichever it is, if it exists."""
    kind = first_row(
        con,
        "SELECT table_type FROM information_schema.tables "
        "WHERE table_catalog = 'temp' AND table_name = $name",
        {"name": name},
    )
    if kind:
        con.execute(f"DROP {'VIEW' if kind[0] == 'VIEW' else 'TABLE'} temp.{name}")
