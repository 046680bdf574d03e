"""What the synthetic practice bills, and the planted cases the audit must get right.

Shared by the generator (bench.synth) and its independent check (bench.verify): the
check re-reads the written files and compares them with these definitions.

Three kinds of case:

- `PlantedCase`: one treatment (or evaluation) visit of an existing patient, rebuilt to
  test one thing. PLANTED_CASES (S1-S12, the unit rules) are planted in the sample and
  in every bench profile; SAMPLE_CASES only in the sample.
- `Course`: a patient of the sample's own, seen on fixed days (the rules that count a
  patient's visits or dollars over weeks).
- `ProviderDay`: one therapist's day at fixed clock times, on patients of theirs (the
  rules about a provider's whole day).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

MEDICARE = "MEDICARE PART B"
AETNA = "AETNA"
COMMERCIAL_PAYERS = ("BLUE CROSS PPO", AETNA)
MEDICARE_CLASS = "medicare"  # CMS total-time method: the 8-minute rule over the day
COMMERCIAL_CLASS = "commercial"  # AMA per-code method: each code needs 8 minutes alone

PT_TIMED = ("97110", "97112", "97116", "97140", "97530", "97535")
OT_TIMED = ("97110", "97530", "97535")
TIMED_CODES = frozenset(PT_TIMED + OT_TIMED)
PT_EVALUATIONS = ("97161", "97162")
OT_EVALUATIONS = ("97165",)
EVALUATION_CODES = frozenset(PT_EVALUATIONS + OT_EVALUATIONS)
EVALUATION_NOTE = "evaluation"
PROGRESS_REPORT_NOTE = "progress_report"

# NCCI procedure-to-procedure edits that clean visits never contain: 97530 with 97140
# or 97116, and 97140 with a therapy evaluation. Rules check these pairs, so a clean
# visit holding one would turn into an unplanned finding.
NCCI_PAIRS = (frozenset({"97530", "97140"}), frozenset({"97530", "97116"}))
NOT_ON_EVALUATION_DAY = frozenset({"97140"})

THERAPY_MODIFIER = {"PT": "GP", "OT": "GO"}
ASSISTANT_MODIFIER = {"PTA": "CQ", "OTA": "CO"}
NO_MODIFIERS = ""  # a Service's `modifiers` for a line billed with none at all
OFFICE = "11"  # the place of service of every line a case does not say otherwise of
TELEHEALTH = "10"  # telehealth in the patient's home

# Therapists by their place in the roster (bench.synth.build_roster): the first PT
# supervises the PTA.
SUPERVISING_PT = 0
SECOND_PT = 1
FIRST_OT = 0

UNITS_OVERBILLED = "UNITS_OVERBILLED"
UNITS_UNDER_8_MIN = "UNITS_UNDER_8_MIN"
TIME_LOG_MISSING = "TIME_LOG_MISSING"
UNITS_UNDERBILLED = "UNITS_UNDERBILLED"
OVERLAP_SAME_PATIENT = "OVERLAP_SAME_PATIENT"
OVERLAP_ONE_ON_ONE = "OVERLAP_ONE_ON_ONE"
IMPOSSIBLE_DAY = "IMPOSSIBLE_DAY"
MODIFIER_THERAPY_MISSING = "MODIFIER_THERAPY_MISSING"
MODIFIER_ASSISTANT_MISSING = "MODIFIER_ASSISTANT_MISSING"
MODIFIER_52_ON_TIMED = "MODIFIER_52_ON_TIMED"
MODIFIER_25_UNNEEDED = "MODIFIER_25_UNNEEDED"
TELEHEALTH_MODIFIER_MISSING = "TELEHEALTH_MODIFIER_MISSING"
NCCI_PAIR_MODIFIER_MISSING = "NCCI_PAIR_MODIFIER_MISSING"
MUE_EXCEEDED = "MUE_EXCEEDED"
MODIFIER_KX_MISSING = "MODIFIER_KX_MISSING"
KX_MEDICAL_REVIEW = "KX_MEDICAL_REVIEW"
COURSE_LONG = "COURSE_LONG"
PROGRESS_REPORT_OVERDUE = "PROGRESS_REPORT_OVERDUE"
# The rules bench.verify works out again from the minutes, under each payer's method.
UNIT_RULES = (UNITS_OVERBILLED, UNITS_UNDER_8_MIN, TIME_LOG_MISSING, UNITS_UNDERBILLED)


@dataclass(frozen=True)
class Service:
    """One code of a visit: the minutes logged for it and the units billed for it.

    By default a service is logged by the visit's provider as one stretch right after
    the visit's previous one, and billed at the office with the modifiers the time log
    calls for (GP or GO, with CQ when the PTA logged the visit). A case states anything
    else it needs here."""

    cpt_code: str
    minutes: int  # 0: no time-log segment at all
    units: int  # 0: not billed
    modifiers: str | None = None  # the claim line's modifiers; NO_MODIFIERS for none
    place_of_service: str | None = None  # the claim line's; None: OFFICE
    by_assistant: bool = False  # logged by the therapist's PTA, not by the therapist
    offset: int | None = None  # starts this many minutes into the visit
    note_type: str | None = None  # the segment's note_type; evaluations get EVALUATION_NOTE


@dataclass(frozen=True)
class Expected:
    """A finding the audit must report on a planted case.

    It is on the claim line that bills `cpt_code` in the case's visit number `visit`
    (from 0, in date order). A finding about a provider's day has no claim line
    (`cpt_code` None): it is filed under the case's lowest patient id, on its day.
    `units_billed` and `units_supported` are None where the rule leaves them empty."""

    rule_id: str
    cpt_code: str | None
    units_billed: int | None
    units_supported: int | None
    visit: int = 0


@dataclass(frozen=True)
class PlantedCase:
    """A visit built to test one thing: a problem to find, or a look-alike to leave alone.

    Each case gets a treatment visit of its own (an evaluation visit with
    `on_evaluation`) on a PT patient of `payer_class`, delivered by the patient's PT,
    logged as one segment per code. `therapist` asks for a patient of that PT (see
    SUPERVISING_PT); a case with a service `by_assistant` gets a patient the PTA also
    sees, on a day the PTA sees nobody else.
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
    on_evaluation: bool = False
    therapist: int | None = None

    @property
    def plans(self) -> tuple[tuple[Service, ...], ...]:
        """The services of each of the case's visits."""
        return (self.services,)


@dataclass(frozen=True)
class CourseVisit:
    day: date
    services: tuple[Service, ...]


@dataclass(frozen=True)
class Course:
    """A patient of the case's own, with one payer and one therapist (by place in the
    roster), seen on exactly these days; the first visit is the evaluation."""

    case_id: str
    discipline: str
    payer: str
    therapist: int
    visits: tuple[CourseVisit, ...]
    story: str
    expected: tuple[Expected, ...] = ()

    @property
    def plans(self) -> tuple[tuple[Service, ...], ...]:
        return tuple(visit.services for visit in self.visits)


@dataclass(frozen=True)
class DayVisit:
    start: int  # minute of the day the visit starts
    services: tuple[Service, ...]
    payer: str | None = None  # the patient's payer; None: any


@dataclass(frozen=True)
class ProviderDay:
    """One weekday of a therapist (by place in the roster): a visit at each fixed clock
    time, each with a different patient of theirs evaluated on an earlier day (in
    patient id order among those of the visit's payer). With `exclusive` the therapist
    sees nobody else that day; otherwise their other visits follow these."""

    case_id: str
    discipline: str
    therapist: int
    visits: tuple[DayVisit, ...]
    story: str
    expected: tuple[Expected, ...] = ()
    exclusive: bool = False

    @property
    def plans(self) -> tuple[tuple[Service, ...], ...]:
        return tuple(visit.services for visit in self.visits)


Case = PlantedCase | Course | ProviderDay


def _s(cpt_code: str, minutes: int, units: int) -> Service:
    return Service(cpt_code, minutes, units)


def clock(text: str) -> int:
    """Minutes after midnight of `HH:MM`."""
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def october(day: int) -> date:
    return date(2025, 10, day)


# Cases of the unit rules, planted in the sample and in every bench profile.
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


# Cases of the rules beyond units, planted in the sample only: each is a visit of its
# own, with everything the case does not name as on a clean visit.
SAMPLE_CASES = (
    PlantedCase(
        "S13",
        MEDICARE_CLASS,
        (Service("97110", 30, 2, modifiers=NO_MODIFIERS), _s("97112", 15, 1)),
        "97110 x2 is billed with no modifier at all, where the PT's 30 logged minutes call "
        "for GP: the line is returned unpaid. The 45 minutes support the 3 units billed.",
        (Expected(MODIFIER_THERAPY_MISSING, "97110", 2, 0),),
    ),
    PlantedCase(
        "S14",
        MEDICARE_CLASS,
        (
            Service("97110", 30, 3, modifiers="GP"),
            Service("97110", 15, 0, by_assistant=True),
        ),
        "The PT logs 97110 for 30 minutes, then the PTA for 15 more; 97110 x3 is billed "
        "under the PT with GP and no CQ. The PT's minutes make 2 whole units, the PTA's a "
        "third that needs CQ: 1 unit billed without it, at risk at the 15% assistant "
        "differential.",
        (Expected(MODIFIER_ASSISTANT_MISSING, "97110", 3, 2),),
        therapist=SUPERVISING_PT,
    ),
    PlantedCase(
        "S15",
        COMMERCIAL_CLASS,
        (_s("97110", 30, 2), Service("97112", 15, 1, modifiers="GP,52")),
        "97112 x1 for 15 minutes carries 52 (reduced services): a timed code is billed by "
        "its minutes, and 52 does not belong on it. The units are right.",
        (Expected(MODIFIER_52_ON_TIMED, "97112", 1, None),),
    ),
    PlantedCase(
        "S16",
        COMMERCIAL_CLASS,
        (Service("97161", 40, 1, modifiers="GP,25"), _s("97110", 15, 1)),
        "The evaluation 97161 carries 25, which belongs to evaluation-and-management "
        "services: a therapy evaluation needs none to be paid beside 97110.",
        (Expected(MODIFIER_25_UNNEEDED, "97161", 1, None),),
        on_evaluation=True,
    ),
    PlantedCase(
        "S17",
        MEDICARE_CLASS,
        (
            Service("97110", 30, 2, place_of_service=TELEHEALTH),
            Service("97112", 15, 1, place_of_service=TELEHEALTH),
        ),
        "Both lines are billed at place of service 10 (telehealth) with GP and no 95, in "
        "Medicare's telehealth period for therapy: each line is at risk.",
        (
            Expected(TELEHEALTH_MODIFIER_MISSING, "97110", 2, 0),
            Expected(TELEHEALTH_MODIFIER_MISSING, "97112", 1, 0),
        ),
    ),
    PlantedCase(
        "S18",
        MEDICARE_CLASS,
        (
            Service("97110", 30, 2, modifiers="GP,95", place_of_service=TELEHEALTH),
            Service("97112", 15, 1, modifiers="GP,95", place_of_service=TELEHEALTH),
        ),
        "Clean twin of S17: the same telehealth visit, its lines carrying GP,95.",
    ),
    PlantedCase(
        "S19",
        MEDICARE_CLASS,
        (_s("97110", 38, 2),),
        "One 38-minute segment of 97110 supports 3 units under the 8-minute rule, but only "
        "2 are billed: one unit ($28.79) missed.",
        (Expected(UNITS_UNDERBILLED, "97110", 2, 3),),
    ),
    PlantedCase(
        "S20",
        MEDICARE_CLASS,
        (_s("97530", 30, 2), _s("97140", 15, 1)),
        "97530 and 97140 the same day are an NCCI pair (97140 in column two, modifier "
        "indicator 1), and 97140 carries no 59 or X modifier: it is denied.",
        (Expected(NCCI_PAIR_MODIFIER_MISSING, "97140", 1, 0),),
    ),
    PlantedCase(
        "S21",
        MEDICARE_CLASS,
        (_s("97530", 30, 2), Service("97140", 15, 1, modifiers="GP,59")),
        "Clean twin of S20: 97140 carries GP,59, the modifier the edit allows.",
    ),
    PlantedCase(
        "S22",
        MEDICARE_CLASS,
        (_s("97110", 105, 7),),
        "105 minutes of 97110 support the 7 units billed, but 97110's medically unlikely "
        "edit is 6 units a day: 1 unit above it.",
        (Expected(MUE_EXCEEDED, "97110", 7, 6),),
    ),
    PlantedCase(
        "S23",
        MEDICARE_CLASS,
        (_s("97110", 30, 2), Service("97530", 30, 1, offset=20)),
        "97530 starts 20 minutes into the visit while 97110 still runs: 10 minutes logged "
        "under two codes. Each minute counts once (50 minutes, 3 units, as billed), so only "
        "the overlap is reported, on the line of the code logged second.",
        (Expected(OVERLAP_SAME_PATIENT, "97530", 1, None),),
        therapist=SUPERVISING_PT,
    ),
)


def _kx_visit(day: int, modifiers: str | None = None, note_type: str | None = None) -> CourseVisit:
    """A long treatment visit: $315.05 of Medicare allowed amounts in 2025."""
    return CourseVisit(
        october(day),
        (
            Service("97110", 60, 4, modifiers=modifiers, note_type=note_type),
            Service("97112", 45, 3, modifiers=modifiers),
            Service("97530", 45, 3, modifiers=modifiers),
        ),
    )


def _evaluation(code: str) -> CourseVisit:
    return CourseVisit(october(6), (Service(code, 40, 1),))


def _daily(code: str, days: tuple[int, ...]) -> tuple[CourseVisit, ...]:
    """One 30-minute treatment of `code` (x2) on each of these October days."""
    return tuple(CourseVisit(october(day), (_s(code, 30, 2),)) for day in days)


# Cases that need a patient's whole course of care.
COURSES = (
    Course(
        "S24",
        "PT",
        MEDICARE,
        SUPERVISING_PT,
        (
            _evaluation("97161"),
            *(_kx_visit(day) for day in (7, 9, 13, 15, 16, 20, 22, 24)),
            _kx_visit(27, "GP,KX", PROGRESS_REPORT_NOTE),
            _kx_visit(29, "GP,KX"),
        ),
        "The evaluation ($98.01) and 10 long treatment visits, each 97110 x4, 97112 x3 "
        "and 97530 x3 for 60, 45 and 45 minutes ($315.05). After the 7th treatment visit "
        "(October 22) the year's allowed amounts are $2,303.36; the 8th (October 24) "
        "passes the $2,410 KX threshold with its first line and is billed GP only, so each "
        "of its 3 lines lacks KX. The 9th and 10th carry GP,KX, and the 10th's first line "
        "takes the total past $3,000, the targeted medical-review threshold. The 9th "
        "visit's 97110 is marked `progress_report`, so no report is overdue.",
        (
            Expected(MODIFIER_KX_MISSING, "97110", 4, None, visit=8),
            Expected(MODIFIER_KX_MISSING, "97112", 3, None, visit=8),
            Expected(MODIFIER_KX_MISSING, "97530", 3, None, visit=8),
            Expected(KX_MEDICAL_REVIEW, "97110", 4, None, visit=10),
        ),
    ),
    Course(
        "S25",
        "PT",
        AETNA,
        SECOND_PT,
        (_evaluation("97161"), *_daily("97110", (7, 8, 9, 10, 13, 14, 15, 16, 17, 20, 21, 22))),
        "Evaluated on October 6, then seen every weekday: the 13th visit (October 22, day "
        "17 of the episode) passes the 12 visits after which payers review the care. A "
        "commercial payer, so the progress-report rule (Medicare's) does not apply.",
        (Expected(COURSE_LONG, "97110", 2, None, visit=12),),
    ),
    Course(
        "S26",
        "OT",
        MEDICARE,
        FIRST_OT,
        (_evaluation("97165"), *_daily("97530", (7, 8, 9, 10, 13, 14, 15, 16, 17, 20))),
        "Evaluated on October 6 and treated every weekday to October 20 with no progress "
        "report marked: October 20 is the 11th treatment day of the episode (the "
        "evaluation counts) without one.",
        (Expected(PROGRESS_REPORT_OVERDUE, "97530", 2, None, visit=10),),
    ),
)

IMPOSSIBLE_DAY_PATIENTS = 13

# Cases about one therapist's whole day.
PROVIDER_DAYS = (
    ProviderDay(
        "S27",
        "PT",
        SECOND_PT,
        (
            DayVisit(clock("09:00"), (_s("97110", 30, 2),), MEDICARE),
            DayVisit(clock("09:20"), (_s("97112", 30, 2),), AETNA),
        ),
        "The second PT logs 97110 with a Medicare patient from 09:00 to 09:30 and 97112 "
        "with an AETNA patient from 09:20 to 09:50: 10 minutes one-on-one with two patients "
        "at once. Each patient's units are right; the finding is about the time log, filed "
        "under the lower patient id with no claim. The PT's other visits that day follow "
        "from 09:55.",
        (Expected(OVERLAP_ONE_ON_ONE, None, None, None),),
    ),
    ProviderDay(
        "S28",
        "PT",
        SECOND_PT,
        tuple(
            DayVisit(clock("07:00") + 60 * i, (_s("97110", 30, 2), _s("97112", 30, 2)))
            for i in range(IMPOSSIBLE_DAY_PATIENTS)
        ),
        f"The second PT sees {IMPOSSIBLE_DAY_PATIENTS} patients back to back from 07:00 to "
        "20:00, each 97110 and 97112 for 30 minutes (x2 each): 780 one-on-one minutes, past "
        "the 720 a day the rule allows, and nobody else that day. One finding, filed under "
        "the lowest of the patient ids with no claim.",
        (Expected(IMPOSSIBLE_DAY, None, None, None),),
        exclusive=True,
    ),
)

# Everything planted in the sample, in the order the generator plants it: whole courses
# first (their days are fixed), then provider days, then single visits.
SAMPLE_PLANTED: tuple[Case, ...] = (*COURSES, *PROVIDER_DAYS, *PLANTED_CASES, *SAMPLE_CASES)


def case_order(case_id: str) -> int:
    """S1, S2, ... S10 in number order."""
    return int(case_id.removeprefix("S"))
