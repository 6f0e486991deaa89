"""The DORA page's charts as geometry: numbers the templates draw as inline SVG attributes.

The page's Content-Security-Policy forbids inline styles and scripts, so a chart is boxes and
lines placed here, in Python, from ``/api/v1/dora``'s timeline, and written as SVG attributes
by ``templates/dora_charts.html``. Two charts per app and environment:

- deployments per day: one bar per day of the window (per several days when the window is
  long), its height the number of deployments counted that day;
- the timeline: one row per deployment, a bar for its lead time (from its changes' median
  commit time to the moment it counted), a dot at that moment, and, for a failure, a bar from
  the first sign of failure to the restore (to the window's end while not restored).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

MAX_BARS = 60
"""More days than this in the window: each bar stands for several days."""
BAR_WIDTH, BAR_HEIGHT = 720.0, 120.0
ROW, LABEL, NOTE, TIMELINE_WIDTH = 24.0, 70.0, 170.0, 720.0
"""A timeline row's height; the widths of its revision label, its note, the whole."""


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    start: str
    """The bucket's first day, ``2026-12-05``."""
    count: int


@dataclass(frozen=True)
class BarChart:
    bars: tuple[Bar, ...]
    days_per_bar: int
    peak: int
    width: float = BAR_WIDTH
    height: float = BAR_HEIGHT


@dataclass(frozen=True)
class Span:
    x: float
    width: float


@dataclass(frozen=True)
class Row:
    y: float
    revision: str
    deployed_x: float
    lead: Span | None
    failure: Span | None
    restored: bool
    deployed_at: str
    lead_seconds: float | None
    failed_at: str | None
    restored_at: str | None
    restore_seconds: float | None


@dataclass(frozen=True)
class Timeline:
    rows: tuple[Row, ...]
    start: str
    end: str
    width: float
    height: float
    label: float = LABEL
    note: float = TIMELINE_WIDTH - NOTE + 10


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _r(value: float) -> float:
    return round(value, 2)


def per_day(timeline: Sequence[dict[str, Any]], *, start: datetime, end: datetime) -> BarChart:
    """Deployments per day (or per few days) over ``[start, end]``."""
    first, last = start.date(), end.date()
    days = (last - first).days + 1
    step = max(1, math.ceil(days / MAX_BARS))
    buckets = math.ceil(days / step)
    counts = [0] * buckets
    for entry in timeline:
        index = (moment(str(entry["deployedAt"])).astimezone(start.tzinfo).date() - first).days
        if 0 <= index < days:
            counts[index // step] += 1
    peak = max(counts, default=0)
    slot = BAR_WIDTH / buckets
    bars = []
    for i, count in enumerate(counts):
        height = BAR_HEIGHT * count / peak if peak else 0.0
        bars.append(
            Bar(
                x=_r(i * slot + slot * 0.1),
                y=_r(BAR_HEIGHT - height),
                width=_r(slot * 0.8),
                height=_r(height),
                start=(first + timedelta(days=i * step)).isoformat(),
                count=count,
            )
        )
    return BarChart(tuple(bars), step, peak)


def timeline(entries: Sequence[dict[str, Any]], *, end: datetime) -> Timeline | None:
    """Each deployment's lead time and failure-to-restore span, on one time axis."""
    if not entries:
        return None
    marks: list[datetime] = []
    for entry in entries:
        deployed = moment(str(entry["deployedAt"]))
        marks.append(deployed)
        if entry.get("leadTimeSeconds") is not None:
            marks.append(deployed - timedelta(seconds=float(entry["leadTimeSeconds"])))
        for key in ("failedAt", "restoredAt"):
            if entry.get(key):
                marks.append(moment(str(entry[key])))
    if any(e.get("failedAt") and not e.get("restoredAt") for e in entries):
        marks.append(end)
    low, high = min(marks), max(marks)
    span = max((high - low).total_seconds(), 1.0)
    low -= timedelta(seconds=span * 0.02)
    span *= 1.04
    plot = TIMELINE_WIDTH - LABEL - NOTE

    def x(at: datetime) -> float:
        return LABEL + plot * (at - low).total_seconds() / span

    def between(a: datetime, b: datetime) -> Span:
        return Span(_r(x(a)), _r(max(x(b) - x(a), 2.0)))

    rows = []
    for i, entry in enumerate(entries):
        deployed = moment(str(entry["deployedAt"]))
        lead_seconds = entry.get("leadTimeSeconds")
        lead = (
            between(deployed - timedelta(seconds=float(lead_seconds)), deployed)
            if lead_seconds is not None
            else None
        )
        failure, restore_seconds = None, None
        if entry.get("failedAt"):
            failed = moment(str(entry["failedAt"]))
            restored = moment(str(entry["restoredAt"])) if entry.get("restoredAt") else end
            failure = between(failed, restored)
            if entry.get("restoredAt"):
                restore_seconds = round((restored - failed).total_seconds(), 3)
        rows.append(
            Row(
                y=_r(i * ROW),
                revision=str(entry.get("revision") or ""),
                deployed_x=_r(x(deployed)),
                lead=lead,
                failure=failure,
                restored=bool(entry.get("restoredAt")),
                deployed_at=str(entry["deployedAt"]),
                lead_seconds=lead_seconds,
                failed_at=entry.get("failedAt"),
                restored_at=entry.get("restoredAt"),
                restore_seconds=restore_seconds,
            )
        )
    return Timeline(
        rows=tuple(rows),
        start=low.isoformat(timespec="seconds"),
        end=(low + timedelta(seconds=span)).isoformat(timespec="seconds"),
        width=TIMELINE_WIDTH - NOTE,
        height=_r(len(rows) * ROW),
    )
