"""Units the logged minutes support, from the worked examples of CMS Pub. 100-04
ch. 5 s20.2 and the per-code method, with every threshold edge."""

from __future__ import annotations

import pytest

from tests.conftest import PTA_NPI, back_to_back, claim, segment

MEDICARE, COMMERCIAL = "MEDICARE PART B", "AETNA"


def supported(code_units, payer: str, minutes: dict[str, int]) -> dict[str, int]:
    """Bill one unit of each code (the method, not the billing, decides support)."""
    claims = [claim(c, 1, line=i, payer=payer) for i, c in enumerate(minutes, start=1)]
    table = code_units(claims, back_to_back(*minutes.items()))
    return dict(zip(table["cpt_code"], table["units_supported"], strict=True))


# (minutes per code) -> units per code, CMS total time | AMA per code
WORKED_EXAMPLES = [
    pytest.param(
        {"97112": 24, "97110": 23},
        {"97112": 2, "97110": 1},
        {"97112": 2, "97110": 2},
        id="24+23 min: 3 units, 2 of the longer code",
    ),
    pytest.param(
        {"97110": 33, "97140": 7},
        {"97110": 2, "97140": 1},
        {"97110": 2, "97140": 0},
        id="33+7 min: the third unit goes to the 7-minute code",
    ),
    pytest.param(
        {"97110": 18, "97112": 13, "97140": 10, "97116": 8},
        {"97110": 1, "97112": 1, "97140": 1, "97116": 0},
        {"97110": 1, "97112": 1, "97140": 1, "97116": 1},
        id="18/13/10/8 min: 3 units, none for the 8-minute code",
    ),
    pytest.param(
        {"97110": 7, "97140": 7},
        {"97110": 1, "97140": 0},
        {"97110": 0, "97140": 0},
        id="7+7 min: one unit in total, to the first in code order",
    ),
    pytest.param(
        {"97110": 11, "97140": 11},
        {"97110": 1, "97140": 0},
        {"97110": 1, "97140": 1},
        id="11+11=22 min: 1 unit",
    ),
    pytest.param(
        {"97110": 12, "97140": 11},
        {"97110": 1, "97140": 1},
        {"97110": 1, "97140": 1},
        id="12+11=23 min: 2 units",
    ),
]


@pytest.mark.parametrize(("minutes", "cms", "ama"), WORKED_EXAMPLES)
def test_worked_examples(code_units, minutes, cms, ama):
    assert supported(code_units, MEDICARE, minutes) == cms
    assert supported(code_units, COMMERCIAL, minutes) == ama


def test_twenty_plus_twenty_is_three_units_never_three_of_one_code(code_units):
    units = supported(code_units, MEDICARE, {"97110": 20, "97140": 20})
    assert sum(units.values()) == 3
    assert sorted(units.values()) == [1, 2]
    assert supported(code_units, COMMERCIAL, {"97110": 20, "97140": 20}) == {
        "97110": 1,
        "97140": 1,
    }


@pytest.mark.parametrize(
    ("minutes", "units"),
    [(7, 0), (8, 1), (22, 1), (23, 2), (37, 2), (38, 3), (52, 3), (53, 4)],
)
@pytest.mark.parametrize("payer", [MEDICARE, COMMERCIAL])
def test_single_code_thresholds(code_units, payer, minutes, units):
    assert supported(code_units, payer, {"97110": minutes}) == {"97110": units}


def test_seconds_below_a_whole_minute_do_not_count(code_units):
    row = segment("97110", 8)
    row["end_time"] = "2025-10-06 08:07:59"
    table = code_units([claim("97110", 1)], [row])
    assert table["minutes"].to_list() == [7]
    assert table["units_supported"].to_list() == [0]


def test_untimed_codes_add_no_timed_minutes(code_units):
    claims = [claim("97161", 1), claim("97110", 1, line=2)]
    table = code_units(claims, back_to_back(("97161", 40), ("97110", 7)))
    assert table["cpt_code"].to_list() == ["97110"]
    assert table["day_minutes"].to_list() == [7]
    assert table["units_supported"].to_list() == [0]


def test_logged_but_unbilled_minutes_count_toward_the_cms_total(code_units):
    table = code_units([claim("97140", 1)], back_to_back(("97110", 10), ("97140", 10)))
    assert dict(zip(table["cpt_code"], table["units_supported"], strict=True)) == {
        "97110": 1,
        "97140": 0,
    }
    assert table["day_units_supported"].to_list() == [1, 1]


def test_disciplines_are_counted_apart(code_units):
    claims = [
        claim("97110", 1, modifiers="GP"),
        claim("97530", 1, line=2, modifiers="GO", npi="1588667638"),
    ]
    segments = [
        segment("97110", 10),
        segment("97530", 10, start="09:00", role="OT", npi="1588667638"),
    ]
    table = code_units(claims, segments)
    assert table.select("cpt_code", "discipline", "units_supported").rows() == [
        ("97110", "PT", 1),
        ("97530", "OT", 1),
    ]


def test_split_segments_of_one_code_are_added(code_units):
    segments = [segment("97110", 4), segment("97110", 4, start="08:30")]
    table = code_units([claim("97110", 1)], segments)
    assert table.select("minutes", "units_supported").rows() == [(8, 1)]


def test_assistant_minutes_count_in_the_therapy_discipline(code_units):
    segments = [
        segment("97110", 10),
        segment("97110", 5, start="08:10", role="PTA", npi="1245319599"),
    ]
    table = code_units([claim("97110", 1, modifiers="GP,CQ")], segments)
    assert table.select("discipline", "minutes", "units_supported").rows() == [("PT", 15, 1)]


def test_minutes_logged_under_two_codes_count_once(code_units):
    # 97110 10:00-10:25 and 97530 10:15-10:35: 35 minutes of the clock, not 45.
    segments = [segment("97110", 25, start="10:00"), segment("97530", 20, start="10:15")]
    table = code_units([claim("97110", 2), claim("97530", 1, line=2)], segments)
    assert table.select("cpt_code", "minutes").rows() == [("97110", 25), ("97530", 10)]
    assert table["day_minutes"].to_list() == [35, 35]
    assert table["day_units_supported"].to_list() == [2, 2]


def test_assistant_minutes_are_kept_apart(code_units):
    segments = [segment("97110", 5), segment("97110", 10, start="08:05", role="PTA", npi=PTA_NPI)]
    table = code_units([claim("97110", 1, modifiers="GP,CQ")], segments)
    assert table.select("minutes", "assistant_minutes").rows() == [(15, 10)]
