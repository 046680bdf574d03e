"""The content of the report's sections, as plain rows for the templates.

Each function turns frames (findings, evidence, rejects) into what one section shows;
the charts are drawn in charts.py, the page put together in page.py.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

import polars as pl

from pipeline.catalog import Catalog, bind
from pipeline.config import Config
from reports import charts
from reports.evidence import Evidence

Row = dict[str, Any]
DayKey = tuple[str, date]
# Providers drawn in the share chart: the most flagged; the median is over them all.
SHARE_CHART_PROVIDERS = 25


def day_keys(shown: pl.DataFrame) -> dict[DayKey, str]:
    """An anchor per patient-day of the embedded findings, in the findings' order."""
    days = shown.filter(pl.col("patient_id").is_not_null() & pl.col("service_date").is_not_null())
    unique = days.select("patient_id", "service_date").unique(maintain_order=True)
    return {(p, d): f"d{i}" for i, (p, d) in enumerate(unique.iter_rows())}


def evidence_days(
    shown: pl.DataFrame, evidence: Evidence, keys: dict[DayKey, str], catalog: Catalog
) -> list[Row]:
    """One block per patient-day: its findings, time-log segments, claim lines and the
    units the minutes support, with how they were computed."""
    rules = {rule.id: rule for rule in catalog.rules}
    findings = _grouped(shown, ("patient_id", "service_date"))
    segments = _grouped(evidence.segments, ("patient_id", "service_date"))
    lines = _grouped(evidence.claim_lines, ("patient_id", "service_date"))
    units = _grouped(evidence.units, ("patient_id", "service_date"))
    blocks = []
    for (patient, day), key in keys.items():
        day_findings = findings[(patient, day)]
        day_segments = segments.get((patient, day), [])
        blocks.append(
            {
                "key": key,
                "patient_id": patient,
                "service_date": day,
                "findings": day_findings,
                "rules": [rules[r] for r in dict.fromkeys(f["rule_id"] for f in day_findings)],
                "timeline": _day_timeline(patient, day, day_segments) if day_segments else None,
                "segments": day_segments,
                "claim_lines": lines.get((patient, day), []),
                "unit_days": _unit_days(units.get((patient, day), []), catalog),
            }
        )
    return blocks


def patient_episodes(shown: pl.DataFrame, evidence: Evidence, keys: dict[DayKey, str]) -> list[Row]:
    """Per patient with evidence shown: the episodes of care holding a flagged day,
    drawn as visit timelines with the thresholds they crossed."""
    visits = _grouped(evidence.visits, ("patient_id",))
    counts = dict(shown.group_by("patient_id").len().iter_rows())
    days_of: dict[str, list[Row]] = defaultdict(list)
    for (patient, day), key in sorted(keys.items(), key=lambda item: item[0][1]):
        days_of[patient].append({"service_date": day, "key": key})
    patients = []
    for patient, days in days_of.items():
        flagged = {d["service_date"] for d in days}
        episodes = _grouped_rows(visits.get((patient,), []), ("discipline", "episode_number"))
        patients.append(
            {
                "patient_id": patient,
                "findings": counts[patient],
                "days": days,
                "episodes": [_episode(patient, rows, flagged) for rows in episodes.values()],
            }
        )
    return sorted(patients, key=lambda p: (-p["findings"], p["patient_id"]))


def providers(
    findings: pl.DataFrame, with_evidence: pl.DataFrame, units: pl.DataFrame, catalog: Catalog
) -> list[Row]:
    """A section per provider: totals, findings by rule, and the findings whose
    evidence the page shows."""
    at_risk = [rule.id for rule in catalog.rules if rule.money == "at_risk"]
    by_rule = (
        findings.group_by("provider_npi", "rule_id")
        .agg(
            pl.len().alias("findings"),
            pl.col("amount_at_risk").filter(pl.col("rule_id").is_in(at_risk)).sum().alias("amount"),
        )
        .sort("provider_npi", "findings", "rule_id", descending=[False, True, False])
    )
    rules_of = _grouped(by_rule, ("provider_npi",))
    shown_of = _grouped(with_evidence, ("provider_npi",))
    unit_rows = {row["provider_npi"]: row for row in units.iter_rows(named=True)}
    rows = []
    for (npi,), rule_rows in rules_of.items():
        rows.append(
            {
                "provider_npi": npi,
                "findings": sum(r["findings"] for r in rule_rows),
                "amount": sum(float(r["amount"] or 0) for r in rule_rows),
                "by_rule": rule_rows,
                "units": unit_rows.get(npi),
                "shown": shown_of.get((npi,), []),
            }
        )
    return sorted(rows, key=lambda r: (-r["amount"], -r["findings"], str(r["provider_npi"])))


def provider_charts(units: pl.DataFrame) -> dict[str, Any]:
    """Units billed against units supported, and providers ranked by flagged share with
    the peer median marked (over every provider with timed units)."""
    if units.is_empty():
        return {}
    ranked = units.head(SHARE_CHART_PROVIDERS)
    median = float(units["flagged_share"].median() or 0)
    return {
        "units": charts.bar_chart(
            [
                charts.Bar(r["provider_npi"], (r["units_billed"], r["units_supported"]))
                for r in units.sort("units_billed", descending=True)
                .head(SHARE_CHART_PROVIDERS)
                .iter_rows(named=True)
            ],
            ("billed", "supported by the minutes"),
            lambda v: f"{v:,.0f}",
            "Timed units billed and supported, per provider",
        ),
        "share": charts.bar_chart(
            [
                charts.Bar(
                    r["provider_npi"], (r["flagged_share"],), f"({r['units_unsupported']:,})"
                )
                for r in ranked.iter_rows(named=True)
            ],
            ("share of units flagged",),
            lambda v: f"{v:.1%}",
            "Providers ranked by share of billed timed units flagged",
            charts.Marker(median, f"peer median {median:.1%}"),
        ),
        "providers_drawn": ranked.height,
        "providers_total": units.height,
    }


def rejects_by_reason(rejects: pl.DataFrame, per_reason: int) -> list[Row]:
    """Each reason with its count and its first rows."""
    counts = rejects.group_by("reason").len().sort(["len", "reason"], descending=[True, False])
    first = _grouped(
        rejects.filter(pl.int_range(pl.len()).over("reason") < per_reason), ("reason",)
    )
    return [
        {"reason": reason, "rows": count, "first": first[(reason,)]}
        for reason, count in counts.iter_rows()
    ]


def rule_catalog(catalog: Catalog) -> list[Row]:
    """Every rule with the parameters its SQL reads, as configured for this run."""
    return [
        {
            "rule": rule,
            "params": {
                name: format_param(value)
                for name, value in sorted(bind(rule.sql, rule.params, rule.id).items())
            },
        }
        for rule in catalog.rules
    ]


def payer_profiles(catalog: Catalog, config: Config) -> list[Row]:
    return [
        {
            "name": p.name,
            "payers": ", ".join(p.payers),
            "unit_method": p.unit_method,
            "params": {
                k: format_param(v) for k, v in {**catalog.profile_params, **p.params}.items()
            },
        }
        for p in config.payer_profiles
    ]


def format_param(value: Any) -> str:
    """A parameter as a reader would write it: lists joined, tables as key value."""
    if isinstance(value, dict):
        return ", ".join(f"{k} {format_param(v)}" for k, v in value.items())
    if isinstance(value, list):
        return "; ".join(format_param(v) for v in value)
    return str(value)


def _day_timeline(patient: str, day: date, segments: list[Row]) -> Any:
    drawn = [
        charts.Segment(
            cpt_code=s["cpt_code"],
            start=s["start_time"],
            end=s["end_time"],
            label=(
                f"{s['cpt_code']} {s['start_time']:%H:%M}-{s['end_time']:%H:%M} "
                f"{s['provider_role']} {s['provider_npi']}{_counted(s)}"
            ),
            assistant=s["provider_role"] in ("PTA", "OTA"),
        )
        for s in segments
    ]
    return charts.day_timeline(drawn, f"Time log of {patient} on {day}")


def _counted(segment: Row) -> str:
    """Minutes an overlapped segment counts toward the units, where fewer than it spans."""
    spanned = (segment["end_time"] - segment["start_time"]).total_seconds() / 60
    counted = segment["counted_minutes"]
    return "" if counted is None or counted >= spanned else f", counts {counted:.0f} min"


def _unit_days(rows: list[Row], catalog: Catalog) -> list[Row]:
    """The unit computation per discipline of the day, in the payer's method."""
    unit, first = catalog.params["unit_minutes"], catalog.params["min_minutes"]
    days = []
    for (discipline,), codes in _grouped_rows(rows, ("discipline",)).items():
        head = codes[0]
        for code in codes:
            code["whole_units"], code["leftover"] = divmod(code["minutes"], unit)
        days.append(
            {
                "discipline": discipline,
                "payer": head["payer"],
                "method": head["unit_method"],
                "day_minutes": head["day_minutes"],
                "day_units_billed": head["day_units_billed"],
                "day_units_supported": head["day_units_supported"],
                "unit_minutes": unit,
                "min_minutes": first,
                "codes": codes,
            }
        )
    return days


def _episode(patient: str, visits: list[Row], flagged: set[date]) -> Row:
    head, last = visits[0], visits[-1]
    markers = _episode_markers(visits)
    drawn = [charts.Visit(v["episode_day"], v["service_date"] in flagged) for v in visits]
    title = f"{head['discipline']} episode {head['episode_number']} of {patient}"
    return {
        "discipline": head["discipline"],
        "number": head["episode_number"],
        "start": head["episode_start"],
        "started_by": head["episode_started_by"],
        "visits": last["episode_visit"],
        "days": last["episode_day"],
        "last_visit": last["service_date"],
        "crossed": [label for _, label in markers],
        "timeline": charts.episode_timeline(drawn, markers, title),
    }


def _episode_markers(visits: list[Row]) -> list[tuple[int, str]]:
    """The thresholds an episode crossed: the first visit past each visit count and
    past the course length, and the day the yearly total passed the KX threshold."""
    head = visits[0]
    markers = []
    for limit, grade in (
        (head["course_visits_medium"], "medium"),
        (head["course_visits_high"], "high"),
    ):
        past = next((v for v in visits if limit is not None and v["episode_visit"] > limit), None)
        if past:
            markers.append(
                (past["episode_day"], f"visit {past['episode_visit']}: past {limit} ({grade})")
            )
    max_days = head["course_max_days"]
    late = next((v for v in visits if max_days is not None and v["episode_day"] > max_days), None)
    if late:
        markers.append((late["episode_day"], f"day {late['episode_day']}: past {max_days} days"))
    kx = next(
        (v for v in visits if v["kx_date"] is not None and v["service_date"] >= v["kx_date"]), None
    )
    if kx:
        markers.append((kx["episode_day"], f"KX threshold passed {kx['kx_date']}"))
    return markers


def _grouped(frame: pl.DataFrame, by: tuple[str, ...]) -> dict[tuple, list[Row]]:
    return _grouped_rows(frame.iter_rows(named=True), by)


def _grouped_rows(rows: Any, by: tuple[str, ...]) -> dict[tuple, list[Row]]:
    groups: dict[tuple, list[Row]] = defaultdict(list)
    for row in rows:
        groups[tuple(row[c] for c in by)].append(row)
    return groups
