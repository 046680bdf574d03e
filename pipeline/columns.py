"""The canonical input columns of the data contract (see DESIGN.md, "Inputs")."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class InputKind:
    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    # The columns that identify a row: one file holds each key once, and the store
    # keeps one row per key (a later file with the same key updates it).
    key: tuple[str, ...]
    # What a repeated key is reported as in rejects.csv: against which column, why.
    repeat_column: str
    repeat_reason: str

    @property
    def columns(self) -> tuple[str, ...]:
        return self.required + self.optional


MODIFIER_COLUMNS = ("modifier_1", "modifier_2", "modifier_3", "modifier_4")

CLAIMS = InputKind(
    name="claims",
    required=(
        "claim_id",
        "line_number",
        "patient_id",
        "payer",
        "rendering_npi",
        "service_date",
        "cpt_code",
        "units",
    ),
    optional=(
        "claim_frequency",
        "modifiers",
        "charge",
        "diagnosis_codes",
        "place_of_service",
    ),
    key=("claim_id", "claim_frequency", "line_number"),
    repeat_column="line_number",
    repeat_reason=(
        "duplicate of an earlier row with the same claim_id, claim_frequency and line_number"
    ),
)

TIMELOGS = InputKind(
    name="timelogs",
    required=(
        "patient_id",
        "provider_npi",
        "provider_role",
        "service_date",
        "cpt_code",
        "start_time",
        "end_time",
    ),
    optional=("session_id", "note_type"),
    key=("patient_id", "provider_npi", "cpt_code", "start_time", "end_time"),
    repeat_column="start_time",
    repeat_reason="duplicate of an earlier segment (same patient, provider, code, start and end)",
)

# The findings table's columns, in this order: the contract columns, then extensions.
# findings.csv / findings.parquet carry them and then the finding's `status` against
# earlier runs (pipeline/changes.py).
FINDINGS_COLUMNS = (
    "finding_id",
    "rule_id",
    "severity",
    "patient_id",
    "provider_npi",
    "service_date",
    "claim_id",
    "line_number",
    "cpt_code",
    "units_billed",
    "units_supported",
    "amount_at_risk",
    "message",
    "payer",
    "units_at_risk",
)
