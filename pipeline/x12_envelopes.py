"""X12 envelopes: the first pass over an 837P file checks its interchanges (ISA/IEA),
functional groups (GS/GE) and transaction sets (ST/SE) for counts, control numbers and
the transaction set being 837P 005010X222A1, since a trailer that condemns its envelope
comes after the lines it holds. A broken envelope rejects every segment inside it, as a
clearinghouse's acknowledgment rejects the smallest envelope that is broken.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from pipeline.x12_segments import Delimiters

TRANSACTION = "837"
VERSION = "005010X222A1"
ENVELOPE_TAGS = ("ISA", "IEA", "GS", "GE", "ST", "SE")
PADDING = [""] * 13  # added to each segment's elements, so an omitted one reads as ""


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


class Envelopes:
    """The first pass: the envelopes that fail their checks."""

    def __init__(self) -> None:
        self.rejected: list[Rejected] = []
        self.isa: _Open | None = None
        self.gs: _Open | None = None
        self.st: _Open | None = None
        self.outside: int | None = None  # the first of a run of segments outside any set
        self.last = self.end = 0  # the last envelope segment read, the last segment

    def chunk(self, d: Delimiters, kept: pl.DataFrame, end: int) -> None:
        """The envelope segments among a chunk's `kept` ones (segment, kind, text), the
        chunk's last segment being `end`."""
        # Envelope segments are a few in a thousand, and only they are read one by one;
        # the others matter only as a run between two of them.
        envelope = kept.filter(pl.col("kind").is_in(ENVELOPE_TAGS)).select("segment", "text")
        for number, segment in envelope.iter_rows():
            elements = segment.split(d.element)
            if elements[0] not in ENVELOPE_TAGS:
                continue  # a kind read by its first three characters: "ISAX" is no ISA
            self.between(self.last, number)
            self.control(elements + PADDING, number)
            self.last = number
        self.end = end

    def end_of_file(self) -> list[Rejected]:
        """The envelopes rejected, once every chunk is read."""
        self.between(self.last, self.end + 1)
        self.stray(self.end + 1)
        for envelope, tag in ((self.st, "SE"), (self.gs, "GE"), (self.isa, "IEA")):
            if envelope:
                self.unclosed(envelope, self.end, tag)
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
        self.begin("isa", _Open("interchange", "ISA", number, el[13]), "IEA")

    def gs_(self, el: list[str], number: int) -> None:
        gs = self.begin("gs", _Open("functional group", "GS", number, el[6]), "GE", "isa")
        if el[8] != VERSION:
            gs.fault = ("GS08", el[8], f"the group's version is not {VERSION}")

    def st_(self, el: list[str], number: int) -> None:
        st = self.begin("st", _Open("transaction set", "ST", number, el[2]), "SE", "gs")
        if el[1] != TRANSACTION:
            st.fault = ("ST01", el[1], f"not an 837 claim (ST01 is {el[1]!r})")
        elif el[3] not in ("", VERSION):
            st.fault = ("ST03", el[3], f"not 837P {VERSION}")

    def begin(self, which: str, envelope: _Open, trailer: str, parent: str | None = None) -> _Open:
        """`envelope` opened as the `which` (isa, gs or st), one more child of the open
        `parent` envelope: a run of segments outside any set ends before it, and an
        envelope of its kind still open was never closed by its `trailer`."""
        self.stray(envelope.at)
        still_open: _Open | None = getattr(self, which)
        if still_open:
            self.unclosed(still_open, envelope.at - 1, trailer)
        setattr(self, which, envelope)
        around: _Open | None = getattr(self, parent) if parent else None
        if around:
            around.children += 1
        return envelope

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

    def unclosed(self, envelope: _Open, last: int, tag: str) -> None:
        self.close(envelope, last, tag, "", f"no {tag} closes it (the file cut short?)")

    def close(self, envelope: _Open, last: int, column: str, value: str, reason: str) -> None:
        where = f"{envelope.name} {envelope.header} {envelope.control}"
        where += f" (segments {envelope.at}-{last})"
        self.reject(envelope.at, last, column, value, f"{where} rejected: {reason}")

    def reject(self, first: int, last: int, column: str, value: str, reason: str) -> None:
        self.rejected.append(Rejected(first, last, column, value, reason))


def _mismatch(trailer: str, header: str, control: str) -> str:
    return f"{trailer} does not match {header} ({control})"


def _outermost(rejected: list[Rejected]) -> list[Rejected]:
    """Disjoint runs: an envelope rejected inside a rejected envelope takes its reason."""
    kept: list[Rejected] = []
    for run in sorted(rejected, key=lambda r: (r.first, -r.last)):
        if not kept or run.first > kept[-1].last:
            kept.append(run)
    return kept
