"""Claim lines written as X12 837P (005010X222A1) files, as a billing system sends them.

    python -m bench.x12 --claims bench/data/1m/claims.csv --out bench/data/1m/claims.837p

The rows are canonical claim lines (the CSV export's text), in file order, each claim's
lines together. Consecutive lines with the same claim_id and claim_frequency make one
claim (CLM); consecutive claims of one patient and payer share a subscriber loop (HL 22).
A patient whose `subscriber_id` column (optional) names someone else is written as a
dependent (HL 23, the patient's id in REF*1W). The rendering provider goes on the claim
(2310B) when every line has the same one, on each line (2420A) otherwise, and nowhere
when it is the billing provider. Each line's diagnosis codes become the claim's HI list
and the line's SV107 pointers.

The tests write their 837P files with this module, and `make bench FORMATS=837p` writes
the bench claims with it; `line_segments` (the segment number of each row's LX) lets
both say where a row went.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

BILLING_NPI = "1234567893"  # a valid check digit; the practice that sends the claims
CLAIMS_PER_TRANSACTION = 5000  # the implementation guide's recommended maximum


@dataclass(frozen=True)
class Separators:
    """What the ISA header declares, and whether a line break follows each segment."""

    element: str = "*"
    component: str = ":"
    repetition: str = "^"
    segment: str = "~"
    newline: bool = True


@dataclass
class Written:
    """One file's text, how many segments it holds, and for each input row in order its
    LX segment's number."""

    text: str
    segments: int = 0
    line_segments: list[int] = field(default_factory=list)


def write_837p(
    rows: pl.DataFrame,
    separators: Separators = Separators(),
    claims_per_transaction: int = CLAIMS_PER_TRANSACTION,
    interchanges: int = 1,
) -> Written:
    """The rows as one 837P file: `interchanges` interchanges (the claims split among
    them), each one functional group of transaction sets of at most
    `claims_per_transaction` claims."""
    claims = list(_claims(rows))
    per_interchange = -(-len(claims) // interchanges) if claims else 0
    writer = _Writer(separators)
    for number in range(1, interchanges + 1):
        start = (number - 1) * per_interchange
        writer.interchange(number, claims[start : start + per_interchange], claims_per_transaction)
    return Written(writer.text(), len(writer.segments), writer.line_segments)


@dataclass
class _Claim:
    lines: list[dict[str, str | None]]

    @property
    def head(self) -> dict[str, str | None]:
        return self.lines[0]


def _claims(rows: pl.DataFrame) -> Iterator[_Claim]:
    current: _Claim | None = None
    for row in rows.iter_rows(named=True):
        key = (row["claim_id"], row["claim_frequency"])
        if current and (current.head["claim_id"], current.head["claim_frequency"]) == key:
            current.lines.append(row)
            continue
        if current:
            yield current
        current = _Claim([row])
    if current:
        yield current


class _Writer:
    def __init__(self, separators: Separators) -> None:
        self.s = separators
        self.segments: list[str] = []
        self.line_segments: list[int] = []

    def text(self) -> str:
        end = self.s.segment + ("\n" if self.s.newline else "")
        return end.join(self.segments) + end

    def add(self, *elements: str | None) -> None:
        self.segments.append(self.s.element.join(e or "" for e in elements).rstrip(self.s.element))

    def composite(self, *components: str | None) -> str:
        return self.s.component.join(c or "" for c in components).rstrip(self.s.component)

    def interchange(self, number: int, claims: list[_Claim], per_transaction: int) -> None:
        control = f"{number:09d}"
        s = self.s
        self.add(
            *("ISA", "00", " " * 10, "00", " " * 10, "ZZ", "PRACTICE".ljust(15)),
            *("ZZ", "CLEARINGHOUSE".ljust(15), "251101", "1200", s.repetition, "00501"),
            *(control, "0", "P", s.component),
        )
        self.add("GS", "HC", "PRACTICE", "CLEARINGHOUSE", "20251101", "1200", str(number))
        self.segments[-1] += s.element.join(("", "X", "005010X222A1"))
        sets = [claims[i : i + per_transaction] for i in range(0, len(claims), per_transaction)]
        for index, chunk in enumerate(sets, start=1):
            self.transaction(f"{index:04d}", chunk)
        self.add("GE", str(len(sets)), str(number))
        self.add("IEA", "1", control)

    def transaction(self, control: str, claims: list[_Claim]) -> None:
        start = len(self.segments)
        self.add("ST", "837", control, "005010X222A1")
        self.add("BHT", "0019", "00", control, "20251101", "1200", "CH")
        self.add("NM1", "41", "2", "PRACTICE", None, None, None, None, "46", "SUBMITTER1")
        self.add("PER", "IC", "BILLING OFFICE", "TE", "5555550100")
        self.add("NM1", "40", "2", "CLEARINGHOUSE", None, None, None, None, "46", "RECEIVER1")
        self.add("HL", "1", None, "20", "1")
        self.add("NM1", "85", "2", "PRACTICE", None, None, None, None, "XX", BILLING_NPI)
        self.add("N3", "1 MAIN ST")
        self.add("N4", "SPRINGFIELD", "IL", "627010000")
        self.add("REF", "EI", "123456789")
        hl, last_subscriber = 1, None
        for claim in claims:
            who = (claim.head["patient_id"], claim.head.get("subscriber_id"), claim.head["payer"])
            if who != last_subscriber:
                hl = self.subscriber(hl, claim)
                last_subscriber = who
            self.claim(claim)
        self.add("SE", str(len(self.segments) - start + 1), control)

    def subscriber(self, hl: int, claim: _Claim) -> int:
        patient = claim.head["patient_id"]
        subscriber = claim.head.get("subscriber_id") or patient
        dependent = subscriber != patient
        self.add("HL", str(hl + 1), "1", "22", "1" if dependent else "0")
        plan = "MB" if claim.head["payer"].upper().startswith("MEDICARE") else "CI"
        self.add("SBR", "P", None if dependent else "18", None, None, None, None, None, None, plan)
        self.add("NM1", "IL", "1", "DOE", "JANE", None, None, None, "MI", subscriber)
        payer = claim.head["payer"] or ""
        self.add("NM1", "PR", "2", payer, None, None, None, None, "PI", f"P{len(payer):04d}")
        if not dependent:
            return hl + 1
        self.add("HL", str(hl + 2), str(hl + 1), "23", "0")
        self.add("PAT", "19")
        self.add("NM1", "QC", "1", "DOE", "JOHN")
        self.add("REF", "1W", patient)
        return hl + 2

    def claim(self, claim: _Claim) -> None:
        codes = list(dict.fromkeys(c for line in claim.lines for c in _diagnoses(line)))[:12]
        total = sum(float(line["charge"] or 0) for line in claim.lines)
        place = claim.head["place_of_service"]
        frequency = claim.head["claim_frequency"] or "1"
        self.add(
            "CLM", claim.head["claim_id"], f"{total:.2f}", None, None,
            self.composite(place, "B", frequency), "Y", "A", "Y", "Y",
        )  # fmt: skip
        if codes:
            qualifiers = ["ABK"] + ["ABF"] * (len(codes) - 1)
            self.add("HI", *(self.composite(q, c) for q, c in zip(qualifiers, codes, strict=True)))
        renderers = {line["rendering_npi"] for line in claim.lines}
        on_claim = len(renderers) == 1 and renderers != {BILLING_NPI}
        if on_claim:
            self.rendering(claim.head["rendering_npi"])
        for number, line in enumerate(claim.lines, start=1):
            self.line(number, line, codes, place, rendering=not on_claim)

    def line(
        self,
        number: int,
        line: dict[str, str | None],
        codes: list[str],
        place: str | None,
        rendering: bool,
    ) -> None:
        self.line_segments.append(len(self.segments) + 1)
        self.add("LX", line["line_number"] or str(number))
        modifiers = (line["modifiers"] or "").replace(" ", ",").split(",")
        pointers = [str(codes.index(c) + 1) for c in _diagnoses(line) if c in codes][:4]
        self.add(
            "SV1", self.composite("HC", line["cpt_code"], *modifiers), line["charge"] or "0",
            "UN", line["units"], None if line["place_of_service"] == place
            else line["place_of_service"], None, self.composite(*pointers),
        )  # fmt: skip
        self.add("DTP", "472", "D8", (line["service_date"] or "").replace("-", ""))
        if rendering and line["rendering_npi"] != BILLING_NPI:
            self.rendering(line["rendering_npi"])

    def rendering(self, npi: str | None) -> None:
        self.add("NM1", "82", "1", "THERAPIST", "PAT", None, None, None, "XX", npi)
        self.add("PRV", "PE", "PXC", "225100000X")


def _diagnoses(line: dict[str, str | None]) -> list[str]:
    text = (line["diagnosis_codes"] or "").replace(".", "").replace(" ", ",")
    return [code for code in text.split(",") if code]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.x12", description=__doc__.split("\n")[0])
    parser.add_argument("--claims", type=Path, required=True, help="a claims CSV export")
    parser.add_argument("--out", type=Path, required=True, help="the 837P file to write")
    parser.add_argument(
        "--segments", type=Path, help="a Parquet file of each CSV row's LX segment number"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    rows = pl.read_csv(args.claims, infer_schema=False)
    written = write_837p(rows)
    args.out.write_text(written.text, encoding="utf-8")
    if args.segments:
        pl.DataFrame(
            {
                "row_number": pl.int_range(1, rows.height + 1, eager=True),
                "segment": written.line_segments,
            }
        ).write_parquet(args.segments)
    return 0


if __name__ == "__main__":
    sys.exit(main())
