"""NCCI_PAIR_MODIFIER_MISSING, NCCI_PAIR_NOT_ALLOWED and MUE_EXCEEDED end to end, and the
loaders of CMS's own PTP and MUE files: rows in, findings.csv out."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline import edits
from pipeline.errors import UsageError
from tests.conftest import OT_NPI, PT_NPI, claim, segment, write_csv

MINE = ("NCCI_PAIR_MODIFIER_MISSING", "NCCI_PAIR_NOT_ALLOWED", "MUE_EXCEEDED")
MEDICARE, COMMERCIAL = "MEDICARE PART B", "AETNA"
RATE_97110_2025 = 28.79  # (0.45 + 0.43 + 0.01) RVU x $32.3465
RATE_97140_2025 = 27.17  # (0.43 + 0.40 + 0.01) RVU x $32.3465
# A segment on another patient and day: these rules read no time log, and the unit
# rules leave days the time log does not cover alone.
ELSEWHERE = [segment("97110", 15, patient="P9", date="2019-06-03")]

CMS_PTP_HEAD = (
    "Column 1/Column 2 Edits\n"
    "CPT codes, descriptions and other data only are copyright 2024 American Medical "
    "Association. All Rights Reserved.\n"
    "\n"
    "Column 1\tColumn 2\t*=in existence prior to 1996\tEffective Date\t"
    "Deletion Date *=no data\tModifier 0=not allowed 1=allowed 9=not applicable\t"
    "PTP Edit Rationale\n"
)
CMS_MUE_HEAD = (
    '"CPT codes and descriptions only are copyright 2024 American Medical Association. '
    'All Rights Reserved."\n'
    "\n"
    "HCPCS/CPT Code,Practitioner Services MUE Values,MUE Adjudication Indicator,"
    "MUE Rationale\n"
)


def mine(outputs) -> list[dict]:
    rows = outputs.findings.filter(outputs.findings["rule_id"].is_in(MINE))
    return rows.sort("rule_id", "claim_id", "line_number").to_dicts()


def key(finding: dict) -> tuple:
    return (
        finding["rule_id"],
        finding["claim_id"],
        finding["line_number"],
        finding["cpt_code"],
        finding["units_billed"],
        finding["units_supported"],
        finding["units_at_risk"],
    )


def ptp_row(c1: str, c2: str, effective: str, deletion: str, indicator: str) -> str:
    return f"{c1}\t{c2}\t\t{effective}\t{deletion}\t{indicator}\tMisuse of column two code\n"


def config_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ptaudit.toml"
    path.write_text(text)
    return path


# --- NCCI_PAIR_MODIFIER_MISSING ---------------------------------------------------------


def test_97140_with_97530_without_a_modifier_is_flagged_on_the_column_two_line(audit_rows):
    claims = [claim("97530", 2), claim("97140", 1, line=2, modifiers="GP,CQ")]
    (finding,) = mine(audit_rows(claims, ELSEWHERE))
    assert key(finding) == ("NCCI_PAIR_MODIFIER_MISSING", "C1", "2", "97140", "1", "0", "1")
    assert finding["provider_npi"] == PT_NPI
    # The assistant rate applies to a CQ line: 85% of the fee.
    assert float(finding["amount_at_risk"]) == round(RATE_97140_2025 * 0.85, 2)
    assert finding["message"] == (
        "97140 (claim C1 line 2, x1, modifiers GP,CQ) billed with 97530 (claim C1 line 1) "
        f"for the same patient on 2025-10-06 by rendering NPI {PT_NPI} without any of 59, XE, "
        "XP, XS, XU: NCCI PTP edit 97530/97140 (column one/column two), modifier indicator 1, "
        "effective 2019-01-01. The column-two code is paid only with a modifier showing a "
        "distinct service."
    )


def test_a_bypass_modifier_on_the_column_two_line_satisfies_the_edit(audit_rows):
    claims = []
    for n, modifiers in enumerate(["GP,59", "GP,XE", "GP,XS", "XP", "XU,GP", "GP"], start=1):
        claims += [
            claim("97530", 2, claim_id=f"C{n}", patient=f"P{n}"),
            claim("97140", 1, claim_id=f"C{n}", line=2, patient=f"P{n}", modifiers=modifiers),
        ]
    found = [key(f)[:4] for f in mine(audit_rows(claims, ELSEWHERE))]
    assert found == [("NCCI_PAIR_MODIFIER_MISSING", "C6", "2", "97140")]


def test_a_modifier_on_the_column_one_line_only_counts_when_configured(tmp_path, audit_rows):
    claims = [claim("97530", 2, modifiers="GP,59"), claim("97140", 1, line=2)]
    (finding,) = mine(audit_rows(claims, ELSEWHERE))
    assert key(finding)[:4] == ("NCCI_PAIR_MODIFIER_MISSING", "C1", "2", "97140")
    config = config_file(
        tmp_path, "[rules.NCCI_PAIR_MODIFIER_MISSING.params]\naccept_bypass_on_column_one = true\n"
    )
    assert mine(audit_rows(claims, ELSEWHERE, "--config", str(config))) == []


def test_the_bypass_modifiers_are_a_parameter(tmp_path, audit_rows):
    config = config_file(
        tmp_path, '[rules.NCCI_PAIR_MODIFIER_MISSING.params]\nbypass_modifiers = ["XU"]\n'
    )
    claims = [claim("97530", 2), claim("97140", 1, line=2, modifiers="GP,59")]
    (finding,) = mine(audit_rows(claims, ELSEWHERE, "--config", str(config)))
    assert "without any of XU:" in finding["message"]


def test_the_pair_counts_across_claims_of_one_provider_and_day(audit_rows):
    claims = [claim("97530", 2), claim("97140", 1, claim_id="C2", payer=COMMERCIAL)]
    (finding,) = mine(audit_rows(claims, ELSEWHERE))
    assert key(finding)[:4] == ("NCCI_PAIR_MODIFIER_MISSING", "C2", "1", "97140")
    assert finding["payer"] == COMMERCIAL
    assert "billed with 97530 (claim C1 line 1)" in finding["message"]


def test_no_pair_across_providers_days_or_patients(audit_rows):
    claims = [
        claim("97530", 2, claim_id="A1", patient="PA"),
        claim("97140", 1, claim_id="A2", patient="PA", npi=OT_NPI),
        claim("97530", 2, claim_id="B1", patient="PB"),
        claim("97140", 1, claim_id="B2", patient="PB", date="2025-10-07"),
        claim("97530", 2, claim_id="C1", patient="PC"),
        claim("97140", 1, claim_id="D1", patient="PD"),
    ]
    assert mine(audit_rows(claims, ELSEWHERE)) == []


def test_a_voided_claim_forms_no_pair(audit_rows):
    claims = [
        claim("97530", 2),
        claim("97140", 1, claim_id="C2"),
        claim("97530", 2, frequency="8"),
    ]
    assert mine(audit_rows(claims, ELSEWHERE)) == []


def test_an_edit_applies_from_its_effective_date_until_before_its_deletion_date(audit_rows):
    # 97530/97116: in force 2020-01-01 to 2020-04-01, deleted, reinstated 2020-10-01.
    days = {
        "2019-12-31": False,  # before the edit's first effective date
        "2020-01-01": True,
        "2020-03-31": True,
        "2020-04-01": False,  # the deletion date itself: no longer in force
        "2020-09-30": False,
        "2020-10-01": True,  # reinstated
    }
    claims = []
    for day in days:
        claims += [
            claim("97530", 2, claim_id=day, date=day),
            claim("97116", 1, claim_id=day, line=2, date=day),
        ]
    found = {f["claim_id"]: key(f)[:4] for f in mine(audit_rows(claims, ELSEWHERE))}
    assert found == {
        day: ("NCCI_PAIR_MODIFIER_MISSING", day, "2", "97116") for day, hit in days.items() if hit
    }


def test_the_withdrawn_january_2020_evaluation_edits_never_apply(audit_rows):
    # 97161 with 97530 (indicator 0) was withdrawn from its effective date; 97161 with
    # 97140 stayed in force from 2020-01-01 to 2020-04-01, beside 97530 with 97140.
    day = "2020-02-03"
    claims = [
        claim("97161", 1, date=day),
        claim("97530", 2, line=2, date=day),
        claim("97140", 1, line=3, date=day),
    ]
    (finding,) = mine(audit_rows(claims, ELSEWHERE))
    assert key(finding) == ("NCCI_PAIR_MODIFIER_MISSING", "C1", "3", "97140", "1", "0", "1")
    assert "billed with 97161 (claim C1 line 1)" in finding["message"]
    assert "effective 2020-01-01" in finding["message"]
    assert "(also column two to 97530 that day)" in finding["message"]


def test_the_re_evaluation_is_column_two_of_97530(audit_rows):
    claims = [claim("97164", 1), claim("97530", 2, line=2)]
    (finding,) = mine(audit_rows(claims, ELSEWHERE))
    assert key(finding)[:4] == ("NCCI_PAIR_MODIFIER_MISSING", "C1", "1", "97164")
    assert float(finding["amount_at_risk"]) > 0


# --- NCCI_PAIR_NOT_ALLOWED, with CMS's PTP file ---------------------------------------------


@pytest.fixture
def cms_ptp(tmp_path) -> Path:
    """A CMS practitioner PTP file in its text form, as a practice downloads it."""
    path = tmp_path / "ccipra-v261r0-f1.txt"
    path.write_text(
        CMS_PTP_HEAD
        + ptp_row("97161", "97530", "20200101", "20200401", "0")
        + ptp_row("97150", "97530", "20200101", "*", "1")
        + ptp_row("97530", "97140", "19960101", "*", "1").replace("\t\t", "\t*\t", 1)
        + ptp_row("97530", "97116", "20200101", "*", "9")
    )
    return path


@pytest.fixture
def cms_config(tmp_path, cms_ptp) -> Path:
    return config_file(tmp_path, f'[reference]\nncci_ptp = ["{cms_ptp.name}"]\n')


def test_an_indicator_0_pair_is_flagged_whatever_the_modifiers(audit_rows, cms_config):
    # The file's 97161/97530 edit runs from 2020-01-01 until before 2020-04-01.
    claims = []
    for day in ("2020-03-31", "2020-04-01"):
        claims += [
            claim("97161", 1, claim_id=day, date=day),
            claim("97530", 2, claim_id=day, line=2, date=day, modifiers="GP,59"),
        ]
    (finding,) = mine(audit_rows(claims, ELSEWHERE, "--config", str(cms_config)))
    assert key(finding) == ("NCCI_PAIR_NOT_ALLOWED", "2020-03-31", "2", "97530", "2", "0", "2")
    assert finding["severity"] == "high"
    assert finding["message"] == (
        "97530 (claim 2020-03-31 line 2, x2) billed with 97161 (claim 2020-03-31 line 1) for "
        f"the same patient on 2020-03-31 by rendering NPI {PT_NPI}: NCCI PTP edit 97161/97530 "
        "(column one/column two), modifier indicator 0, effective 2020-01-01. No modifier "
        "allows both; the column-two code is not payable."
    )


def test_a_line_under_both_kinds_of_edit_is_reported_once(audit_rows, cms_config):
    # 97530 is column two of 97161 (indicator 0) and of 97150 (indicator 1).
    day = "2020-03-02"
    claims = [
        claim("97161", 1, date=day),
        claim("97150", 1, line=2, date=day),
        claim("97530", 2, line=3, date=day),
    ]
    found = mine(audit_rows(claims, ELSEWHERE, "--config", str(cms_config)))
    assert [key(f) for f in found] == [("NCCI_PAIR_NOT_ALLOWED", "C1", "3", "97530", "2", "0", "2")]


def test_cms_file_replaces_the_bundled_table(audit_rows, cms_config):
    # The file's 97530/97116 edit has indicator 9 (no edit) and its 97530/97140 edit
    # dates from 1996: the bundled table's own rows no longer count.
    claims = [claim("97530", 2), claim("97116", 1, line=2), claim("97140", 1, line=3)]
    outputs = audit_rows(claims, ELSEWHERE, "--config", str(cms_config))
    (finding,) = mine(outputs)
    assert key(finding)[:4] == ("NCCI_PAIR_MODIFIER_MISSING", "C1", "3", "97140")
    assert "effective 1996-01-01" in finding["message"]
    assert (
        str(cms_config.parent / "ccipra-v261r0-f1.txt") in outputs.summary["versions"]["reference"]
    )


def test_the_rules_are_not_applicable_without_edits(tmp_path, audit_rows):
    only_9 = tmp_path / "ptp.txt"
    only_9.write_text(CMS_PTP_HEAD + ptp_row("97530", "97140", "20200101", "*", "9"))
    config = config_file(tmp_path, f'[reference]\nncci_ptp = "{only_9}"\n')
    outputs = audit_rows(
        [claim("97530", 2), claim("97140", 1, line=2)], ELSEWHERE, "--config", str(config)
    )
    by_rule = outputs.summary["findings"]["by_rule"]
    assert by_rule["NCCI_PAIR_MODIFIER_MISSING"]["status"] == "not applicable"
    assert by_rule["NCCI_PAIR_NOT_ALLOWED"]["status"] == "not applicable"
    assert by_rule["MUE_EXCEEDED"]["status"] == "clean"


# --- MUE_EXCEEDED --------------------------------------------------------------------------


def test_units_on_one_line_above_the_mue(audit_rows):
    claims = [claim("97110", 6), claim("97110", 7, claim_id="C2", patient="P2")]
    (finding,) = mine(audit_rows(claims, ELSEWHERE))
    assert key(finding) == ("MUE_EXCEEDED", "C2", "1", "97110", "7", "6", "1")
    assert float(finding["amount_at_risk"]) == RATE_97110_2025
    assert finding["message"] == (
        f"97110 billed x7 for the patient on 2025-10-06 by rendering NPI {PT_NPI} over 1 "
        "line(s) (claim C2 line 1 x7); its MUE is 6 units per day (MAI 3: date-of-service "
        "edit, clinical). 1 unit(s) above it on this line."
    )


def test_a_days_units_are_summed_over_lines_and_claims(audit_rows):
    claims = [claim("97110", 4), claim("97110", 3, claim_id="C2", payer=COMMERCIAL)]
    (finding,) = mine(audit_rows(claims, ELSEWHERE))
    assert key(finding) == ("MUE_EXCEEDED", "C2", "1", "97110", "3", "2", "1")
    assert "billed x7" in finding["message"]
    assert "over 2 line(s) (claim C1 line 1 x4, claim C2 line 1 x3)" in finding["message"]


def test_the_excess_falls_on_the_last_units_billed(audit_rows):
    # 5 + 2 + 2 = 9 units against an MUE of 6: 3 above it, 1 on C2 and 2 on C3.
    claims = [
        claim("97110", 5),
        claim("97110", 2, claim_id="C2"),
        claim("97110", 2, claim_id="C3"),
    ]
    found = [key(f) for f in mine(audit_rows(claims, ELSEWHERE))]
    assert found == [
        ("MUE_EXCEEDED", "C2", "1", "97110", "2", "1", "1"),
        ("MUE_EXCEEDED", "C3", "1", "97110", "2", "0", "2"),
    ]


def test_mue_counts_each_rendering_provider_apart(audit_rows):
    claims = [claim("97110", 4), claim("97110", 3, claim_id="C2", npi=OT_NPI, modifiers="GO")]
    assert mine(audit_rows(claims, ELSEWHERE)) == []


def test_an_evaluation_is_one_unit_a_day(audit_rows):
    claims = [claim("97161", 1), claim("97161", 2, claim_id="C2", patient="P2")]
    found = [key(f) for f in mine(audit_rows(claims, ELSEWHERE))]
    assert found == [("MUE_EXCEEDED", "C2", "1", "97161", "2", "1", "1")]


@pytest.fixture
def cms_mue(tmp_path) -> Path:
    path = tmp_path / "MCR_MUE_PractitionerServices.csv"
    path.write_text(
        CMS_MUE_HEAD
        + "97110,6,1 Line Edit,Clinical: Data\n"
        + '97161,1,"2 Date of Service Edit: Policy","Code Descriptor / CPT Instruction"\n'
    )
    return path


def test_a_claim_line_edit_judges_each_line_alone(tmp_path, audit_rows, cms_mue):
    config = config_file(tmp_path, f'[reference]\nmue = "{cms_mue.name}"\n')
    claims = [
        claim("97110", 4),
        claim("97110", 4, line=2),
        claim("97110", 7, claim_id="C2", patient="P2"),
    ]
    (finding,) = mine(audit_rows(claims, ELSEWHERE, "--config", str(config)))
    assert key(finding) == ("MUE_EXCEEDED", "C2", "1", "97110", "7", "6", "1")
    assert finding["message"] == (
        "97110 billed x7 on claim C2 line 1; its MUE is 6 units per claim line "
        "(MAI 1: claim-line edit). 1 unit(s) above it on this line."
    )


def test_which_indicators_are_date_of_service_edits_is_a_parameter(tmp_path, audit_rows, cms_mue):
    config = config_file(
        tmp_path,
        f'[reference]\nmue = "{cms_mue}"\n'
        "[rules.MUE_EXCEEDED.params]\ndate_of_service_indicators = [1, 2, 3]\n",
    )
    two_lines = [claim("97110", 4), claim("97110", 4, line=2)]
    (finding,) = mine(audit_rows(two_lines, ELSEWHERE, "--config", str(config)))
    assert key(finding) == ("MUE_EXCEEDED", "C1", "2", "97110", "4", "2", "2")
    assert "its MUE is 6 units per day (MAI 1: claim-line edit)" in finding["message"]


def test_a_cms_mue_file_replaces_the_bundled_table(tmp_path, audit_rows, cms_mue):
    # 97112 has an MUE of 4 in the bundled table but none in this file.
    config = config_file(tmp_path, f'[reference]\nmue = "{cms_mue}"\n')
    claims = [claim("97112", 5), claim("97161", 2, claim_id="C2")]
    found = mine(audit_rows(claims, ELSEWHERE, "--config", str(config)))
    assert [key(f) for f in found] == [("MUE_EXCEEDED", "C2", "1", "97161", "2", "1", "1")]
    assert "(MAI 2: date-of-service edit, policy)" in found[0]["message"]


def test_the_rules_can_be_switched_off(tmp_path, audit_rows):
    config = config_file(tmp_path, "[rules.MUE_EXCEEDED]\nenabled = false\n")
    outputs = audit_rows([claim("97110", 9)], ELSEWHERE, "--config", str(config))
    assert mine(outputs) == []
    assert outputs.summary["findings"]["by_rule"]["MUE_EXCEEDED"]["status"] == "disabled"


# --- the loaders ---------------------------------------------------------------------------


def test_the_ptp_loader_reads_cms_text_files(cms_ptp, tmp_path):
    # Windows line ends, a blank line and a row without its rationale, as files come.
    second = tmp_path / "ccipra-v261r0-f2.txt"
    second.write_bytes(
        (CMS_PTP_HEAD + "97535\t97530\t\t20210101\t20230630\t1\n\n").replace("\n", "\r\n").encode()
    )
    table = edits.read_ptp_files([cms_ptp, second])
    assert table.schema == edits.PTP_SCHEMA
    rows = [(r[0], r[1], r[2], str(r[3]), str(r[4]), r[5]) for r in table.rows()]
    assert rows == [
        ("97161", "97530", 0, "2020-01-01", "2020-04-01", "ccipra-v261r0-f1.txt"),
        ("97150", "97530", 1, "2020-01-01", "None", "ccipra-v261r0-f1.txt"),
        ("97530", "97140", 1, "1996-01-01", "None", "ccipra-v261r0-f1.txt"),
        ("97535", "97530", 1, "2021-01-01", "2023-06-30", "ccipra-v261r0-f2.txt"),
    ]


def test_the_ptp_loader_reads_a_workbook_saved_as_csv(tmp_path):
    # Saved from CMS's xlsx: the column titles run over two lines.
    path = tmp_path / "ptp.csv"
    path.write_text(
        "Column 1/Column 2 Edits,,,,,,\n"
        '"CPT only copyright 2024 American Medical Association.",,,,,,\n'
        "Column 1,Column 2,* = In existence prior to 1996,Effective,Deletion,Modifier,"
        "PTP Edit Rationale\n"
        ',,,Date,"Date *=no data","0=not allowed, 1=allowed, 9=not applicable",\n'
        '97530,97140,,20200101,*,1,"Misuse of column two code with column one code"\n'
    )
    table = edits.read_ptp_files([path])
    assert [(r[0], r[1], r[2], str(r[3]), r[4]) for r in table.rows()] == [
        ("97530", "97140", 1, "2020-01-01", None)
    ]


def test_the_mue_loader_reads_cms_csv(cms_mue):
    table = edits.read_mue_file(cms_mue)
    assert table.schema == edits.MUE_SCHEMA
    assert table.rows() == [
        ("97110", 6, 1, "MCR_MUE_PractitionerServices.csv"),
        ("97161", 1, 2, "MCR_MUE_PractitionerServices.csv"),
    ]


def test_the_bundled_tables_read_cleanly():
    from pipeline.reference import MUE_FILE, PTP_FILE, REFERENCE_DIR

    ptp = edits.bundled_ptp(REFERENCE_DIR / PTP_FILE)
    mue = edits.bundled_mue(REFERENCE_DIR / MUE_FILE)
    assert ptp.schema == edits.PTP_SCHEMA and mue.schema == edits.MUE_SCHEMA
    assert ptp["modifier_indicator"].is_in([0, 1]).all()
    assert ptp.filter(ptp["deletion_date"] < ptp["effective_date"]).is_empty()
    assert not ptp["source"].is_null().any() and not mue["source"].is_null().any()
    assert mue["code"].is_unique().all()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"PK\x03\x04\x14\x00binary", "an Excel workbook"),
        (
            b"Column 1/Column 2 Edits\nnothing here\n",
            "no column row with 'Column 1' and 'Column 2'",
        ),
        (CMS_PTP_HEAD.encode(), "no edits below the column row (line 4)"),
        (
            (CMS_PTP_HEAD + ptp_row("97530", "97140", "2020-01-01", "*", "1")).encode(),
            "line 5: effective date '2020-01-01' is not a date in YYYYMMDD form",
        ),
        (
            (CMS_PTP_HEAD + ptp_row("97530", "97140", "20200230", "*", "1")).encode(),
            "line 5: a date that does not exist",
        ),
        (
            (CMS_PTP_HEAD + ptp_row("97530", "97140", "20200101", "never", "1")).encode(),
            "line 5: deletion date 'NEVER' is not YYYYMMDD, or * while in force",
        ),
        (
            (CMS_PTP_HEAD + ptp_row("97530", "9714", "20200101", "*", "1")).encode(),
            "line 5: column 2 '9714' is not a HCPCS/CPT code",
        ),
        (
            (
                CMS_PTP_HEAD
                + ptp_row("97530", "97116", "20200101", "*", "1")
                + "\n"
                + ptp_row("97530", "97140", "20200101", "*", "2")
            ).encode(),
            "line 7: modifier indicator '2' is not 0, 1 or 9",
        ),
    ],
    ids=["xlsx", "no header", "no rows", "iso date", "no such date", "deletion", "code", "mi"],
)
def test_a_bad_ptp_file_is_a_usage_error_naming_it(tmp_path, content, message):
    path = tmp_path / "ptp.txt"
    path.write_bytes(content)
    with pytest.raises(UsageError) as raised:
        edits.read_ptp_files([path])
    assert str(raised.value).startswith(f"{path}: ")
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("97110,six,3 Date of Service Edit: Clinical,x\n", "line 4: mue value 'SIX' is not"),
        ("97110,6,Line Edit,x\n", "line 4: adjudication indicator 'LINE EDIT' does not start"),
        ("97110,6,3,x\n97110,4,3,x\n", "line 5: code 97110 is listed again"),
    ],
)
def test_a_bad_mue_file_is_a_usage_error_naming_it(tmp_path, rows, message):
    path = tmp_path / "mue.csv"
    path.write_text(CMS_MUE_HEAD + rows)
    with pytest.raises(UsageError) as raised:
        edits.read_mue_file(path)
    assert str(raised.value).startswith(f"{path}: ")
    assert message in str(raised.value)


def test_a_bad_edit_file_stops_the_run_with_exit_2(tmp_path, cli, capsys):
    bad = tmp_path / "mue.csv"
    bad.write_text("not a CMS file\n")
    config = config_file(tmp_path, f'[reference]\nmue = "{bad}"\n')
    claims = write_csv(tmp_path / "c.csv", [claim("97110", 2)])
    outputs = cli([claims], [write_csv(tmp_path / "t.csv", ELSEWHERE)], "--config", str(config))
    assert outputs.exit_code == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert error == [
        f"ptaudit: error: {bad}: no column row with 'HCPCS/CPT Code' and '... MUE Values' "
        "columns in its first 50 lines; is this CMS's file in text or CSV form?"
    ]


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            'ncci_ptp = ["missing.txt"]',
            "missing.txt: file not found (named by [reference] ncci_ptp",
        ),
        ("mue = 3", "[reference] mue must be one path"),
        ("ncci_ptp = []", "[reference] ncci_ptp must be a path or a list of paths"),
        ('mues = "x.csv"', "[reference] has unknown keys mues (known: ncci_ptp, mue)"),
    ],
)
def test_a_bad_reference_section_exits_2_before_loading(tmp_path, cli, capsys, section, message):
    config = config_file(tmp_path, f"[reference]\n{section}\n")
    claims = write_csv(tmp_path / "c.csv", [claim("97110", 2)])
    outputs = cli([claims], [write_csv(tmp_path / "t.csv", ELSEWHERE)], "--config", str(config))
    assert outputs.exit_code == 2
    assert message in capsys.readouterr().err
    assert not outputs.db.exists()
