"""X12 837P claim files: written by bench.x12 from canonical rows, audited through the
real command line beside the same rows as CSV, and broken in the ways real files are."""

from __future__ import annotations

import logging
from pathlib import Path

import duckdb
import polars as pl
import pytest

from bench.x12 import BILLING_NPI, Separators, Written, write_837p
from pipeline import x12, x12_segments
from pipeline.columns import CLAIMS
from tests.conftest import (
    OT_NPI,
    PT_NPI,
    PTA_NPI,
    back_to_back,
    claim,
    csv_bytes,
    segment,
)

GP_THERAPIST = "1003000126"  # a second PT, valid check digit


def line(
    cpt: str,
    units: int,
    *,
    frequency: str = "1",
    charge: str = "30.00",
    diagnosis_codes: str = "M54.50",
    place_of_service: str = "11",
    **fields: str,
) -> dict[str, str | None]:
    return claim(cpt, units, frequency=frequency, **fields) | {
        "charge": charge,
        "diagnosis_codes": diagnosis_codes,
        "place_of_service": place_of_service,
    }


# Several claims and lines: a PTA's line with CQ, a replacement (7) and a void (8), the
# rendering provider on the claim, on each line, and left to the billing provider; a
# dependent patient; diagnosis pointers; a telehealth place of service on one line.
ROWS = [
    line("97110", 2, claim_id="C1", line=1, modifiers="GP", diagnosis_codes="M54.50,M25.561"),
    line("97140", 1, claim_id="C1", line=2, modifiers="GP,59", diagnosis_codes="M25.561"),
    line("97530", 2, claim_id="C2", line=1, modifiers="GP,CQ", npi=PTA_NPI, patient="P2"),
    line("97110", 1, claim_id="C2", line=2, modifiers="GP", npi=PT_NPI, patient="P2"),
    line("97110", 3, claim_id="C3", line=1, frequency="7", patient="P3", charge="90.00"),
    line("97112", 1, claim_id="C3", line=1, frequency="8", patient="P3", date="2025-10-07"),
    line(
        "97165",
        1,
        claim_id="C4",
        line=1,
        modifiers="GO",
        npi=OT_NPI,
        patient="P4",
        payer="AETNA",
        place_of_service="02",
    ),
    line(
        "97535",
        2,
        claim_id="C4",
        line=2,
        modifiers="GO,95",
        npi=OT_NPI,
        patient="P4",
        payer="AETNA",
        place_of_service="10",
    ),
    line("97110", 2, claim_id="C5", line=1, npi=BILLING_NPI, patient="P5", payer="AETNA"),
    line(
        "97116",
        1,
        claim_id="C6",
        line=1,
        npi=GP_THERAPIST,
        patient="P6",
        payer="AETNA",
        diagnosis_codes="S83.511D",
    ),
]
SUBSCRIBERS = {"P6": "S600"}  # P6 is a dependent of subscriber S600
STORED = (
    "SELECT * EXCLUDE (loaded_run_id, diagnosis_codes), replace(diagnosis_codes, '.', '') "
    "AS diagnosis_codes FROM claim_lines ORDER BY ALL"
)
SEPARATORS = {
    "tilde and newline": Separators(),
    "tilde, one line": Separators(newline=False),
    "pipe, caret, newline terminator": Separators(
        element="|", component="^", repetition="{", segment="\n", newline=False
    ),
    "exclamation, backslash, quote": Separators(element="!", component="\\", segment="'"),
}


def frame(rows: list[dict]) -> pl.DataFrame:
    subscribers = [SUBSCRIBERS.get(r["patient_id"]) for r in rows]
    return pl.DataFrame(rows).with_columns(pl.Series("subscriber_id", subscribers))


def write(path: Path, rows: list[dict], **options) -> Written:
    written = write_837p(frame(rows), **options)
    path.write_text(written.text, encoding="utf-8")
    return written


SEGMENTS = [
    *back_to_back(("97110", 30), ("97140", 10)),
    *back_to_back(("97530", 30), ("97110", 10), patient="P2", role="PTA", npi=PTA_NPI),
    *back_to_back(("97110", 45), patient="P3"),
    segment("97112", 15, patient="P3", date="2025-10-07"),
    *back_to_back(("97535", 30), patient="P4", role="OT", npi=OT_NPI),
    *back_to_back(("97110", 20), patient="P5", npi=BILLING_NPI),
    *back_to_back(("97116", 12), patient="P6", npi=GP_THERAPIST),
]


def stored(db: Path) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(STORED).fetchall()


@pytest.fixture
def timelogs(tmp_path: Path) -> Path:
    path = tmp_path / "timelogs.csv"
    path.write_bytes(csv_bytes(SEGMENTS))
    return path


@pytest.mark.parametrize("separators", SEPARATORS.values(), ids=SEPARATORS.keys())
def test_an_837p_file_audits_as_the_same_rows_in_csv(tmp_path, cli, timelogs, separators):
    edi = tmp_path / "claims.837"
    write(edi, ROWS, separators=separators, claims_per_transaction=2, interchanges=2)
    as_csv = tmp_path / "csv" / "claims.csv"
    as_csv.parent.mkdir()
    as_csv.write_bytes(csv_bytes(ROWS))

    from_edi = cli([edi], [timelogs])
    from_csv = cli([as_csv], [timelogs], "--out", str(tmp_path / "csv" / "out"), "--db",
                   str(tmp_path / "csv" / "store.duckdb"))  # fmt: skip
    assert from_edi.exit_code == from_csv.exit_code == 0
    assert from_edi.rejects.is_empty()
    assert stored(from_edi.db) == stored(tmp_path / "csv" / "store.duckdb")
    assert len(stored(from_edi.db)) == len(ROWS)
    findings = (tmp_path / "csv" / "out" / "findings.csv").read_text()
    assert (from_edi.out / "findings.csv").read_text() == findings
    assert findings.count("\n") > 1  # the files do hold findings to compare
    summary = from_edi.summary["inputs"][0]
    assert (summary["rows_read"], summary["rows_accepted"]) == (len(ROWS), len(ROWS))


def test_each_837p_element_lands_in_its_canonical_column(tmp_path):
    edi = tmp_path / "claims.837"
    written = write(edi, ROWS)
    lines = pl.concat(x12.read_lines(edi, 1000, tmp_path / "spill"))
    by_claim = {
        (r["claim_id"], r["claim_frequency"], r["line_number"]): r for r in lines.to_dicts()
    }
    pta = by_claim[("C2", "1", "1")]
    assert (pta["cpt_code"], pta["modifiers"], pta["units"]) == ("97530", "GP,CQ", "2")
    assert pta["rendering_npi"] == PTA_NPI  # 2420A, on the line
    assert by_claim[("C1", "1", "2")]["rendering_npi"] == PT_NPI  # 2310B, on the claim
    assert by_claim[("C5", "1", "1")]["rendering_npi"] == BILLING_NPI  # 2010AA
    assert by_claim[("C1", "1", "1")]["diagnosis_codes"] == "M5450,M25561"
    assert by_claim[("C1", "1", "2")]["diagnosis_codes"] == "M25561"  # SV107 points to 2
    assert by_claim[("C3", "7", "1")]["charge"] == "90.00"
    assert by_claim[("C3", "8", "1")]["service_date"] == "2025-10-07"
    assert by_claim[("C4", "1", "2")]["place_of_service"] == "10"  # SV105 over CLM05-1
    assert by_claim[("C4", "1", "1")]["place_of_service"] == "02"
    assert by_claim[("C6", "1", "1")]["patient_id"] == "P6"  # 2010CA REF*1W, not S600
    assert by_claim[("C6", "1", "1")]["payer"] == "AETNA"
    assert lines.get_column(x12.SEGMENT).to_list() == written.line_segments
    assert lines.get_column(x12.PROBLEM_REASON).null_count() == len(ROWS)


def test_batches_keep_claims_whole_and_read_across_chunks(tmp_path, monkeypatch):
    edi = tmp_path / "claims.837"
    write(edi, ROWS, separators=Separators(newline=False))
    monkeypatch.setattr(x12_segments, "CHUNK_CHARS", 64)  # many chunks, segments cut across them
    batches = [b for b in x12.read_lines(edi, 3, tmp_path / "spill") if b.height]
    assert sum(b.height for b in batches) == len(ROWS)
    assert [b.height for b in batches] == [4, 4, 2]  # a batch ends after a whole claim
    whole = pl.concat(x12.read_lines(edi, 1000, tmp_path / "spill")).drop(x12.SEGMENT)
    assert pl.concat(batches).drop(x12.SEGMENT).equals(whole)


def test_interchanges_with_their_own_delimiters_read_as_each_alone(tmp_path, monkeypatch):
    """Each interchange is read with the delimiters its own ISA declares, also when a
    piece of the file held back at the end of one is followed by another."""
    first, second = ROWS[:4], ROWS[4:]
    texts = [
        write_837p(frame(first)).text,
        write_837p(frame(second), separators=SEPARATORS["exclamation, backslash, quote"]).text,
    ]
    edi = tmp_path / "claims.837"
    edi.write_text("".join(texts), encoding="utf-8")
    monkeypatch.setattr(x12_segments, "CHUNK_CHARS", 200)
    lines = pl.concat(x12.read_lines(edi, 3, tmp_path / "spill"))
    assert lines.get_column(x12.PROBLEM_REASON).null_count() == len(ROWS)
    expected = frame(ROWS).select("claim_id", "cpt_code", "modifiers", "patient_id")
    assert lines.select(expected.columns).equals(expected)


def rejections_text() -> str:
    """ROWS a claim to a transaction set, with a claim rejected early in the file, one
    late, and the last transaction set's envelope broken."""
    text = write_837p(frame(ROWS), claims_per_transaction=1, interchanges=2).text
    text = broken(text, "SV1*HC:97140:GP:59*30.00*UN*1", "SV1*HC:97140:GP:59*30.00*MJ*1")
    text = broken(text, "SV1*HC:97535", "SV1*ZZ:97535")
    last_se = text.rindex("\nSE*") + 1
    return text[:last_se] + "SE*999" + text[text.index("*", last_se + 3) :]


def test_a_file_read_in_small_pieces_gives_the_rows_read_whole(tmp_path, monkeypatch, caplog):
    """Each piece of the file (cut before a claim or loop opens) starts in the loops
    the pieces before it left open: the billing provider, subscriber, payer, patient."""
    edi = tmp_path / "claims.837"
    edi.write_text(rejections_text(), encoding="utf-8")
    whole = pl.concat(x12.read_lines(edi, 1000, tmp_path / "spill"))
    monkeypatch.setattr(x12_segments, "CHUNK_CHARS", 64)  # a piece for about every segment
    with caplog.at_level(logging.INFO, logger="pipeline.x12"):
        batches = [b for b in x12.read_lines(edi, 3, tmp_path / "spill") if b.height]
    assert pl.concat(batches).equals(whole)
    assert all(b.height <= 4 for b in batches)  # rows at a time, claims whole
    patients = [row["patient_id"] for row in ROWS]
    assert whole.get_column("patient_id").to_list() == patients
    reasons = " ".join(whole.get_column(x12.PROBLEM_REASON).drop_nulls())
    assert all(problem in reasons for problem in ("SV103", "SV101-1", "SE01 counts 999"))
    assert "2 claims rejected while reading" in caplog.text


def broken(text: str, old: str, new: str, count: int = 1) -> str:
    assert old in text
    return text.replace(old, new, count)


def audit_text(tmp_path: Path, cli, timelogs: Path, text: str):
    edi = tmp_path / "claims.837"
    edi.write_text(text, encoding="utf-8")
    outputs = cli([edi], [timelogs])
    assert outputs.exit_code == 0
    summary = outputs.summary["inputs"][0]
    assert summary["rows_read"] == summary["rows_accepted"] + summary["rows_rejected"]
    return outputs


def test_a_transaction_set_whose_count_is_wrong_is_rejected_whole(tmp_path, cli, timelogs):
    written = write_837p(frame(ROWS), claims_per_transaction=3)
    text = broken(written.text, "\nSE*", "\nSE*9")
    outputs = audit_text(tmp_path, cli, timelogs, text)
    rejects = outputs.rejects
    # The first set holds claims C1, C2 and C3 (7): five lines.
    assert rejects.height == 5
    assert set(rejects.get_column("column")) == {"SE01"}
    assert rejects.get_column("reason")[0].startswith("transaction set ST 0001 (segments 3-")
    assert "SE01 counts 9" in rejects.get_column("reason")[0]
    assert rejects.get_column("row_number").cast(int).to_list() == written.line_segments[:5]
    assert outputs.summary["inputs"][0]["rows_accepted"] == len(ROWS) - 5


def test_an_interchange_whose_trailer_does_not_match_is_rejected_whole(tmp_path, cli, timelogs):
    written = write_837p(frame(ROWS), interchanges=2)
    text = broken(written.text, "IEA*1*000000002", "IEA*1*000000009")
    rejects = audit_text(tmp_path, cli, timelogs, text).rejects
    second = written.line_segments[6:]  # C4, C5 and C6: the second interchange's claims
    assert rejects.get_column("row_number").cast(int).to_list() == second
    assert set(rejects.get_column("value")) == {"000000009"}
    assert "IEA02 does not match ISA13 (000000002)" in rejects.get_column("reason")[0]


def test_lines_between_transaction_sets_are_rejected_as_outside_any(tmp_path, cli, timelogs):
    written = write_837p(frame(ROWS), claims_per_transaction=3)
    after_first_set = written.text.index("~", written.text.index("\nSE*")) + 1
    stray = "\nLX*1~\nSV1*HC:97110*30.00*UN*1***1~"
    text = written.text[:after_first_set] + stray + written.text[after_first_set:]
    outputs = audit_text(tmp_path, cli, timelogs, text)
    lx = written.text[:after_first_set].count("~") + 1  # the segment after the first SE
    rejects = outputs.rejects
    assert rejects.select("row_number", "column").rows() == [(str(lx), "segment")]
    assert rejects.get_column("reason")[0] == "segments outside a transaction set"
    assert outputs.summary["inputs"][0]["rows_read"] == len(ROWS) + 1


def test_a_file_cut_short_rejects_the_envelopes_it_leaves_open(tmp_path, cli, timelogs):
    written = write_837p(frame(ROWS))
    text = written.text[: written.text.index("LX*1~\nSV1*HC:97116")]
    rejects = audit_text(tmp_path, cli, timelogs, text).rejects
    assert rejects.height == len(ROWS) - 1  # the last line's LX was cut off
    assert set(rejects.get_column("column")) == {"IEA"}
    assert "no IEA closes it" in rejects.get_column("reason")[0]


MALFORMED = {
    "units in minutes": ("SV1*HC:97140:GP:59*30.00*UN*1", "SV1*HC:97140:GP:59*30.00*MJ*1",
                         "SV103", "SV103 is not UN"),
    "no procedure code": ("SV1*HC:97140:GP:59*", "SV1*HC*", "SV101", "SV101-2"),
    "not a CPT code": ("SV1*HC:97140", "SV1*ZZ:97140", "SV101", "SV101-1 is not HC"),
    "no units": ("SV1*HC:97140:GP:59*30.00*UN*1", "SV1*HC:97140:GP:59*30.00*UN*",
                 "SV104", "SV104, the units, is missing"),
    "pointer to no code": ("UN*1***2~", "UN*1***3~", "SV107", "SV107 points to diagnosis 3"),
    "a line without SV1": ("SV1*HC:97140:GP:59*30.00*UN*1***2~", "REF*6R*1~", "SV1", "without SV1"),
}  # fmt: skip


@pytest.mark.parametrize("case", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_claim_with_a_malformed_service_line_is_rejected_whole(tmp_path, cli, timelogs, case):
    old, new, column, reason = case
    written = write_837p(frame(ROWS))
    outputs = audit_text(tmp_path, cli, timelogs, broken(written.text, old, new))
    rejects = outputs.rejects
    # C1's two lines, the good one too, with the segment of the fault in the reason.
    assert rejects.get_column("row_number").cast(int).to_list() == written.line_segments[:2]
    assert set(rejects.get_column("column")) == {column}
    assert rejects.get_column("reason")[0].startswith("claim rejected: segment ")
    assert reason in rejects.get_column("reason")[0]
    assert outputs.summary["inputs"][0]["rows_accepted"] == len(ROWS) - 2


def test_values_are_validated_as_a_csv_exports_are(tmp_path, cli, timelogs):
    rows = [r | {"rendering_npi": "1234567890"} if r["claim_id"] == "C1" else r for r in ROWS]
    written = write_837p(frame(rows))
    text = broken(written.text, "DTP*472*D8*20251006", "DTP*472*RD8*20251006-20251008")
    rejects = audit_text(tmp_path, cli, timelogs, text).rejects.sort("row_number")
    assert rejects.select("row_number", "column").rows() == [
        (str(written.line_segments[0]), "DTP03"),  # a range of days: that line only
        (str(written.line_segments[1]), "rendering_npi"),  # 2310B: both of C1's lines
    ]
    assert "the service date is a range of days" in rejects.get_column("reason")[0]


def test_an_unreadable_isa_header_stops_the_run_naming_the_file(tmp_path, cli, timelogs, capsys):
    edi = tmp_path / "claims.837"
    edi.write_text("ISA*00*short~GS*HC~", encoding="utf-8")
    assert cli([edi], [timelogs]).exit_code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].endswith(f"{edi}: not a readable X12 file: the ISA header at segment 1 "
                            "cannot be read: it is 19 characters long, not 106")  # fmt: skip


def test_an_837p_file_given_as_time_logs_stops_the_run(tmp_path, cli, capsys):
    edi = tmp_path / "claims.837"
    write(edi, ROWS)
    assert cli([edi], [edi]).exit_code == 2
    assert "an X12 837P file holds claims, not timelogs" in capsys.readouterr().err


def test_the_837p_columns_are_the_canonical_claim_columns():
    assert set(x12.LINE_COLUMNS) == set(CLAIMS.columns)
