"""Validation: each kind of bad row is set aside with its reason, each kind of
unusable file stops the run with exit 2 and one line naming it, and no row is lost."""

from __future__ import annotations

import duckdb
import polars as pl
import pytest

from pipeline.columns import CLAIMS
from pipeline.keys import KeyHashes
from tests.conftest import claim, segment, write_csv

GOOD_SEGMENT = segment("97110", 15)


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("rendering_npi", "1234567890", "NPI check digit is wrong (fails the Luhn check)"),
        ("rendering_npi", "123456789", "NPI must be exactly 10 digits"),
        ("service_date", "2025-02-30", "not a real calendar date in YYYY-MM-DD form"),
        ("service_date", "10/06/2025", "not a real calendar date in YYYY-MM-DD form"),
        ("cpt_code", "9711", "not a CPT/HCPCS code (five characters: 97110, G0283)"),
        ("units", "0", "units must be a whole number from 1 to 99"),
        ("units", "100", "units must be a whole number from 1 to 99"),
        ("units", "1.5", "units must be a whole number from 1 to 99"),
        ("line_number", "0", "line number must be a whole number from 1 to 999"),
        (
            "modifiers",
            "GPX",
            "modifiers must be up to four 2-character codes separated by ',' or spaces",
        ),
        (
            "modifiers",
            "GP,59,XU,KX,CQ",
            "modifiers must be up to four 2-character codes separated by ',' or spaces",
        ),
        (
            "claim_frequency",
            "5",
            "claim frequency must be 1 (original), 7 (replacement) or 8 (void)",
        ),
        ("patient_id", None, "required value is missing"),
        ("payer", "  ", "required value is missing"),
    ],
)
def test_bad_claim_values_are_rejected_with_their_reason(tmp_path, cli, column, value, reason):
    bad = claim("97110", 1, claim_id="BAD") | {column: value}
    claims = write_csv(tmp_path / "claims.csv", [claim("97110", 1), bad])
    outputs = cli([claims], [write_csv(tmp_path / "t.csv", [GOOD_SEGMENT])])
    assert outputs.exit_code == 0
    shown = (value or "").strip() or None  # blank cells are reported as missing
    assert outputs.rejects.rows() == [(str(claims), "2", column, shown, reason)]
    (source,) = [i for i in outputs.summary["inputs"] if i["kind"] == "claims"]
    assert (source["rows_read"], source["rows_accepted"], source["rows_rejected"]) == (2, 1, 1)


@pytest.mark.parametrize(
    ("change", "column", "reason"),
    [
        ({"end_time": "2025-10-06 07:59"}, "end_time", "end_time must be after start_time"),
        ({"end_time": "2025-10-06 08:00"}, "end_time", "end_time must be after start_time"),
        (
            {"start_time": "2025-10-06 8am"},
            "start_time",
            "not a real date and time in 'YYYY-MM-DD HH:MM[:SS]' form",
        ),
        (
            {"provider_role": "RN"},
            "provider_role",
            "provider role must be one of PT, PTA, OT, OTA, SLP",
        ),
        ({"service_date": "2025-10-07"}, "start_time", "start_time is not on the service_date"),
        (
            {"provider_npi": "1234567894"},
            "provider_npi",
            "NPI check digit is wrong (fails the Luhn check)",
        ),
    ],
)
def test_bad_segments_are_rejected_with_their_reason(tmp_path, cli, change, column, reason):
    timelogs = write_csv(tmp_path / "t.csv", [GOOD_SEGMENT, segment("97112", 15) | change])
    outputs = cli([write_csv(tmp_path / "c.csv", [claim("97110", 1)])], [timelogs])
    assert outputs.exit_code == 0
    rejects = outputs.rejects.select("row_number", "column", "reason").rows()
    assert rejects == [("2", column, reason)]


def test_a_row_with_several_problems_is_one_rejected_row_with_each_reason(tmp_path, cli):
    bad = claim("97110", 0, claim_id="BAD", npi="123", date="2025-13-01")
    claims = write_csv(tmp_path / "claims.csv", [bad])
    outputs = cli([claims], [write_csv(tmp_path / "t.csv", [GOOD_SEGMENT])])
    assert sorted(outputs.rejects["column"]) == ["rendering_npi", "service_date", "units"]
    assert outputs.summary["totals"] == {
        "rows_read": 2,
        "rows_accepted": 1,
        "rows_rejected": 1,
        "files_skipped": 0,
        "reconciled": True,
    }


def test_duplicate_claim_line_keeps_the_first_and_rejects_the_second(tmp_path, cli):
    claims = write_csv(tmp_path / "c.csv", [claim("97110", 1), claim("97112", 1)])
    outputs = cli([claims], [write_csv(tmp_path / "t.csv", [GOOD_SEGMENT])])
    assert outputs.rejects.select("row_number", "column", "value").rows() == [
        ("2", "line_number", "1")
    ]


def test_a_segment_logged_twice_in_two_time_forms_is_one_segment(tmp_path, cli):
    again = GOOD_SEGMENT | {"start_time": "2025-10-06T08:00:00", "end_time": "2025-10-06T08:15"}
    timelogs = write_csv(tmp_path / "t.csv", [GOOD_SEGMENT, again])
    outputs = cli([write_csv(tmp_path / "c.csv", [claim("97110", 1)])], [timelogs])
    assert outputs.rejects.select("row_number", "column", "value", "reason").rows() == [
        (
            "2",
            "start_time",
            "2025-10-06 08:00:00",
            "duplicate of an earlier segment (same patient, provider, code, start and end)",
        )
    ]


def test_a_file_read_in_batches_is_judged_as_a_whole(tmp_path, cli):
    """Rows of one file meet across batches: a key repeated three batches later is
    still a duplicate, and every row is still accounted for."""
    claims = write_csv(
        tmp_path / "c.csv",
        [
            claim("97110", 2),
            claim("97112", 1, line=2),
            claim("97140", 1, line=3),
            claim("97530", 0, line=4),
            claim("97535", 1, line=5),
            claim("97116", 1, line=6),
            claim("97112", 1),
        ],
    )
    timelogs = write_csv(tmp_path / "t.csv", [GOOD_SEGMENT])
    config = tmp_path / "small-batches.toml"
    config.write_text("[store]\nbatch_rows = 2\n")
    batched = cli([claims], [timelogs], "--config", str(config))
    assert batched.rejects.select("row_number", "column").rows() == [
        ("4", "units"),
        ("7", "line_number"),
    ]
    assert batched.summary["totals"] == {
        "rows_read": 8,
        "rows_accepted": 6,
        "rows_rejected": 2,
        "files_skipped": 0,
        "reconciled": True,
    }
    batched_outputs = (batched.findings, batched.rejects)
    batched.db.unlink()
    whole = cli([claims], [timelogs])
    assert not batched_outputs[0].is_empty()
    assert batched_outputs[0].equals(whole.findings)
    assert batched_outputs[1].equals(whole.rejects)


def _claim_keys(*keys: tuple[str, str, int]) -> pl.DataFrame:
    rows = [dict(zip(CLAIMS.key, key, strict=True)) | {"units": 1} for key in keys]
    return pl.DataFrame(rows, schema_overrides={"line_number": pl.Int32})


@pytest.mark.parametrize(
    ("batches", "may_repeat"),
    [
        ([], False),
        ([[("C1", "1", 1), ("C1", "1", 2)], [("C1", "7", 1), ("C2", "1", 1)]], False),
        # The same key three batches apart.
        ([[("C1", "1", 1)], [("C2", "1", 1)], [("C3", "1", 1)], [("C1", "1", 1)]], True),
        ([[("C1", "1", 1), ("C1", "1", 1)]], True),
    ],
)
def test_key_hashes_tell_whether_a_file_may_repeat_a_key(batches, may_repeat):
    hashes = KeyHashes(CLAIMS)
    for batch in batches:
        hashes.add(_claim_keys(*batch))
    assert hashes.may_repeat() is may_repeat


def test_codes_and_modifiers_are_read_in_any_case_and_separator(tmp_path, cli):
    claims = write_csv(tmp_path / "c.csv", [claim("97110", 1, modifiers="gp 59")])
    outputs = cli([claims], [write_csv(tmp_path / "t.csv", [GOOD_SEGMENT])])
    assert outputs.rejects.is_empty()
    with duckdb.connect(str(outputs.db)) as con:
        stored = con.execute("SELECT modifiers, modifier_1, modifier_2 FROM claim_lines").fetchall()
    assert stored == [("GP,59", "GP", "59")]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"PAR1\x00\x01garbage", "cannot be read as Parquet"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "not a CSV or Parquet file"),
        (b"claim_id,line_number\nC1,1\n", "required column patient_id, payer"),
    ],
    ids=["empty", "truncated parquet", "binary", "missing columns"],
)
def test_unusable_claims_file_exits_2_naming_the_file(tmp_path, cli, capsys, content, message):
    claims = tmp_path / "claims.csv"
    claims.write_bytes(content)
    outputs = cli([claims], [write_csv(tmp_path / "t.csv", [GOOD_SEGMENT])])
    assert outputs.exit_code == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1
    assert error[0].startswith(f"ptaudit: error: {claims}: ")
    assert message in error[0]
    assert not outputs.db.exists(), "nothing is stored when an input is unusable"


def test_missing_file_exits_2(tmp_path, cli, capsys):
    outputs = cli([tmp_path / "nope.csv"], [write_csv(tmp_path / "t.csv", [GOOD_SEGMENT])])
    assert outputs.exit_code == 2
    assert f"{tmp_path / 'nope.csv'}: file not found" in capsys.readouterr().err


def test_missing_timelog_column_names_it(tmp_path, cli, capsys):
    timelogs = write_csv(
        tmp_path / "t.csv", [{k: v for k, v in GOOD_SEGMENT.items() if k != "end_time"}]
    )
    outputs = cli([write_csv(tmp_path / "c.csv", [claim("97110", 1)])], [timelogs])
    assert outputs.exit_code == 2
    assert "required column end_time is missing" in capsys.readouterr().err


BAD_CONFIGURATIONS = {
    "unit method": ('[[payer_profiles]]\nname = "x"\npayers = ["*"]\nunit_method = "fast"\n',
                    "unit_method must be one of"),
    "batch rows": ("[store]\nbatch_rows = 0\n",
                   "[store] batch_rows must be a whole number of rows, 1 or more"),
}  # fmt: skip


@pytest.mark.parametrize("case", BAD_CONFIGURATIONS.values(), ids=BAD_CONFIGURATIONS.keys())
def test_bad_configuration_exits_2(tmp_path, cli, capsys, case):
    text, message = case
    config = tmp_path / "bad.toml"
    config.write_text(text)
    outputs = cli(
        [write_csv(tmp_path / "c.csv", [claim("97110", 1)])],
        [write_csv(tmp_path / "t.csv", [GOOD_SEGMENT])],
        "--config",
        str(config),
    )
    assert outputs.exit_code == 2
    assert message in capsys.readouterr().err


def test_column_mapping_renames_a_practice_export(tmp_path, cli):
    config = tmp_path / "mapping.toml"
    config.write_text(
        '[columns]\n"DOS" = "service_date"\n"Rendering NPI" = "rendering_npi"\n'
        '"Mod1" = "modifier_1"\n"Mod2" = "modifier_2"\n"Mod3" = "modifier_3"\n'
        '"Mod4" = "modifier_4"\n'
    )
    row = claim("97110", 2, modifiers=None)
    row["DOS"] = row.pop("service_date")
    row["Rendering NPI"] = row.pop("rendering_npi")
    row |= {"Mod1": "GP", "Mod2": "59", "Mod3": None, "Mod4": None}
    claims = write_csv(tmp_path / "practice.csv", [row])
    outputs = cli(
        [claims], [write_csv(tmp_path / "t.csv", [GOOD_SEGMENT])], "--config", str(config)
    )
    assert outputs.exit_code == 0
    assert outputs.rejects.is_empty()
    (finding,) = outputs.findings.to_dicts()
    assert (finding["service_date"], finding["provider_npi"]) == ("2025-10-06", "1234567893")


def test_parquet_and_several_files_are_read_alike(tmp_path, cli):
    first = pl.DataFrame([claim("97110", 2)]).with_columns(
        pl.col("service_date").str.to_date(), pl.col("units").cast(pl.Int64)
    )
    first.write_parquet(tmp_path / "claims-1.parquet")
    second = write_csv(tmp_path / "claims-2.csv", [claim("97112", 1, claim_id="C2")])
    segments = pl.DataFrame([GOOD_SEGMENT]).with_columns(
        pl.col("start_time", "end_time").str.to_datetime("%Y-%m-%d %H:%M")
    )
    segments.write_parquet(tmp_path / "t.parquet")
    outputs = cli([tmp_path / "claims-1.parquet", second], [tmp_path / "t.parquet"])
    assert outputs.exit_code == 0
    assert outputs.rejects.is_empty()
    assert sorted(outputs.findings.select("rule_id", "cpt_code").rows()) == [
        ("TIME_LOG_MISSING", "97112"),
        ("UNITS_OVERBILLED", "97110"),
    ]
    assert [i["rows_read"] for i in outputs.summary["inputs"]] == [1, 1, 1]
