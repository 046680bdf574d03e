"""X12 837P (005010X222A1) claim files, read as canonical claim lines.

A small, strict, streaming reader of our own: a file is read in chunks, each split into
segments with the delimiters its interchange's ISA header declares (any element,
component and segment separators; line breaks between segments or not), so memory holds
a chunk and one batch of lines, never a file. It reads what the audit needs and checks
what could make that wrong; it is not a full implementation-guide validator.

A file is read twice. The first pass checks the envelopes (ISA/IEA, GS/GE, ST/SE:
counts, control numbers, the transaction set being 837P 005010X222A1), since a trailer
that condemns its envelope comes after the lines it holds. The second pass maps each
service line (loop 2400) to a canonical row:

    claim_id          CLM01                  claim_frequency   CLM05-3
    place_of_service  SV105, else CLM05-1    patient_id        2010CA (NM109 or REF*1W),
    payer             2010BB NM103                             else 2010BA NM109
    rendering_npi     NM1*82 NM109 of 2420A, else 2310B, else the billing provider 2010AA
    cpt_code          SV101-2                modifiers         SV101-3..6
    charge            SV102                  units             SV104 (SV103 must be UN)
    service_date      DTP*472 of the line, else of the claim (D8, or RD8 of one day)
    line_number       LX01                   diagnosis_codes   the HI codes SV107 points to

Every row is numbered with its LX segment's place in the file (the ISA that opens the
file is segment 1). A row can come with a problem found while reading (its column,
value and reason), which makes it a reject whatever its values:

- an envelope that fails its check rejects every line inside it, as a clearinghouse's
  acknowledgment rejects the smallest envelope that is broken (a transaction set, a
  functional group, the whole interchange);
- a claim whose structure cannot be trusted (a malformed SV1, a line without SV1, a
  diagnosis pointer to no code, a patient loop without an id) rejects all its lines.

Values themselves (an NPI, a date, the units) are left to validation, as a CSV export's.

The second pass costs about ten times the first (a Python step per segment). A large
file's second pass is shared among processes (`Parts`): each reads a part, split where a
transaction set begins, since nothing read before an ST carries past it. This process
reads the first part and yields its batches as they come; each other process writes its
batches to files, read after the parts before it, so rows keep file order.
"""

from __future__ import annotations

import bisect
import logging
import math
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import polars as pl

from pipeline import machine
from pipeline.columns import CLAIMS

log = logging.getLogger(__name__)

TRANSACTION = "837"
VERSION = "005010X222A1"
ISA_LENGTH = 106
# ISA01..ISA16 have fixed widths; the last is the component separator.
ISA_WIDTHS = (2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1)
CHUNK_CHARS = 1 << 23
HELD_ROWS = 50_000  # rows made into a frame at a time, as a batch builds up
LEADING = "\ufeff \t\r\n"
PADDING = [""] * 13  # added to each segment's elements, so an omitted one reads as ""
EMPTY_SV1 = ["", *PADDING]
NO_PROBLEM = (None, None, None)
ENVELOPE_TAGS = ("ISA", "IEA", "GS", "GE", "ST", "SE")

# The columns of the frames read_lines yields, besides the canonical ones.
SEGMENT = "segment"
PROBLEM_COLUMN = "problem_column"
PROBLEM_VALUE = "problem_value"
PROBLEM_REASON = "problem_reason"
# The canonical claim columns, in the order each line's values are gathered.
LINE_COLUMNS = CLAIMS.columns
SCHEMA = {
    SEGMENT: pl.Int64,
    **dict.fromkeys(LINE_COLUMNS, pl.String),
    PROBLEM_COLUMN: pl.String,
    PROBLEM_VALUE: pl.String,
    PROBLEM_REASON: pl.String,
}


class NotX12Error(ValueError):
    """The file starts like an interchange but its ISA header cannot be read."""


def starts_interchange(head: bytes) -> bool:
    return head.lstrip(LEADING.encode()).lstrip(b"\xef\xbb\xbf").startswith(b"ISA")


@dataclass(frozen=True)
class Delimiters:
    element: str
    component: str
    segment: str

    @classmethod
    def of(cls, isa: str, at: int) -> Delimiters:
        """The delimiters an ISA header (its first 106 characters) declares."""
        problem = _isa_problem(isa)
        if problem:
            raise NotX12Error(f"the ISA header at segment {at} cannot be read: {problem}")
        return cls(element=isa[3], component=isa[104], segment=isa[105])


def _isa_problem(isa: str) -> str | None:
    if len(isa) < ISA_LENGTH:
        return f"it is {len(isa)} characters long, not {ISA_LENGTH}"
    element, component, segment = isa[3], isa[104], isa[105]
    if len({element, component, segment}) < 3 or any(
        c.isalnum() or c == " " for c in (element, component, segment)
    ):
        return (
            f"separators {element!r}, {component!r}, {segment!r} (ISA positions 4, 105, 106) "
            "are not three distinct non-alphanumeric characters"
        )
    widths = tuple(len(e) for e in isa[4:105].split(element))
    if widths != ISA_WIDTHS:
        return f"its 16 elements do not have the fixed widths {'/'.join(map(str, ISA_WIDTHS))}"
    return None


# ----------------------------------------------------------------------------- segments


Segments = TypeVar("Segments", list[str], pl.Series)


def _without_line_breaks(text: str, terminator: str) -> str:
    for line_break in "\r\n":
        if line_break != terminator:
            text = text.replace(line_break, "")
    return text


def _split(text: str, terminator: str) -> list[str]:
    return list(filter(None, text.split(terminator)))


def _segments(
    path: Path, split: Callable[[str, str], Segments] = _split
) -> Iterator[tuple[Delimiters, int, Segments]]:
    """The file's segments a chunk at a time: (delimiters, number of the first, segments).

    Each interchange is split with the delimiters of its own ISA header. Line breaks
    around segments are dropped (they are not X12 data unless they are the terminator),
    and so are blank pieces: they are no segments and take no number. `split` makes the
    segments of a chunk: a list of them, or a polars Series where only a few are read.
    """
    number = 0
    delimiters: Delimiters | None = None
    buffer, eof, short = "", False, True
    with path.open("r", encoding="utf-8", errors="replace", newline="") as fh:
        while True:
            if not eof and (short or len(buffer) < CHUNK_CHARS):
                more = fh.read(CHUNK_CHARS)
                eof, short = not more, False
                buffer += more
                continue
            start = buffer.lstrip(LEADING)
            if not start:
                return
            if start.startswith("ISA"):
                if len(start) <= ISA_LENGTH and not eof:
                    short = True  # read on: the header is cut by the end of the chunk
                    continue
                delimiters = Delimiters.of(start[:ISA_LENGTH], number + 1)
                buffer = start
            elif delimiters is None:
                raise NotX12Error("it does not start with an ISA header")
            piece, buffer = _through_interchange(buffer, delimiters, eof)
            # No whole segment yet (one longer than a chunk): read on before splitting.
            short = not piece
            segments = split(_without_line_breaks(piece, delimiters.segment), delimiters.segment)
            yield delimiters, number + 1, segments
            number += len(segments)


def _through_interchange(text: str, d: Delimiters, eof: bool) -> tuple[str, str]:
    """(what can be split now, the rest): up to the end of the IEA segment if the text
    holds one, else up to the last whole segment (all of it at the end of the file)."""
    trailer = _trailer_end(text, d)
    if trailer:
        return text[:trailer], text[trailer:]
    if eof:
        return text, ""
    cut = text.rfind(d.segment) + 1
    return text[:cut], text[cut:]


def _trailer_end(text: str, d: Delimiters) -> int | None:
    """Where the first IEA segment of the text ends (just past its terminator), if it
    holds a whole one."""
    found = text.find("IEA" + d.element)
    while found >= 0:
        before = text[:found].rstrip("\r\n")
        if not before or before.endswith(d.segment):
            end = text.find(d.segment, found)
            return end + 1 if end >= 0 else None
        found = text.find("IEA" + d.element, found + 1)
    return None


# ---------------------------------------------------------------------------- envelopes


@dataclass(frozen=True)
class Rejected:
    """A run of segments rejected whole, with the element that condemned it."""

    first: int
    last: int
    column: str
    value: str
    reason: str


@dataclass
class _Open:
    """An envelope read up to here: where it starts, its control number, its children."""

    name: str
    header: str
    at: int
    control: str
    children: int = 0
    fault: tuple[str, str, str] | None = None  # column, value, reason


class _Envelopes:
    """The first pass: the envelopes that fail their checks."""

    def __init__(self) -> None:
        self.rejected: list[Rejected] = []
        self.isa: _Open | None = None
        self.gs: _Open | None = None
        self.st: _Open | None = None
        self.outside: int | None = None  # the first of a run of segments outside any set
        self.set_starts: list[int] = []  # where each transaction set begins (its ST)
        self.segments = 0

    def read(self, path: Path) -> list[Rejected]:
        # Envelope segments are a few in a thousand: polars finds them, and only they
        # are read one by one; the others matter only as a run between two of them.
        end = last = 0
        for d, first, segments in _segments(path, _split_series):
            for offset, segment in _envelope_segments(segments, d.element):
                number = first + offset
                self.between(last, number)
                self.control(segment.split(d.element) + PADDING, number)
                last = number
            end = first + len(segments) - 1
        self.between(last, end + 1)
        self.end_of_file(end)
        self.segments = end
        return _outermost(self.rejected)

    def between(self, last: int, number: int) -> None:
        """The segments between two envelope segments are outside any transaction set
        if no set is open there."""
        if number > last + 1 and self.st is None and self.outside is None:
            self.outside = last + 1

    def control(self, el: list[str], number: int) -> None:
        handler = {
            "ISA": self.isa_,
            "IEA": self.iea,
            "GS": self.gs_,
            "GE": self.ge,
            "ST": self.st_,
            "SE": self.se,
        }[el[0]]
        handler(el, number)

    def stray(self, number: int) -> None:
        """Segments outside any transaction set end where the next envelope begins."""
        if self.outside is not None:
            where = "an interchange" if self.isa is None else "a transaction set"
            self.reject(self.outside, number - 1, "segment", "", f"segments outside {where}")
            self.outside = None

    def isa_(self, el: list[str], number: int) -> None:
        self.stray(number)
        if self.isa:
            self.unclosed(self.isa, number - 1, "IEA")
        self.isa = _Open("interchange", "ISA", number, el[13])

    def gs_(self, el: list[str], number: int) -> None:
        self.stray(number)
        if self.gs:
            self.unclosed(self.gs, number - 1, "GE")
        self.gs = _Open("functional group", "GS", number, el[6])
        if self.isa:
            self.isa.children += 1
        if el[8] != VERSION:
            self.gs.fault = ("GS08", el[8], f"the group's version is not {VERSION}")

    def st_(self, el: list[str], number: int) -> None:
        self.set_starts.append(number)
        self.stray(number)
        if self.st:
            self.unclosed(self.st, number - 1, "SE")
        self.st = _Open("transaction set", "ST", number, el[2])
        if self.gs:
            self.gs.children += 1
        if el[1] != TRANSACTION:
            self.st.fault = ("ST01", el[1], f"not an 837 claim (ST01 is {el[1]!r})")
        elif el[3] not in ("", VERSION):
            self.st.fault = ("ST03", el[3], f"not 837P {VERSION}")

    def se(self, el: list[str], number: int) -> None:
        if self.st is None:
            self.reject(number, number, "SE02", el[2], "SE without an ST before it")
            return
        st, self.st = self.st, None
        count = number - st.at + 1
        if st.fault:
            self.close(st, number, *st.fault)
        elif el[1] != str(count):
            self.close(st, number, "SE01", el[1], f"SE01 counts {el[1]} segments, "
                       f"the set has {count}")  # fmt: skip
        elif el[2] != st.control:
            self.close(st, number, "SE02", el[2], _mismatch("SE02", "ST02", st.control))

    def ge(self, el: list[str], number: int) -> None:
        self.trailer(el, number, "gs", "GE", "transaction sets")

    def iea(self, el: list[str], number: int) -> None:
        self.trailer(el, number, "isa", "IEA", "functional groups")

    def trailer(self, el: list[str], number: int, which: str, tag: str, children: str) -> None:
        self.stray(number)
        if which == "isa" and self.gs:
            self.unclosed(self.gs, number - 1, "GE")
            self.gs = None
        if self.st:
            self.unclosed(self.st, number - 1, "SE")
            self.st = None
        envelope: _Open | None = getattr(self, which)
        if envelope is None:
            self.reject(number, number, f"{tag}02", el[2], f"{tag} without its header")
            return
        setattr(self, which, None)
        header_control = f"{envelope.header}{'13' if tag == 'IEA' else '06'}"
        if envelope.fault:
            self.close(envelope, number, *envelope.fault)
        elif el[1] != str(envelope.children):
            self.close(
                envelope, number, f"{tag}01", el[1],
                f"{tag}01 counts {el[1]} {children}, there are {envelope.children}",
            )  # fmt: skip
        elif el[2] != envelope.control:
            self.close(
                envelope, number, f"{tag}02", el[2],
                _mismatch(f"{tag}02", header_control, envelope.control),
            )  # fmt: skip

    def end_of_file(self, end: int) -> None:
        self.stray(end + 1)
        for envelope, tag in ((self.st, "SE"), (self.gs, "GE"), (self.isa, "IEA")):
            if envelope:
                self.unclosed(envelope, end, tag)

    def unclosed(self, envelope: _Open, last: int, tag: str) -> None:
        self.close(envelope, last, tag, "", f"no {tag} closes it (the file cut short?)")

    def close(self, envelope: _Open, last: int, column: str, value: str, reason: str) -> None:
        where = f"{envelope.name} {envelope.header} {envelope.control}"
        where += f" (segments {envelope.at}-{last})"
        self.reject(envelope.at, last, column, value, f"{where} rejected: {reason}")

    def reject(self, first: int, last: int, column: str, value: str, reason: str) -> None:
        self.rejected.append(Rejected(first, last, column, value, reason))


def _split_series(text: str, terminator: str) -> pl.Series:
    segments = pl.Series("segment", [text]).str.split(terminator).explode()
    return segments.filter(segments != "")


def _envelope_segments(segments: pl.Series, element: str) -> Iterator[tuple[int, str]]:
    """(place in the chunk, text) of the ISA, IEA, GS, GE, ST and SE segments."""
    frame = segments.to_frame().with_row_index("offset")
    # Two characters first, a cheap look at every segment; the tag then, at a few.
    frame = frame.filter(pl.col("segment").str.slice(0, 2).is_in([t[:2] for t in ENVELOPE_TAGS]))
    tags = frame.get_column("segment").str.split(element).list.first()
    yield from frame.filter(tags.is_in(ENVELOPE_TAGS)).iter_rows()


def _mismatch(trailer: str, header: str, control: str) -> str:
    return f"{trailer} does not match {header} ({control})"


def _outermost(rejected: list[Rejected]) -> list[Rejected]:
    """Disjoint runs: an envelope rejected inside a rejected envelope takes its reason."""
    kept: list[Rejected] = []
    for run in sorted(rejected, key=lambda r: (r.first, -r.last)):
        if not kept or run.first > kept[-1].last:
            kept.append(run)
    return kept


# ------------------------------------------------------------------------------ claims


# The segments a reader reads: from the first number up to (not including) the second.
_Part = tuple[int, float]


@dataclass(slots=True)
class _Line:
    segment: int
    number: str
    sv1: list[str] | None = None
    sv1_segment: int = 0
    procedure: list[str] = field(default_factory=list)  # SV101's components
    date: str | None = None
    rendering: str | None = None
    problem: tuple[str, str, str] | None = None


@dataclass(slots=True)
class _Claim:
    segment: int
    claim_id: str = ""
    frequency: str = ""
    place: str = ""
    patient: str | None = None
    payer: str | None = None
    billing: str | None = None
    rendering: str | None = None
    date: str | None = None
    diagnoses: list[str] = field(default_factory=list)
    lines: list[_Line] = field(default_factory=list)
    problem: tuple[str, str, str] | None = None

    def fail(self, segment: int, column: str, value: str, reason: str) -> None:
        if self.problem is None:
            reason = f"claim rejected: segment {segment} ({column}): {reason}"
            self.problem = (column, value, reason)


class _Lines:
    """The second pass: service lines as rows, with the context of their loops."""

    def __init__(
        self, path: Path, rejected: list[Rejected], rows: int, part: _Part = (1, math.inf)
    ) -> None:
        self.path = path
        self.start, self.stop = part
        self.rejected = rejected
        self.next_rejected = 0
        self.rows = rows
        self.out: list[tuple[object, ...]] = []
        self.held: list[pl.DataFrame] = []  # the batch's rows so far, less those in out
        self.held_rows = 0
        self.claims_rejected = 0
        self.full = False
        self._reset_transaction()

    def _reset_transaction(self) -> None:
        self.billing: str | None = None
        self._reset_subscriber()

    def _reset_subscriber(self) -> None:
        self.subscriber: str | None = None
        self.payer: str | None = None
        self.patient_loop: int | None = None  # the segment of the 2000C HL, if any
        self.patient: str | None = None
        self.loop = ""
        self.claim: _Claim | None = None
        self.line: _Line | None = None

    def read(self) -> Iterator[pl.DataFrame]:
        for d, first, segments in _segments(self.path):
            if first >= self.stop:
                break
            if first + len(segments) <= self.start:
                continue
            self.d = d
            handlers = {
                "CLM": self.clm,
                "LX" + d.element: self.lx,
                "SV1": self.sv1,
                "DTP": self.dtp,
                "NM1": self.nm1,
                "REF": self.ref,
                "HI" + d.element: self.hi,
                "HL" + d.element: self.hl,
                "SBR": self.sbr,
                **dict.fromkeys(("ISA", "IEA", "GS" + d.element, "GE" + d.element), self.boundary),
                "ST" + d.element: self.boundary,
                "SE" + d.element: self.boundary,
            }
            element = d.element
            begin = max(0, self.start - first)
            end = min(len(segments), self.stop - first)
            for number, segment in enumerate(segments[begin:end], start=first + begin):
                handler = handlers.get(segment[:3])
                if handler:
                    elements = segment.split(element)
                    elements += PADDING
                    handler(elements, number)
                    if self.full:
                        yield self.batch()
        self.close_claim()
        yield self.batch()

    def batch(self) -> pl.DataFrame:
        self.hold()
        frame = pl.concat(self.held) if self.held else pl.DataFrame(schema=SCHEMA)
        self.held, self.held_rows, self.full = [], 0, False
        return frame

    def hold(self) -> None:
        """Rows made so far as a frame: a row as Python objects takes about ten times
        the memory it takes in a frame, so a batch is not kept as Python objects."""
        if self.out:
            self.held.append(pl.DataFrame(self.out, schema=SCHEMA, orient="row"))
            self.held_rows += len(self.out)
            self.out = []

    # ----------------------------------------------------------------- loops and context

    def boundary(self, el: list[str], number: int) -> None:
        self.close_claim()
        self._reset_transaction()

    def hl(self, el: list[str], number: int) -> None:
        self.close_claim()
        level = el[3]
        if level == "20":
            self._reset_transaction()
            self.loop = "billing"
        elif level == "22":
            self._reset_subscriber()
            self.loop = "subscriber"
        elif level == "23":
            self.patient_loop, self.patient = number, None
            self.loop = "patient"
        else:
            self.loop = ""

    def sbr(self, el: list[str], number: int) -> None:
        # In a claim, SBR opens 2320 (other subscriber): its names are not this claim's.
        if self.claim is not None:
            self.loop = "other"

    def nm1(self, el: list[str], number: int) -> None:
        who, loop = el[1], self.loop
        if who == "82" and loop in ("claim", "line"):
            target = self.line if loop == "line" else self.claim
            target.rendering = el[9]  # type: ignore[union-attr]
        elif who == "85" and loop == "billing":
            self.billing = el[9]
        elif who == "IL" and loop == "subscriber":
            self.subscriber = el[9]
        elif who == "PR" and loop == "subscriber":
            self.payer = el[3]
        elif who == "QC" and loop == "patient":
            self.patient = el[9] or self.patient

    def ref(self, el: list[str], number: int) -> None:
        if self.loop == "patient" and el[1] == "1W" and not self.patient:
            self.patient = el[2]

    # ------------------------------------------------------------------ claims and lines

    def clm(self, el: list[str], number: int) -> None:
        self.close_claim()
        claim = _Claim(number, billing=self.billing, payer=self.payer)
        place, _, frequency = [*el[5].split(self.d.component), "", ""][:3]
        claim.claim_id, claim.place, claim.frequency = el[1], place, frequency
        if self.patient_loop is not None:
            claim.patient = self.patient
            if not self.patient:
                claim.fail(
                    self.patient_loop, "NM109", "",
                    "the patient loop 2010CA gives no id (NM109 or REF*1W)",
                )  # fmt: skip
        else:
            claim.patient = self.subscriber
        self.claim, self.line, self.loop = claim, None, "claim"

    def lx(self, el: list[str], number: int) -> None:
        if self.claim is None:
            self.claim = _Claim(number)
            self.claim.fail(number, "LX", el[1], "a service line outside a claim")
        self.line = _Line(number, el[1])
        self.claim.lines.append(self.line)
        self.loop = "line"

    def sv1(self, el: list[str], number: int) -> None:
        claim, line = self.claim, self.line
        if claim is None:
            return  # no claim, no line: nothing read to account for
        if line is None or self.loop != "line":
            claim.fail(number, "SV1", "", "SV1 outside a service line (no LX before it)")
            return
        if line.sv1 is not None:
            claim.fail(number, "SV1", "", "a second SV1 in one service line")
            return
        procedure = el[1].split(self.d.component)
        problem = self.sv1_problem(el, procedure)
        if problem:
            claim.fail(number, *problem)
        line.sv1, line.sv1_segment, line.procedure = el, number, procedure

    def sv1_problem(self, el: list[str], procedure: list[str]) -> tuple[str, str, str] | None:
        if procedure[0] != "HC":
            return "SV101", el[1], "SV101-1 is not HC (a CPT/HCPCS code)"
        if len(procedure) < 2 or not procedure[1]:
            return "SV101", el[1], "SV101-2, the procedure code, is missing"
        if len(procedure) > 7:
            return "SV101", el[1], "SV101 has more than 7 components"
        if el[3] != "UN":
            return "SV103", el[3], "SV103 is not UN: the units cannot be read as units"
        if not el[4]:
            return "SV104", "", "SV104, the units, is missing"
        pointers = el[7]
        if not pointers:
            return "SV107", "", "SV107, the diagnosis pointer, is missing"
        if not pointers.isdigit() and not all(
            p.isdigit() for p in pointers.split(self.d.component)
        ):
            return "SV107", pointers, "SV107 holds a pointer that is not a number"
        return None

    def dtp(self, el: list[str], number: int) -> None:
        if el[1] != "472":
            return
        date, problem = _service_date(el[2], el[3])
        if self.loop == "line" and self.line is not None:
            self.line.date = date
            if problem:
                column, value, reason = problem
                self.line.problem = (column, value, f"segment {number} ({column}): {reason}")
        elif self.loop == "claim" and self.claim is not None:
            self.claim.date = date
            if problem:
                self.claim.fail(number, *problem)

    def hi(self, el: list[str], number: int) -> None:
        if self.claim is None or self.loop != "claim":
            return
        for composite in el[1:]:
            if not composite.startswith("AB"):  # the padding too
                continue
            qualifier, _, code = composite.partition(self.d.component)
            if qualifier in ("ABK", "ABF"):
                self.claim.diagnoses.append(code.split(self.d.component)[0])

    # ----------------------------------------------------------------------------- rows

    def close_claim(self) -> None:
        claim, self.claim, self.line = self.claim, None, None
        if claim is None:
            return
        component = self.d.component
        lines = [(line, self.line_codes(claim, line, component)) for line in claim.lines]
        if claim.problem and claim.lines:
            self.claims_rejected += 1
        for line, codes in lines:
            self.add_row(claim, line, codes, component)
        if len(self.out) >= HELD_ROWS:
            self.hold()
        self.full = self.held_rows + len(self.out) >= self.rows

    def line_codes(self, claim: _Claim, line: _Line, component: str) -> str:
        """The diagnosis codes the line's SV107 points to (the claim fails if it points
        to none, or has no SV1)."""
        if line.sv1 is None:
            claim.fail(line.segment, "SV1", "", "a service line (LX) without SV1")
            return ""
        codes, diagnoses = [], claim.diagnoses
        for pointer in line.sv1[7].split(component):
            if not pointer.isdigit():
                continue
            if 1 <= int(pointer) <= len(diagnoses):
                codes.append(diagnoses[int(pointer) - 1])
            else:
                claim.fail(
                    line.sv1_segment, "SV107", pointer,
                    f"SV107 points to diagnosis {pointer}; the claim lists "
                    f"{len(claim.diagnoses)}",
                )  # fmt: skip
        return ",".join(codes)

    def add_row(self, claim: _Claim, line: _Line, codes: str, component: str) -> None:
        el = line.sv1 or EMPTY_SV1
        procedure = [*line.procedure, "", ""]
        problem = (
            (self.rejected and self.envelope_problem(line.segment)) or claim.problem or line.problem
        )
        self.out.append(
            (
                line.segment,
                claim.claim_id,
                line.number,
                claim.patient,
                claim.payer,
                line.rendering or claim.rendering or claim.billing,
                line.date or claim.date,
                procedure[1],
                _whole(el[4]),
                claim.frequency,
                ",".join(filter(None, procedure[2:6])),
                el[2],
                codes,
                el[5] or claim.place,
                *(problem or NO_PROBLEM),
            )
        )

    def envelope_problem(self, segment: int) -> tuple[str, str, str] | None:
        rejected = self.rejected
        while self.next_rejected < len(rejected) and rejected[self.next_rejected].last < segment:
            self.next_rejected += 1
        if self.next_rejected < len(rejected):
            run = rejected[self.next_rejected]
            if run.first <= segment:
                return run.column, run.value, run.reason
        return None


def _service_date(qualifier: str, value: str) -> tuple[str, tuple[str, str, str] | None]:
    """DTP*472's date as YYYY-MM-DD text (validation judges it), or a problem."""
    if qualifier == "RD8":
        start, _, end = value.partition("-")
        if start != end:
            return value, ("DTP03", value, "the service date is a range of days, not one day")
        value = start
    elif qualifier != "D8":
        return value, ("DTP02", qualifier, "the service date's format is not D8")
    if len(value) == 8 and value.isdigit():
        return f"{value[:4]}-{value[4:6]}-{value[6:]}", None
    return value, None


def _whole(units: str) -> str:
    """'2.0' is X12's way of writing 2 units as much as '2' is."""
    if "." not in units:
        return units
    whole, dot, fraction = units.partition(".")
    return whole if dot and fraction.strip("0") == "" and whole else units


@dataclass(frozen=True)
class Parts:
    """How a large file's second pass is shared: a part for each `segments` segments,
    in as many as `processes` processes; the batches of the parts read by other
    processes wait in `folder` (which the caller removes) until their turn."""

    folder: Path
    segments: int
    processes: int


def read_lines(path: Path, rows: int, parts: Parts | None = None) -> Iterator[pl.DataFrame]:
    """The file's service lines in file order, `rows` at a time (a claim's lines stay
    together, so a batch can hold a few more), each part's last batch possibly empty."""
    envelopes = _Envelopes()
    rejected = envelopes.read(path)
    if rejected:
        log.info("%s: %d envelopes rejected", path, len(rejected))
    first, *others = _parts(envelopes, parts) if parts else [(1, math.inf)]
    own = _Lines(path, rejected, rows, first)
    if not others:
        yield from own.read()
        claims_rejected = own.claims_rejected
    else:
        assert parts is not None
        parts.folder.mkdir(parents=True, exist_ok=True)
        with machine.process_pool(len(others)) as pool:
            read_elsewhere = [
                # A folder no other reading shares, not even one a killed run left going.
                pool.submit(
                    _read_part, path, rejected, rows, part, Path(tempfile.mkdtemp(dir=parts.folder))
                )
                for part in others
            ]
            yield from own.read()
            claims_rejected = own.claims_rejected
            for reading, (start, _) in zip(read_elsewhere, others, strict=True):
                work = f"{path}: reading it from segment {start}"
                files, rejected_there = machine.result(reading, work)
                claims_rejected += rejected_there
                for file in files:
                    yield pl.read_ipc(file)
                    file.unlink()
    if claims_rejected:
        log.info("%s: %d claims rejected while reading", path, claims_rejected)


def _parts(envelopes: _Envelopes, parts: Parts) -> list[_Part]:
    """The file's parts, each beginning at the ST nearest after an even share of the
    segments (one part when the file has a single transaction set)."""
    count = min(parts.processes, math.ceil(envelopes.segments / parts.segments))
    starts = envelopes.set_starts
    bounds = [1]
    for share in range(1, count):
        at = bisect.bisect_left(starts, envelopes.segments * share / count)
        if at < len(starts) and starts[at] > bounds[-1]:
            bounds.append(starts[at])
    return list(zip(bounds, [*bounds[1:], math.inf], strict=True))


def _read_part(
    path: Path, rejected: list[Rejected], rows: int, part: _Part, folder: Path
) -> tuple[list[Path], int]:
    """Read one part in a process of its own: its batches' files, in order, and the
    claims it rejected."""
    lines = _Lines(path, rejected, rows, part)
    files = []
    for number, batch in enumerate(lines.read()):
        files.append(folder / f"{number:06d}.arrow")
        batch.write_ipc(files[-1])
    return files, lines.claims_rejected


def check_header(path: Path) -> None:
    """Raise NotX12Error now if the file's first ISA header cannot be read."""
    with path.open("r", encoding="utf-8", errors="replace", newline="") as fh:
        head = fh.read(4096).lstrip(LEADING)
    Delimiters.of(head[:ISA_LENGTH], 1)
