"""What a run's findings cover: by default the claims and patient-days of the files
given to it; with `--since DATE` the claims served on or after that date, across the
whole store; with `--all` every claim in the store.

The flag stage writes the chosen scope into run_scope_claims / run_scope_days, which
the rules' findings and the report already keep to, and records it on the run. The
rules compute with the whole store's history whatever the scope.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import duckdb

from pipeline import store
from pipeline.errors import UsageError

INPUTS, SINCE, ALL = "inputs", "since", "all"
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

# Every claim id and patient-day of the store served on or after $since (claim lines of
# every version: a claim voided since an earlier run still belongs, so that run's
# findings on it show as no longer present).
WIDE_CLAIMS = """
INSERT INTO run_scope_claims
SELECT DISTINCT $run_id, claim_id FROM claim_lines WHERE service_date >= $since
"""
WIDE_DAYS = """
INSERT INTO run_scope_days
SELECT $run_id, patient_id, service_date FROM claim_lines WHERE service_date >= $since
UNION
SELECT $run_id, patient_id, service_date FROM time_segments WHERE service_date >= $since
"""


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
            # Written afresh each time: the store may have grown since.
            _refuse_without_input_scopes(con, run_id)
            self._write_wide(con, run_id)
        elif Scope.of_run(con, run_id).kind != INPUTS:
            store.scope_of_inputs(con, run_id)
        # Otherwise the rows are the ones the load wrote.
        con.execute(
            "UPDATE runs SET scope = $scope WHERE run_id = $run_id",
            {"scope": self.stored, "run_id": run_id},
        )

    def _write_wide(self, con: duckdb.DuckDBPyConnection, run_id: str) -> None:
        params = {"run_id": run_id, "since": self.since or date.min}
        store.clear_scope(con, run_id)
        con.execute(WIDE_CLAIMS, params)
        con.execute(WIDE_DAYS, params)


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
