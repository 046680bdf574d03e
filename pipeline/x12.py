"""X12 837P (005010X222A1) claim files, read as canonical claim lines.

A small, strict, streaming reader of our own: a file is read in chunks, each split into
segments with the delimiters its interchange's ISA header declares (any element,
component and segment separators; line breaks between segments or not), so memory holds
a chunk and one batch of lines, never a file. It reads what the audit needs and checks
what could make that wrong; it is not a full implementation-guide validator.

A file is read twice. The first pass splits the text into segments
(pipeline/x12_segments.py) and checks the envelopes (ISA/IEA, GS/GE, ST/SE: counts,
control numbers, the transaction set being 837P 005010X222A1;
pipeline/x12_envelopes.py), since a trailer that condemns its envelope comes after the
lines it holds. The second pass maps each service line (loop 2400) to a canonical row:

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

The text is split into segments once: the first pass keeps the segments the second
reads, in files in a folder the caller gives. The second pass works on them as polars
columns, not segment by segment in Python: each segment's loops (billing provider,
subscriber, patient, claim, line) are carried down from the segments that open them,
and claims and lines are put together by joins. It takes the file a piece at a time,
each cut before a segment that closes a claim: a piece holds whole claims, and takes
from the pieces before it only the loops its first claim is in (`_Context`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pipeline.columns import CLAIMS
from pipeline.x12_envelopes import ENVELOPE_TAGS, Envelopes, Rejected
from pipeline.x12_segments import Delimiters, read_segments

log = logging.getLogger(__name__)

# The columns of the frames read_lines yields, besides the canonical ones.
SEGMENT = "segment"
PROBLEM_COLUMN = "problem_column"
PROBLEM_VALUE = "problem_value"
PROBLEM_REASON = "problem_reason"
# The canonical claim columns, in the order of a line's row (SCHEMA).
LINE_COLUMNS = CLAIMS.columns
SCHEMA = {
    SEGMENT: pl.Int64,
    **dict.fromkeys(LINE_COLUMNS, pl.String),
    PROBLEM_COLUMN: pl.String,
    PROBLEM_VALUE: pl.String,
    PROBLEM_REASON: pl.String,
}


# The segments the second pass reads, by their first three characters (with the element
# separator after a two-letter tag), as the names used below.
THREE_LETTER_KINDS = ("CLM", "SV1", "DTP", "NM1", "REF", "SBR", "ISA", "IEA")
TWO_LETTER_KINDS = ("LX", "HI", "HL", "GS", "GE", "ST", "SE")
KIND = pl.Enum([*THREE_LETTER_KINDS, *TWO_LETTER_KINDS])
# The elements read from segments of most kinds, taken out once; the others are taken
# from the few kinds that have them.
COMMON_ELEMENTS = (1, 2, 3, 9)
MISSING = 1 << 40  # a list index past the end of any list


def _kinds(d: Delimiters) -> dict[str, str]:
    return {
        **{tag: tag for tag in THREE_LETTER_KINDS},
        **{tag + d.element: tag for tag in TWO_LETTER_KINDS},
    }


# A segment of these kinds closes the claim before it: the file is cut into pieces
# before one, so a piece holds whole claims and the next needs only a _Context.
CLOSING = ("CLM", "HL", *ENVELOPE_TAGS)
LOOPS = {"20": "billing", "22": "subscriber", "23": "patient"}  # HL03's levels
LOOP = pl.Enum(["", *LOOPS.values(), "claim", "line", "other"])
# The segments that give a claim's names or open their loops, and the claims.
NAMING = ("NM1", "REF", "HL", "CLM", *ENVELOPE_TAGS)


@dataclass(frozen=True)
class _Context:
    """What a piece of the file takes from the pieces before it: the loops around its
    first claim ("" where there is none)."""

    billing: str = ""  # 2010AA's NPI
    subscriber: str = ""  # 2010BA's member id
    payer: str = ""  # 2010BB's name
    patient_loop: int = 0  # the segment of the 2000C HL, if the claims are a dependent's
    patient: str = ""  # 2010CA's id


def _first_pass(path: Path, folder: Path) -> tuple[list[Rejected], list[tuple[Delimiters, Path]]]:
    """The envelopes rejected; and the segments the second pass reads, kept in `folder`
    a file per chunk, so the file is split into segments once."""
    envelopes = Envelopes()
    chunks = []
    folder.mkdir(parents=True, exist_ok=True)
    for number, (d, first, segments) in enumerate(read_segments(path)):
        kept = (
            segments.to_frame("text")
            .with_row_index("segment", offset=first)
            .select(
                pl.col("segment").cast(pl.Int64),
                pl.col("text")
                .str.slice(0, 3)
                .replace_strict(_kinds(d), default=None, return_dtype=KIND)
                .alias("kind"),
                "text",
            )
            .filter(pl.col("kind").is_not_null())
        )
        envelopes.chunk(d, kept, first + len(segments) - 1)
        chunks.append((d, folder / f"{number:06d}.arrow"))
        kept.write_ipc(chunks[-1][1])
    return envelopes.end_of_file(), chunks


def _pieces(chunks: list[tuple[Delimiters, Path]]) -> Iterator[tuple[Delimiters, pl.DataFrame]]:
    """The segments the second pass reads, (segment, kind, el: the elements), a piece
    of the file at a time, each cut before a segment that closes a claim."""
    held: tuple[Delimiters, pl.DataFrame] | None = None
    for d, file in chunks:
        frame = pl.read_ipc(file).select("segment", "kind", el=pl.col("text").str.split(d.element))
        file.unlink()
        if held is not None and held[0] == d:
            frame = pl.concat([held[1], frame])
        elif held is not None:
            yield held  # the end of an interchange, before one with other delimiters
        closing = frame.get_column("kind").is_in(CLOSING).arg_true()
        cut = closing[-1] if closing.len() else 0
        if cut:
            yield d, frame.slice(0, cut)
        held = (d, frame.slice(cut))
    if held is not None and held[1].height:
        yield held


def _element(i: int) -> pl.Expr:
    """The segment's i-th element, "" where it has none."""
    if i in COMMON_ELEMENTS:
        return pl.col(f"e{i}")
    return pl.col("el").list.get(i, null_on_oob=True).fill_null("")


def _last(frame: pl.DataFrame, key: str, **values: pl.Expr) -> pl.DataFrame:
    """`values` of the last row of each `key` (the segment that came last wins)."""
    return frame.select(key, **values).unique(key, keep="last")


def _at_segment(segment: pl.Expr, column: str | pl.Expr, reason: str | pl.Expr) -> pl.Expr:
    """A problem's reason, naming the segment and element where it was found."""
    column = pl.lit(column) if isinstance(column, str) else column
    reason = pl.lit(reason) if isinstance(reason, str) else reason
    return pl.format("segment {} ({}): {}", segment, column, reason)


def _claim_rejected(segment: pl.Expr, column: str | pl.Expr, reason: str | pl.Expr) -> pl.Expr:
    """The reason of a problem that rejects the whole claim."""
    return pl.lit("claim rejected: ") + _at_segment(segment, column, reason)


def _piece_lines(
    segments: pl.DataFrame, d: Delimiters, context: _Context
) -> tuple[pl.DataFrame, _Context]:
    """The service lines of a piece of the file, with each claim's problem; and the
    context the next piece starts in."""
    common = (
        pl.col("el").list.get(i, null_on_oob=True).fill_null("").alias(f"e{i}")
        for i in COMMON_ELEMENTS
    )
    s = _loops(segments.with_columns(common))
    named = _names(s.filter(pl.col("kind").is_in(NAMING)), context)
    if named.height:
        last = named.tail(1).row(0, named=True)
        context = _Context(*(last[name] for name in _Context.__dataclass_fields__))
    kinds = s.partition_by("kind", as_dict=True)
    by_kind = {kind: kinds.get((kind,), s.clear()) for kind in KIND.categories}
    by_kind["CLM"] = named.filter(pl.col("kind") == "CLM")  # with the names they are in
    return _rows(by_kind, d), context


def _loops(segments: pl.DataFrame) -> pl.DataFrame:
    """Each segment with the loops it is read in (the claim and line it is in, and
    which loop), as the segments that open them set them, carried down to the
    segments after."""
    kind, number, level = pl.col("kind"), pl.col("segment"), pl.col("level")
    boundary, hl, clm = kind.is_in(ENVELOPE_TAGS), kind == "HL", kind == "CLM"
    closes = boundary | hl | clm
    frame = segments.with_columns(
        level=pl.when(hl).then(_element(3)),
        opened=pl.when(clm).then(number).when(boundary | hl).then(0).forward_fill().fill_null(0),
    )
    # A service line outside a claim opens one, with no claim id, that holds the lines
    # up to the next segment that closes a claim.
    stray = (kind == "LX") & (pl.col("opened") == 0)
    strays = stray.cast(pl.Int64).cum_sum()
    before = pl.when(closes).then(strays).forward_fill().fill_null(0)
    first_stray = stray & (strays - before == 1)
    orphan = pl.when(first_stray).then(number).when(closes).then(0).forward_fill().fill_null(0)
    frame = frame.with_columns(
        claim=pl.when(pl.col("opened") != 0).then(pl.col("opened")).otherwise(orphan),
        line=pl.when(kind == "LX").then(number).when(closes).then(0).forward_fill().fill_null(0),
        first_stray=first_stray,
    )

    def opens(name: str) -> pl.Expr:
        return pl.lit(name, dtype=LOOP)

    loop = (
        pl.when(boundary)
        .then(opens(""))
        .when(hl)
        .then(level.replace_strict(LOOPS, default="", return_dtype=LOOP))
        .when(clm)
        .then(opens("claim"))
        .when(kind == "LX")
        .then(opens("line"))
        # In a claim, SBR opens 2320 (other subscriber): its names are not this claim's.
        .when((kind == "SBR") & (pl.col("claim") != 0))
        .then(opens("other"))
        .forward_fill()
        .fill_null(opens(""))
    )
    return frame.with_columns(loop=loop)


def _names(segments: pl.DataFrame, context: _Context) -> pl.DataFrame:
    """The segments that name a claim's billing provider, subscriber, payer and patient
    (and those that open their loops, and the claims), each with the names given so far
    in its loops."""
    kind, number, level = pl.col("kind"), pl.col("segment"), pl.col("level")
    boundary, hl = kind.is_in(ENVELOPE_TAGS), kind == "HL"
    in_loop, who = pl.col("loop"), _element(1)
    nm1 = kind == "NM1"
    reset_transaction = boundary | (hl & (level == "20"))
    reset_subscriber = reset_transaction | (hl & (level == "22"))
    patient_reset = reset_subscriber | (hl & (level == "23"))

    def carried(reset: pl.Expr, cleared: object, value: pl.Expr, seed: object) -> pl.Expr:
        return pl.when(reset).then(pl.lit(cleared)).otherwise(value).forward_fill().fill_null(seed)

    def named(entity: str, loop: str, element: int) -> pl.Expr:
        return pl.when(nm1 & (who == entity) & (in_loop == loop)).then(_element(element))

    # The patient's id: 2010CA's NM109, else its REF*1W when no id came before it.
    qc = nm1 & (who == "QC") & (in_loop == "patient") & (_element(9) != "")
    ref = (kind == "REF") & (in_loop == "patient") & (who == "1W")
    gives_id = qc | (ref & (_element(2) != ""))
    ids = gives_id.cast(pl.Int64).cum_sum()
    ids_before = ids - gives_id.cast(pl.Int64) - pl.when(patient_reset).then(ids).forward_fill()
    patient = pl.when(qc).then(_element(9)).when(ref & (ids_before.fill_null(0) == 0))
    patient = patient.then(_element(2))
    return segments.with_columns(
        billing=carried(reset_transaction, "", named("85", "billing", 9), context.billing),
        subscriber=carried(reset_subscriber, "", named("IL", "subscriber", 9), context.subscriber),
        payer=carried(reset_subscriber, "", named("PR", "subscriber", 3), context.payer),
        patient_loop=carried(
            reset_subscriber,
            0,
            pl.when(hl & (level == "23")).then(number),
            context.patient_loop,
        ),
        patient=carried(patient_reset, "", patient, context.patient),
    )


def _rows(s: dict[str, pl.DataFrame], d: Delimiters) -> pl.DataFrame:
    """The piece's service lines as rows of SCHEMA (and the claim each is in), from its
    segments of each kind."""
    sv1, sv1_problems = _service(s["SV1"], d)
    dates = s["DTP"].filter(_element(1) == "472")
    dates = dates.with_columns(_service_date(_element(2), _element(3)))
    claim_dates = dates.filter((pl.col("loop") == "claim") & (pl.col("claim") != 0))
    lines = _lines(s, d, sv1, dates, claim_dates)
    codes, pointer_problems = _diagnosis_codes(s, lines, d)
    no_sv1 = lines.filter(pl.col("sv1_segment").is_null()).select(
        "claim",
        phase=pl.lit(1),
        order=pl.col("line"),
        column=pl.lit("SV1"),
        value=pl.lit(""),
        reason=_claim_rejected(pl.col("line"), "SV1", "a service line (LX) without SV1"),
    )
    problems = [_claim_problems(s, claim_dates, sv1_problems), no_sv1, pointer_problems]
    lines = lines.join(codes, on="line", how="left").join(
        _first_problems(problems), on="claim", how="left"
    )
    procedure = pl.col("procedure")
    modifiers = procedure.list.slice(2, 4).list.eval(pl.element().filter(pl.element() != ""))
    problem = pl.coalesce("claim_problem", "line_problem")
    return (
        lines.select(
            pl.col("line").alias(SEGMENT),
            "claim_id",
            "line_number",
            "patient_id",
            "payer",
            _first_given("line_rendering", "claim_rendering", "billing").alias("rendering_npi"),
            _first_given("line_date", "claim_date").alias("service_date"),
            procedure.list.get(1, null_on_oob=True).alias("cpt_code"),
            # X12 writes 2 units as "2.0" as well as "2".
            pl.col("units").str.replace(r"^([^.]+)\.0*$", "${1}").alias("units"),
            "claim_frequency",
            modifiers.list.join(",").alias("modifiers"),
            "charge",
            pl.col("codes").fill_null("").alias("diagnosis_codes"),
            _first_given("line_place", "claim_place").alias("place_of_service"),
            problem.struct.field("column").alias(PROBLEM_COLUMN),
            problem.struct.field("value").alias(PROBLEM_VALUE),
            problem.struct.field("reason").alias(PROBLEM_REASON),
            "claim",
            claim_rejected=pl.col("claim_problem").is_not_null(),
        )
        .cast(SCHEMA)
        .sort(SEGMENT)
    )


def _lines(
    s: dict[str, pl.DataFrame],
    d: Delimiters,
    sv1: pl.DataFrame,
    dates: pl.DataFrame,
    claim_dates: pl.DataFrame,
) -> pl.DataFrame:
    """Each service line (LX) with its claim's values and its own: its SV1, the last
    DTP*472 and rendering provider (NM1*82) of the line and of its claim."""
    loop, number = pl.col("loop"), pl.col("segment")
    line_dates = dates.filter((loop == "line") & (pl.col("line") != 0))
    line_problem = pl.struct(
        column=pl.col("problem_column"),
        value=pl.col("problem_value"),
        reason=_at_segment(number, pl.col("problem_column"), pl.col("problem_reason")),
    )
    date_problems = line_dates.filter(pl.col("problem_column").is_not_null())
    rendering = s["NM1"].filter(_element(1) == "82")
    own = [
        (sv1, "line"),
        (_last(line_dates, "line", line_date=pl.col("date")), "line"),
        (_last(date_problems, "line", line_problem=line_problem), "line"),
        (_last(claim_dates, "claim", claim_date=pl.col("date")), "claim"),
        (_last(rendering.filter(loop == "line"), "line", line_rendering=_element(9)), "line"),
        (_last(rendering.filter(loop == "claim"), "claim", claim_rendering=_element(9)), "claim"),
    ]
    lines = s["LX"].select("claim", "line", line_number=_element(1))
    lines = lines.join(_claims(s, d), on="claim", how="left")
    for values, key in own:
        lines = lines.join(values, on=key, how="left")
    return lines.sort("line")


def _first_problems(problems: list[pl.DataFrame]) -> pl.DataFrame:
    """Each claim's first problem: those found as its segments are read (phase 0) in
    their order, then those found once it is whole (phase 1), line by line."""
    return (
        pl.concat(problems, how="diagonal_relaxed")
        .sort("phase", "order", maintain_order=True)
        .unique("claim", keep="first")
        .select("claim", claim_problem=pl.struct("column", "value", "reason"))
    )


def _first_given(*columns: str) -> pl.Expr:
    """The first of `columns` that is given (not empty), else the last."""
    given = (pl.when(pl.col(c) != "").then(pl.col(c)) for c in columns[:-1])
    return pl.coalesce(*given, pl.col(columns[-1]))


def _claims(s: dict[str, pl.DataFrame], d: Delimiters) -> pl.DataFrame:
    """Each claim's own values: a CLM's, or none for the claim a stray line opens."""
    clm05 = _element(5).str.split(d.component)
    dependent = pl.col("patient_loop") != 0
    opened = s["CLM"].select(
        pl.col("segment").alias("claim"),
        claim_id=_element(1),
        claim_place=clm05.list.get(0, null_on_oob=True).fill_null(""),
        claim_frequency=clm05.list.get(2, null_on_oob=True).fill_null(""),
        patient_id=pl.when(dependent).then(pl.col("patient")).otherwise(pl.col("subscriber")),
        payer=pl.col("payer"),
        billing=pl.col("billing"),
    )
    strays = (
        s["LX"]
        .filter("first_stray")
        .select(
            pl.col("segment").alias("claim"),
            claim_id=pl.lit(""),
            claim_place=pl.lit(""),
            claim_frequency=pl.lit(""),
        )
    )
    return pl.concat([opened, strays], how="diagonal_relaxed")


def _claim_problems(
    s: dict[str, pl.DataFrame], claim_dates: pl.DataFrame, sv1_problems: pl.DataFrame
) -> pl.DataFrame:
    """The problems found as a claim's segments are read, in their order (phase 0)."""
    number = pl.col("segment")
    no_patient_id = s["CLM"].filter((pl.col("patient_loop") != 0) & (pl.col("patient") == ""))
    no_patient_id = no_patient_id.select(
        "claim",
        order=number,
        column=pl.lit("NM109"),
        value=pl.lit(""),
        reason=_claim_rejected(
            pl.col("patient_loop"), "NM109", "the patient loop 2010CA gives no id (NM109 or REF*1W)"
        ),
    )
    stray = (
        s["LX"]
        .filter("first_stray")
        .select(
            "claim",
            order=number,
            column=pl.lit("LX"),
            value=_element(1),
            reason=_claim_rejected(number, "LX", "a service line outside a claim"),
        )
    )
    dates = claim_dates.filter(pl.col("problem_column").is_not_null()).select(
        "claim",
        order=number,
        column=pl.col("problem_column"),
        value=pl.col("problem_value"),
        reason=_claim_rejected(number, pl.col("problem_column"), pl.col("problem_reason")),
    )
    return pl.concat([no_patient_id, stray, dates, sv1_problems]).with_columns(phase=pl.lit(0))


def _service(sv1: pl.DataFrame, d: Delimiters) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Each line's SV1 (the first in it) and the problems of the claims' SV1s."""
    number = pl.col("segment")
    inside = (pl.col("line") != 0) & (pl.col("loop") == "line")
    sv1 = sv1.filter(pl.col("claim") != 0).with_columns(
        inside=inside,
        first=inside & pl.col("line").is_first_distinct(),
        procedure=_element(1).str.split(d.component),
    )
    checks = _sv1_checks(d)
    # Which check an SV1 fails first, a number where most fail none; the problem's text
    # is made only for those that fail one.
    sv1 = sv1.with_columns(failed=_first_case([(fails, i) for i, (fails, *_) in enumerate(checks)]))
    which = pl.col("failed")

    def text(part: int) -> pl.Expr:
        return _first_case([(which == i, check[part]) for i, check in enumerate(checks)])

    problems = sv1.filter(which.is_not_null()).select(
        "claim",
        order=number,
        column=text(1),
        value=text(2),
        reason=_claim_rejected(number, text(1), text(3)),
    )
    assigned = sv1.filter("first").select(
        "line",
        "procedure",
        sv1_segment=number,
        charge=_element(2),
        units=_element(4),
        line_place=_element(5),
        pointers=_element(7),
    )
    return assigned, problems


def _first_case(cases: list[tuple[pl.Expr, int | pl.Expr]]) -> pl.Expr:
    """The value of the first case whose condition holds, null where none does."""
    (condition, value), *rest = cases
    chosen = pl.when(condition).then(value)
    for condition, value in rest:
        chosen = chosen.when(condition).then(value)
    return chosen


def _sv1_checks(d: Delimiters) -> list[tuple[pl.Expr, pl.Expr, pl.Expr, pl.Expr]]:
    """(fails, column, value, reason) of each check of an SV1, in the order they are
    made: the first it fails is its claim's problem."""
    procedure = pl.col("procedure")
    sv101, sv103, units, pointers = _element(1), _element(3), _element(4), _element(7)
    # Pointers are whole numbers between component separators (written as a code
    # point, which a regular expression reads whatever the character).
    separator = f"\\x{{{ord(d.component):X}}}"
    numbers = pointers.str.contains(f"^[0-9]+({separator}[0-9]+)*$")
    code = procedure.list.get(1, null_on_oob=True).fill_null("")
    none = pl.lit("")
    checks = [
        (~pl.col("inside"), "SV1", none, "SV1 outside a service line (no LX before it)"),
        (~pl.col("first"), "SV1", none, "a second SV1 in one service line"),
        (procedure.list.get(0) != "HC", "SV101", sv101, "SV101-1 is not HC (a CPT/HCPCS code)"),
        (code == "", "SV101", sv101, "SV101-2, the procedure code, is missing"),
        (procedure.list.len() > 7, "SV101", sv101, "SV101 has more than 7 components"),
        (sv103 != "UN", "SV103", sv103, "SV103 is not UN: the units cannot be read as units"),
        (units == "", "SV104", none, "SV104, the units, is missing"),
        (pointers == "", "SV107", none, "SV107, the diagnosis pointer, is missing"),
        (~numbers, "SV107", pointers, "SV107 holds a pointer that is not a number"),
    ]
    return [
        (fails, pl.lit(column), value, pl.lit(reason)) for fails, column, value, reason in checks
    ]


def _diagnosis_codes(
    s: dict[str, pl.DataFrame], lines: pl.DataFrame, d: Delimiters
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The codes each line's SV107 points to, and a problem (phase 1) for each pointer
    to no code of its claim's HI."""
    composite = pl.element().str.split(d.component)
    diagnoses = (
        s["HI"]
        .filter((pl.col("loop") == "claim") & (pl.col("claim") != 0))
        .select(
            "claim",
            listed=pl.col("el")
            .list.slice(1)
            .list.eval(
                pl.element()
                .filter(composite.list.get(0).is_in(["ABK", "ABF"]))
                .str.split(d.component)
                .list.get(1, null_on_oob=True)
                .fill_null("")
            ),
        )
        # A claim's HI segments list its codes one after another.
        .group_by("claim", maintain_order=True)
        .agg(pl.col("listed").list.explode(keep_nulls=False, empty_as_null=False))
    )
    numbers = pl.element().filter(pl.element().str.contains("^[0-9]+$"))
    # A pointer to no code (0, past the last, too long to be a number) is sent past the
    # end of the list, where it reads as null.
    index = (pl.element().cast(pl.Int64, strict=False) - 1).clip(0)
    index = pl.when(pl.element().cast(pl.Int64, strict=False) >= 1).then(index).otherwise(MISSING)
    pointed = (
        lines.filter(pl.col("sv1_segment").is_not_null())
        .select("claim", "line", "sv1_segment", pointers=pl.col("pointers").str.split(d.component))
        .with_columns(pointers=pl.col("pointers").list.eval(numbers))
        .join(diagnoses, on="claim", how="left")
        .with_columns(
            codes=pl.col("listed")
            .fill_null([])
            .list.gather(pl.col("pointers").list.eval(index.fill_null(MISSING)), null_on_oob=True)
        )
    )
    codes = pointed.select("line", codes=pl.col("codes").list.drop_nulls().list.join(","))
    problems = (
        pointed.filter(pl.col("codes").list.eval(pl.element().is_null()).list.any())
        .explode("pointers", "codes")
        .filter(pl.col("codes").is_null())
        .select(
            "claim",
            phase=pl.lit(1),
            order=pl.col("line"),
            column=pl.lit("SV107"),
            value=pl.col("pointers"),
            reason=_claim_rejected(
                pl.col("sv1_segment"),
                "SV107",
                pl.format(
                    "SV107 points to diagnosis {}; the claim lists {}",
                    pl.col("pointers"),
                    pl.col("listed").list.len().fill_null(0),
                ),
            ),
        )
    )
    return codes, problems


def _service_date(qualifier: pl.Expr, value: pl.Expr) -> list[pl.Expr]:
    """DTP*472's date as YYYY-MM-DD text (validation judges it), and a problem."""
    days = value.str.splitn("-", 2)
    start = days.struct.field("field_0").fill_null("")
    end = days.struct.field("field_1").fill_null("")
    one_day = pl.when(qualifier == "RD8").then(start).otherwise(value)
    digits = one_day.str.contains("^[0-9]{8}$")
    date = pl.when(digits).then(
        pl.concat_str(
            one_day.str.slice(0, 4), one_day.str.slice(4, 2), one_day.str.slice(6), separator="-"
        )
    )
    range_of_days = (qualifier == "RD8") & (start != end)
    not_d8 = (qualifier != "RD8") & (qualifier != "D8")
    return [
        pl.when(range_of_days | not_d8)
        .then(value)
        .otherwise(date.fill_null(one_day))
        .alias("date"),
        pl.when(range_of_days)
        .then(pl.lit("DTP03"))
        .when(not_d8)
        .then(pl.lit("DTP02"))
        .alias("problem_column"),
        pl.when(range_of_days).then(value).when(not_d8).then(qualifier).alias("problem_value"),
        pl.when(range_of_days)
        .then(pl.lit("the service date is a range of days, not one day"))
        .when(not_d8)
        .then(pl.lit("the service date's format is not D8"))
        .alias("problem_reason"),
    ]


def _envelope_problems(rows: pl.DataFrame, rejected: list[Rejected]) -> pl.DataFrame:
    """The rows with the problem of the rejected envelope each is in, if any, in place
    of its own: a clearinghouse rejects the envelope before it looks at a claim."""
    if not rejected:
        return rows
    runs = pl.DataFrame(
        [(r.first, r.last, r.column, r.value, r.reason) for r in rejected],
        schema={
            "first": pl.Int64,
            "last": pl.Int64,
            "c": pl.String,
            "v": pl.String,
            "r": pl.String,
        },
        orient="row",
    )
    matched = rows.join_asof(runs, left_on=SEGMENT, right_on="first", strategy="backward")
    inside = pl.col(SEGMENT) <= pl.col("last")
    return matched.with_columns(
        pl.when(inside).then(pl.col(c)).otherwise(pl.col(own)).alias(own)
        for c, own in (("c", PROBLEM_COLUMN), ("v", PROBLEM_VALUE), ("r", PROBLEM_REASON))
    ).drop("first", "last", "c", "v", "r")


def read_lines(path: Path, rows: int, folder: Path) -> Iterator[pl.DataFrame]:
    """The file's service lines in file order, `rows` at a time (a claim's lines stay
    together, so a batch can hold a few more; the last batch may be empty). `folder`
    holds the file's segments between the two passes."""
    rejected, chunks = _first_pass(path, folder)
    if rejected:
        log.info("%s: %d envelopes rejected", path, len(rejected))
    context = _Context()
    held: list[pl.DataFrame] = []
    claims_rejected = 0
    for d, piece in _pieces(chunks):
        lines, context = _piece_lines(piece, d, context)
        lines = _envelope_problems(lines, rejected)
        claims_rejected += lines.filter("claim_rejected").get_column("claim").n_unique()
        held.append(lines)
        while sum(f.height for f in held) >= rows:
            batch, rest = _cut(pl.concat(held), rows)
            yield batch
            held = [rest]
    yield pl.concat([pl.DataFrame(schema=SCHEMA), *held], how="diagonal").select(list(SCHEMA))
    if claims_rejected:
        log.info("%s: %d claims rejected while reading", path, claims_rejected)


def _cut(lines: pl.DataFrame, rows: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The first batch of `lines`, `rows` of them or more; and the rest."""
    end = next(batch_ends(lines.get_column("claim"), rows))
    return lines.slice(0, end).select(list(SCHEMA)), lines.slice(end)


def batch_ends(claims: pl.Series, rows: int) -> Iterator[int]:
    """Where each batch of lines ends (the place past its last line), the lines being
    those of `claims` (each line's claim, a claim's lines together): a batch holds
    `rows` lines or more, up to the end of the claim that brings it to `rows`; the last
    holds what is left."""
    ends = (claims != claims.shift(-1)).fill_null(True).arg_true()
    end = 0
    while end < claims.len():
        end = ends[min(ends.search_sorted(end + rows - 1), ends.len() - 1)] + 1
        yield end
