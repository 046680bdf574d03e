"""Inline SVG for the report: charts and the evidence drawings.

Drawn here rather than in the browser, so a chart shows without JavaScript, in print
and in a mail client that runs none. Every text and attribute value goes through
markupsafe's escape; colours come from classes in report.css (the page's
Content-Security-Policy allows no inline style attributes).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from markupsafe import Markup, escape

WIDTH = 720
LABEL_WIDTH = 190
VALUE_WIDTH = 90
ROW_HEIGHT = 22


@dataclass(frozen=True)
class Bar:
    """One row of a bar chart: a label and one value per series."""

    label: str
    values: tuple[float, ...]
    note: str = ""


@dataclass(frozen=True)
class Marker:
    """A vertical line across a chart at a value, e.g. the peer median."""

    value: float
    label: str


def bar_chart(
    rows: Sequence[Bar],
    series: Sequence[str],
    fmt: Callable[[float], str],
    title: str,
    marker: Marker | None = None,
) -> Markup:
    """Horizontal bars, one row per item, up to two series side by side in a row."""
    top = 20 if marker else 4
    height = top + ROW_HEIGHT * len(rows) + (18 if len(series) > 1 else 4)
    plot = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    largest = max([v for row in rows for v in row.values] + [marker.value if marker else 0, 0])
    scale = plot / largest if largest else 0
    thickness = (ROW_HEIGHT - 6) / len(series)
    parts = []
    for i, row in enumerate(rows):
        y = top + i * ROW_HEIGHT
        parts.append(_text(LABEL_WIDTH - 6, y + ROW_HEIGHT / 2 + 4, row.label, "end"))
        for s, value in enumerate(row.values):
            tip = f"{row.label}: {series[s]} {fmt(value)}"
            parts.append(
                _rect(LABEL_WIDTH, y + 3 + s * thickness, value * scale, thickness, f"s{s}", tip)
            )
        shown = " / ".join(fmt(v) for v in row.values) + (f" {row.note}" if row.note else "")
        end = LABEL_WIDTH + max(row.values) * scale + 4
        parts.append(_text(end, y + ROW_HEIGHT / 2 + 4, shown))
    if marker:
        x = LABEL_WIDTH + marker.value * scale
        parts.append(_line(x, top - 4, x, top + ROW_HEIGHT * len(rows), "marker"))
        parts.append(_text(x, top - 8, marker.label, "middle", "marker"))
    if len(series) > 1:
        parts.append(_legend(series, LABEL_WIDTH, height - 6))
    return _svg(WIDTH, height, title, parts)


def column_chart(
    columns: Sequence[tuple[str, Sequence[int]]], series: Sequence[str], title: str
) -> Markup:
    """Stacked columns (e.g. findings per week, by severity), labels under them."""
    height, bottom, left = 220, 180, 40
    plot = WIDTH - left - 10
    step = plot / max(len(columns), 1)
    largest = max([sum(values) for _, values in columns] + [1])
    scale = (bottom - 20) / largest
    parts = [
        _line(left, bottom, WIDTH - 10, bottom, "axis"),
        _text(left - 4, bottom - largest * scale + 4, str(largest), "end"),
        _text(left - 4, bottom + 4, "0", "end"),
    ]
    every = max(1, len(columns) // 12)  # at most about a dozen date labels
    for i, (label, values) in enumerate(columns):
        x, y = left + i * step + step * 0.15, bottom
        for s, value in enumerate(values):
            if value:
                tip = f"{label}: {value} {series[s]}"
                parts.append(_rect(x, y - value * scale, step * 0.7, value * scale, f"k{s}", tip))
                y -= value * scale
        if i % every == 0:
            parts.append(_text(x + step * 0.35, bottom + 14, label, "middle"))
    parts.append(_legend(series, left, height - 8, prefix="k"))
    return _svg(WIDTH, height, title, parts)


@dataclass(frozen=True)
class Segment:
    cpt_code: str
    start: datetime
    end: datetime
    label: str
    assistant: bool


def day_timeline(segments: Sequence[Segment], title: str) -> Markup:
    """A patient-day's time-log segments on the clock, one lane per code, with the
    stretches where two segments overlap shaded across every lane."""
    codes = list(dict.fromkeys(s.cpt_code for s in segments))
    begin = _floor_quarter(min(s.start for s in segments))
    finish = max(s.end for s in segments)
    span = max((finish - begin).total_seconds(), 3600.0)
    left, lane, width = 50, 16, 560
    top, height = 4, 4 + lane * len(codes) + 18
    scale = width / span

    def x(moment: datetime) -> float:
        return left + (moment - begin).total_seconds() * scale

    parts = [
        _rect(x(a), top, x(b) - x(a), lane * len(codes), "overlap", "overlap")
        for a, b in _overlaps(segments)
    ]
    for i, code in enumerate(codes):
        parts.append(_text(left - 4, top + i * lane + 12, code, "end"))
    for s in segments:
        y = top + codes.index(s.cpt_code) * lane + 2
        css = "seg asst" if s.assistant else "seg"
        parts.append(_rect(x(s.start), y, max(x(s.end) - x(s.start), 1), lane - 4, css, s.label))
    tick = timedelta(minutes=15 if span <= 2 * 3600 else 60)
    bottom = top + lane * len(codes)
    # Hourly ticks fall on the hour, quarter-hour ticks on the quarter.
    moment = begin if tick.seconds < 3600 or begin.minute == 0 else _next_hour(begin)
    while moment <= begin + timedelta(seconds=span):
        parts.append(_line(x(moment), top, x(moment), bottom + 3, "tick"))
        parts.append(_text(x(moment), bottom + 14, f"{moment:%H:%M}", "middle"))
        moment += tick
    return _svg(left + width + 20, height, title, parts)


@dataclass(frozen=True)
class Visit:
    day: int  # calendar day of the episode, 1 = its first visit's day
    flagged: bool  # a finding of the report falls on this visit


def episode_timeline(
    visits: Sequence[Visit], markers: Sequence[tuple[int, str]], title: str
) -> Markup:
    """An episode's visits along its calendar days, with the thresholds it crossed
    (visit counts, course length, KX) as labelled lines at the day they were passed."""
    left, width, axis = 10, 660, 34
    last = max([v.day for v in visits] + [day for day, _ in markers] + [2])
    scale = (width - 20) / (last - 1)

    def x(day: float) -> float:
        return left + 10 + (day - 1) * scale

    parts = [_line(x(1), axis, x(last), axis, "axis")]
    for row, (day, label) in enumerate(markers):
        parts.append(_line(x(day), 10, x(day), axis + 6, "marker"))
        # Labels on the right half read leftwards from their line, so none runs off.
        right = x(day) > width / 2
        anchor, nudge = ("end", -3) if right else ("start", 3)
        parts.append(_text(x(day) + nudge, 9 + (row % 2) * 10, label, anchor, "marker"))
    for v in visits:
        css = "visit flagged" if v.flagged else "visit"
        parts.append(f'<circle cx="{x(v.day):.0f}" cy="{axis}" r="3.5" class="{css}"/>')
    parts.append(_text(x(1), axis + 20, "day 1"))
    parts.append(_text(x(last), axis + 20, f"day {last}", "end"))
    return _svg(width + 20, axis + 26, title, parts)


def _overlaps(segments: Sequence[Segment]) -> list[tuple[datetime, datetime]]:
    """The stretches of the day covered by two or more segments at once."""
    events = sorted([(s.start, 1) for s in segments] + [(s.end, -1) for s in segments])
    stretches: list[tuple[datetime, datetime]] = []
    depth, opened = 0, None
    for moment, step in events:
        depth += step
        if depth >= 2 and opened is None:
            opened = moment
        elif depth < 2 and opened is not None:
            if moment > opened:
                stretches.append((opened, moment))
            opened = None
    return stretches


def _next_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0) + timedelta(hours=1)


def _floor_quarter(moment: datetime) -> datetime:
    return moment.replace(minute=moment.minute - moment.minute % 15, second=0, microsecond=0)


def _svg(width: float, height: float, title: str, parts: list[str]) -> Markup:
    body = "".join(parts)
    return Markup(
        f'<svg class="chart" viewBox="0 0 {width:.0f} {height:.0f}" role="img">'
        f"<title>{escape(title)}</title>{body}</svg>"
    )


def _rect(x: float, y: float, w: float, h: float, css: str, tip: str) -> str:
    return (
        f'<rect x="{x:.0f}" y="{y:.0f}" width="{max(w, 0):.0f}" height="{h:.0f}" '
        f'class="{css}"><title>{escape(tip)}</title></rect>'
    )


def _line(x1: float, y1: float, x2: float, y2: float, css: str) -> str:
    return f'<line x1="{x1:.0f}" y1="{y1:.0f}" x2="{x2:.0f}" y2="{y2:.0f}" class="{css}"/>'


def _text(x: float, y: float, text: str, anchor: str = "start", css: str = "") -> str:
    attrs = f' text-anchor="{anchor}"' if anchor != "start" else ""
    attrs += f' class="{css}"' if css else ""
    return f'<text x="{x:.0f}" y="{y:.0f}"{attrs}>{escape(text)}</text>'


def _legend(series: Sequence[str], x: float, y: float, prefix: str = "s") -> str:
    parts = []
    for i, name in enumerate(series):
        parts.append(_rect(x, y - 9, 10, 10, f"{prefix}{i}", name))
        parts.append(_text(x + 14, y, name))
        x += 24 + 7 * len(name)
    return "".join(parts)
