"""Deliveries per minute by outcome, as the geometry of a small stacked-bar SVG chart.

The template draws the bars (numbers only: nothing a carrier sent reaches a chart);
no chart library, no script.

Example:
    >>> from datetime import UTC, datetime
    >>> now = datetime(2026, 1, 1, 12, 0, 30, tzinfo=UTC)
    >>> minute = datetime(2026, 1, 1, 11, 59, tzinfo=UTC)
    >>> counts = {minute: Counter({"accepted": 3, "refused": 1})}
    >>> chart = stacked("hour", "Last hour", counts, now, buckets=60, minutes=1)
    >>> chart.totals["accepted"], chart.peak, len(chart.bars)
    (3, 4.0, 2)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from gateway.audit.query import AuditRecord

SERIES = ("accepted", "duplicate", "ignored", "parked", "refused", "throttled")
"""The outcomes charted, bottom to top; ``refused`` is ``rejected`` and ``failed``."""
WIDTH, HEIGHT = 600, 120


def series_of(outcome: str) -> str | None:
    """The series an audited outcome is drawn in (None: not a delivery, e.g. ``endpoint``)."""
    if outcome in ("rejected", "failed"):
        return "refused"
    return outcome if outcome in SERIES else None


def per_minute(records: Iterable[AuditRecord]) -> dict[datetime, Counter[str]]:
    """Counted windows summed per UTC minute and series."""
    found: dict[datetime, Counter[str]] = {}
    for record in records:
        series = series_of(record.outcome)
        if series is None:
            continue
        minute = record.at.astimezone(UTC).replace(second=0, microsecond=0)
        found.setdefault(minute, Counter())[series] += record.count
    return found


@dataclass(frozen=True)
class Bar:
    """One rectangle: where, which series, and its text for screen readers and hovers."""

    x: float
    y: float
    width: float
    height: float
    series: str
    label: str


@dataclass(frozen=True)
class Chart:
    """One chart: its bars, the totals per series, the peak (requests per minute)."""

    id: str
    title: str
    bars: tuple[Bar, ...]
    totals: Mapping[str, int]
    peak: float
    per: str
    width: int = WIDTH
    height: int = HEIGHT


def stacked(
    chart_id: str,
    title: str,
    counts: Mapping[datetime, Counter[str]],
    now: datetime,
    *,
    buckets: int,
    minutes: int,
) -> Chart:
    """``buckets`` bars of ``minutes`` each, ending with the current minute; a bar's height
    is requests per minute (the bucket's average when it spans several minutes)."""
    end = now.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    start = end - timedelta(minutes=buckets * minutes)
    sums: list[Counter[str]] = [Counter() for _ in range(buckets)]
    for minute, counter in counts.items():
        index = int((minute - start).total_seconds() // 60) // minutes
        if 0 <= index < buckets:
            sums[index].update(counter)
    rates = [{s: c[s] / minutes for s in SERIES if c[s]} for c in sums]
    peak = max((sum(r.values()) for r in rates), default=0.0)
    scale = HEIGHT / peak if peak else 0.0
    step = WIDTH / buckets
    bars: list[Bar] = []
    for index, rate in enumerate(rates):
        y = float(HEIGHT)
        at = start + timedelta(minutes=index * minutes)
        for series in SERIES:
            if series not in rate:
                continue
            height = rate[series] * scale
            y -= height
            label = f"{at:%H:%M} UTC: {rate[series]:g}/min {series}"
            bars.append(Bar(index * step, y, max(step - 0.5, 0.5), height, series, label))
    totals = {s: sum(c[s] for c in sums) for s in SERIES}
    per = "minute" if minutes == 1 else f"minute (average of {minutes} minutes)"
    return Chart(chart_id, title, tuple(bars), totals, peak, per)
