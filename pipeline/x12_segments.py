"""X12 segments: the delimiters an interchange's ISA header declares, and a file's text
split into numbered segments a chunk at a time (pipeline/x12.py reads them).

Each interchange is split with the delimiters of its own ISA header: any element,
component and segment separators, with line breaks between segments or not.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl

ISA_LENGTH = 106
# ISA01..ISA16 have fixed widths; the last is the component separator.
ISA_WIDTHS = (2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1)
CHUNK_CHARS = 1 << 23
LEADING = "\ufeff \t\r\n"


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


def _without_line_breaks(text: str, terminator: str) -> str:
    for line_break in "\r\n":
        if line_break != terminator:
            text = text.replace(line_break, "")
    return text


def _split(text: str, terminator: str) -> pl.Series:
    segments = pl.Series("segment", [text]).str.split(terminator).explode()
    return segments.filter(segments != "")


def read_segments(path: Path) -> Iterator[tuple[Delimiters, int, pl.Series]]:
    """The file's segments a chunk at a time: (delimiters, number of the first, segments).

    Each interchange is split with the delimiters of its own ISA header. Line breaks
    around segments are dropped (they are not X12 data unless they are the terminator),
    and so are blank pieces: they are no segments and take no number.
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
            segments = _split(_without_line_breaks(piece, delimiters.segment), delimiters.segment)
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


def check_header(path: Path) -> None:
    """Raise NotX12Error now if the file's first ISA header cannot be read."""
    with path.open("r", encoding="utf-8", errors="replace", newline="") as fh:
        head = fh.read(4096).lstrip(LEADING)
    Delimiters.of(head[:ISA_LENGTH], 1)
