"""What a run's findings cover: by default the claims and patient-days of the files
given to it; with `--since DATE` the claims served on or after that date, across the
whole store; with `--all` every claim in the store.

The flag stage writes the chosen scope into run_scope_claims / run_scope_days, which
the rules' findings and the report already keep to, and records it on the run. The
rules compute with the whole store's history whatever the scope; those that look at one
patient at a time run only for the patients the scope covers (`Scope.patients`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import duckdb

from pipeline import store
from pipeline.catalog import bind
from pipeline.errors import UsageError

INPUTS, SINCE, ALL = "inputs", "since", "all"
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class _Rows:
    """Where a scope's rows come from: a SELECT of claim ids and one of patient-days
    (patient_id, service_date), with $run_id and $since to bind."""

    claims: str
    days: str


# The rows the load wrote for the run's files.
_STORED = _Rows(
    claims="SELECT claim_id FROM run_scope_claims WHERE run_id = $run_id",
    days="SELECT patient_id, service_date FROM run_scope_days WHERE run_id = $run_id",
)
# The run's files' rows, afresh (the run was last flagged for a wider scope).
_INPUTS = _Rows(claims=store.INPUT_SCOPE_CLAIMS, days=store.INPUT_SCOPE_DAYS)
# Every claim id and patient-day of the store served on or after $since (claim lines of
# every version: a claim voided since an earlier run still belongs, so that run's
# findings on it show as no longer present).
_WIDE = _Rows(
    claims="SELECT claim_id FROM claim_lines WHERE service_date >= $since",
    days=(
        "SELECT patient_id, service_date FROM claim_lines WHERE service_date >= $since "
        "UNION ALL "
        "SELECT patient_id, service_date FROM time_segments WHERE service_date >= $since"
    ),
)


@dataclass(frozen=True)
class Scope:
    kind: str = INPUTS
    since: date | None = None

    @classmethod
    def from_args(cls, since: str | None, whole_store: bool) -> Scope:
        if whole_store:
            return cls(ALL)
        if since is None:
            return cls()
        return cls(SINCE, _day(since))

    @classmethod
    def of_run(cls, con: duckdb.DuckDBPyConnection, run_id: str) -> Scope:
        """The scope the run was last flagged for (a run from before scopes: its files)."""
        row = store.first_row(
            con, "SELECT scope FROM runs WHERE run_id = $run_id", {"run_id": run_id}
        )
        stored = (row[0] if row else None) or INPUTS
        kind, _, since = stored.partition(" ")
        return cls(kind, date.fromisoformat(since) if since else None)

    @property
    def stored(self) -> str:
        return f"{SINCE} {self.since}" if self.kind == SINCE else self.kind

    def describe(self) -> str:
        if self.kind == SINCE:
            return f"claims served on or after {self.since}, across the whole store"
        if self.kind == ALL:
            return "every claim in the store"
        return "the claims and patient-days of this run's files"

    def write(self, con: duckdb.DuckDBPyConnection, run_id: str) -> None:
        """Make the run's scope rows this scope's; the caller owns the transaction."""
        if self.kind != INPUTS:
            _refuse_without_input_scopes(con, run_id)
        rows = self._rows(con, run_id)
        if rows is not _STORED:
            # Written afresh each time: the store may have grown since.
            store.write_scope(con, run_id, rows.claims, rows.days, self._params(run_id))
        con.execute(
            "UPDATE runs SET scope = $scope WHERE run_id = $run_id",
            {"scope": self.stored, "run_id": run_id},
        )

    def patients(self, con: duckdb.DuckDBPyConnection, run_id: str) -> Patients | None:
        """The patients whose findings can fall in this scope; None when that is every
        patient. They are the patients of its patient-days and of its claims (in any
        version of a claim): a rule that looks at one patient at a time finds nothing in
        scope for anyone else."""
        if self.kind == ALL:
            return None
        rows, params = self._rows(con, run_id), self._params(run_id)
        of_days = f"SELECT DISTINCT patient_id FROM ({rows.days})"
        of_claims = f"SELECT patient_id FROM claim_lines WHERE claim_id IN ({rows.claims})"
        days = (
            f"SELECT patient_id, service_date FROM ({rows.days}) UNION "
            f"SELECT patient_id, service_date FROM claim_lines WHERE claim_id IN ({rows.claims})"
        )
        return Patients(
            of_days=Query(of_days, bind(of_days, params, "run scope")),
            of_claims=Query(of_claims, bind(of_claims, params, "run scope")),
            days=Query(days, bind(days, params, "run scope")),
        )

    def lines_run(self, con: duckdb.DuckDBPyConnection, run_id: str) -> str | None:
        """What to give `claim_lines_in_force` for the claim lines of this scope: the
        run, or None when the scope is every claim of the store (its files' scope on a
        store holding only their rows, as on a first load). Then no line is looked up
        among the scope's claims: 1.5 s of the report on a first load of 10M lines."""
        if self.kind == INPUTS and not store.first_row(
            con,
            "SELECT 1 FROM claim_lines WHERE loaded_run_id <> $run_id LIMIT 1",
            {"run_id": run_id},
        ):
            return None
        return run_id

    def _rows(self, con: duckdb.DuckDBPyConnection, run_id: str) -> _Rows:
        if self.kind != INPUTS:
            return _WIDE
        if Scope.of_run(con, run_id).kind != INPUTS:
            return _INPUTS
        return _STORED

    def _params(self, run_id: str) -> dict[str, object]:
        return {"run_id": run_id, "since": self.since or date.min}


@dataclass(frozen=True)
class Query:
    """A SELECT and its parameters."""

    sql: str
    params: dict[str, object]


@dataclass(frozen=True)
class Patients:
    """A scope's patients, the union of two queries of patient ids: those of its
    patient-days, the cheaper (on a first load already every patient), and those of its
    claims in any version (a claim's later version may name another patient).

    `days` are the patient-days a finding can be in scope on: the scope's own, and those
    of its claims' lines in any version (for a finding that names a claim)."""

    of_days: Query
    of_claims: Query
    days: Query


def _day(text: str) -> date:
    """A day written YYYY-MM-DD (fromisoformat alone takes 20251001 as well)."""
    try:
        if ISO_DATE.fullmatch(text):
            return date.fromisoformat(text)
    except ValueError:
        pass  # the shape of a date, but no such day (2025-02-30)
    raise UsageError(f"--since {text}: not a date; give it as YYYY-MM-DD")


def _refuse_without_input_scopes(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    """A run loaded before each file's scope was kept holds its files' scope only in its
    scope rows: widening them would lose it for good."""
    legacy = store.first_row(
        con,
        "SELECT 1 FROM run_inputs WHERE run_id = $run_id AND status IS NULL LIMIT 1",
        {"run_id": run_id},
    )
    if legacy:
        raise UsageError(
            f"run {run_id} was loaded before each file's scope was kept; "
            "audit its files again in a new run for --since or --all"
        )
