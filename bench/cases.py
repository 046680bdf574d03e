"""What the synthetic practice bills, and the planted cases the audit must get right.

Shared by the generator (bench.synth) and its independent check (bench.verify): the
check re-reads the written files and compares them with these definitions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MEDICARE = "MEDICARE PART B"
COMMERCIAL_PAYERS = ("BLUE CROSS PPO", "AETNA")
MEDICARE_CLASS = "medicare"  # CMS total-time method: the 8-minute rule over the day
COMMERCIAL_CLASS = "commercial"  # AMA per-code method: each code needs 8 minutes alone

PT_TIMED = ("97110", "97112", "97116", "97140", "97530", "97535")
OT_TIMED = ("97110", "97530", "97535")
TIMED_CODES = frozenset(PT_TIMED + OT_TIMED)
PT_EVALUATIONS = ("97161", "97162")
OT_EVALUATIONS = ("97165",)
EVALUATION_CODES = frozenset(PT_EVALUATIONS + OT_EVALUATIONS)
EVALUATION_NOTE = "evaluation"

# NCCI procedure-to-procedure edits that clean visits never contain: 97530 with 97140
# or 97116, and 97140 with a therapy evaluation. Rules check these pairs, so a clean
# visit holding one would turn into an unplanned finding.
NCCI_PAIRS = (frozenset({"97530", "97140"}), frozenset({"97530", "97116"}))
NOT_ON_EVALUATION_DAY = frozenset({"97140"})

THERAPY_MODIFIER = {"PT": "GP", "OT": "GO"}
ASSISTANT_MODIFIER = {"PTA": "CQ", "OTA": "CO"}
# Modifiers that would trigger other rules (or excuse NCCI pairs); the data never uses them.
FORBIDDEN_MODIFIERS = frozenset({"59", "25", "52", "KX", "95"})

UNITS_OVERBILLED = "UNITS_OVERBILLED"
UNITS_UNDER_8_MIN = "UNITS_UNDER_8_MIN"
TIME_LOG_MISSING = "TIME_LOG_MISSING"


@dataclass(frozen=True)
class Service:
    """One code of a visit: the minutes logged for it and the units billed for it."""

    cpt_code: str
    minutes: int  # 0: no time-log segment at all
    units: int  # 0: not billed


@dataclass(frozen=True)
class Expected:
    """A finding the audit must report on the planted visit's claim."""

    rule_id: str
    cpt_code: str
    units_billed: int
    units_supported: int


@dataclass(frozen=True)
class PlantedCase:
    """A visit built to test one rule: a problem to find, or a look-alike to leave alone.

    Each case gets a treatment visit of its own on a PT patient of `payer_class`,
    delivered by the patient's PT (no assistant), logged as one segment per code.
    """

    case_id: str
    payer_class: str
    services: tuple[Service, ...]
    story: str  # plain English, for the README
    expected: tuple[Expected, ...] = ()
    # A replacement claim (frequency 7) later in the file bills these units instead.
    corrected_units: dict[str, int] = field(default_factory=dict)
    # A second claim for the same patient and day, billed in error and voided later on.
    voided_claim: tuple[tuple[str, int], ...] = ()


def _s(cpt_code: str, minutes: int, units: int) -> Service:
    return Service(cpt_code, minutes, units)


PLANTED_CASES = (
    PlantedCase(
        "S1",
        MEDICARE_CLASS,
        (_s("97110", 23, 3), _s("97140", 15, 1)),
        "38 timed minutes support 3 units under the 8-minute rule, but 4 are billed: "
        "97110 x3 for 23 minutes, where the split gives 97110 2 units and 97140 1.",
        (Expected(UNITS_OVERBILLED, "97110", 3, 2),),
    ),
    PlantedCase(
        "S2",
        COMMERCIAL_CLASS,
        (_s("97110", 20, 2), _s("97112", 30, 2)),
        "Counted code by code, 97110's 20 minutes support 1 unit, but 2 are billed.",
        (Expected(UNITS_OVERBILLED, "97110", 2, 1),),
    ),
    PlantedCase(
        "S3",
        MEDICARE_CLASS,
        (_s("97112", 24, 2), _s("97110", 23, 2)),
        "47 minutes support 3 units: one full unit each, and the third goes to 97112 "
        "(9 minutes left over against 97110's 8), so 97110 x2 is one unit too many.",
        (Expected(UNITS_OVERBILLED, "97110", 2, 1),),
    ),
    PlantedCase(
        "S4",
        COMMERCIAL_CLASS,
        (_s("97110", 30, 2), _s("97140", 6, 1)),
        "97140 billed 1 unit for 6 minutes; counted code by code, under 8 minutes earns no unit.",
        (Expected(UNITS_UNDER_8_MIN, "97140", 1, 0),),
    ),
    PlantedCase(
        "S5",
        MEDICARE_CLASS,
        (_s("97110", 30, 2), _s("97140", 5, 1)),
        "35 minutes support 2 units, both 97110's; 97140's 5 minutes earn none.",
        (Expected(UNITS_UNDER_8_MIN, "97140", 1, 0),),
    ),
    PlantedCase(
        "S6",
        MEDICARE_CLASS,
        (_s("97110", 33, 2), _s("97140", 7, 1)),
        "Clean look-alike: 40 minutes support 3 units and the third goes to 97140 "
        "(7 minutes left over against 97110's 3), so 97140 x1 for 7 minutes is right.",
    ),
    PlantedCase(
        "S7",
        COMMERCIAL_CLASS,
        (_s("97110", 33, 2), _s("97140", 7, 1)),
        "Commercial twin of S6, same minutes and units: counted code by code, 97140's "
        "7 minutes earn no unit.",
        (Expected(UNITS_UNDER_8_MIN, "97140", 1, 0),),
    ),
    PlantedCase(
        "S8",
        MEDICARE_CLASS,
        (_s("97110", 30, 2), _s("97112", 0, 1)),
        "97112 billed 1 unit with no time logged for it that day; 97110 is fine.",
        (Expected(TIME_LOG_MISSING, "97112", 1, 0),),
    ),
    PlantedCase(
        "S9",
        COMMERCIAL_CLASS,
        (_s("97110", 15, 1), _s("97112", 0, 1), _s("97535", 30, 2)),
        "97112 billed 1 unit with no time logged for it that day; the other codes are fine.",
        (Expected(TIME_LOG_MISSING, "97112", 1, 0),),
    ),
    PlantedCase(
        "S10",
        MEDICARE_CLASS,
        (_s("97110", 23, 3), _s("97140", 15, 1)),
        "First billed like S1, then corrected by a replacement claim (frequency 7, same "
        "claim id, at the end of the file) billing 97110 x2 and 97140 x1: nothing to "
        "report.",
        corrected_units={"97110": 2, "97140": 1},
    ),
    PlantedCase(
        "S11",
        COMMERCIAL_CLASS,
        (_s("97112", 30, 2), _s("97140", 15, 1)),
        "The visit itself is billed correctly, but a second claim for the same day bills "
        "97110 x2 with no 97110 time logged; a void of it (frequency 8, same claim id and "
        "lines, at the end of the file) cancels it: nothing to report.",
        voided_claim=(("97110", 2),),
    ),
    PlantedCase(
        "S12",
        MEDICARE_CLASS,
        (_s("97110", 18, 1), _s("97112", 13, 1), _s("97140", 10, 1), _s("97116", 8, 0)),
        "Clean look-alike: 49 minutes over four codes support 3 units: 97110 its full "
        "unit, then the two largest leftovers (97112 13 minutes, 97140 10); 97116's 8 "
        "minutes rightly earn no unit and are not billed.",
    ),
)
