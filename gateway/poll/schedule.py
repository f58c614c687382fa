"""When a tracker is checked next: by the shipment's status, its failures and its age.

The intervals are data (:data:`INTERVALS`), overridable per tenant and carrier
(``[carriers.<id>.polling] intervals``). On the estimated delivery day a shipment is
checked every 30 minutes; each consecutive failure doubles the interval, up to 16 times; a
terminal status stops the tracker, and so does :data:`IDLE_LIMIT` without anything new.
A due time is rounded down to its minute: a pass runs each minute, and a tracker checked
a few seconds into one is due at the start of the pass an interval later, not a minute
after it.

Example:
    >>> from datetime import UTC, datetime
    >>> now = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    >>> next_check(Status.IN_TRANSIT, now).isoformat()
    '2026-03-02T10:00:00+00:00'
    >>> next_check(Status.IN_TRANSIT, now, failures=2).isoformat()
    '2026-03-02T16:00:00+00:00'
    >>> next_check(Status.IN_TRANSIT, now, estimated_delivery="2026-03-02").isoformat()
    '2026-03-02T08:30:00+00:00'
    >>> next_check(Status.DELIVERED, now) is None
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from gateway.models import Status

HOUR = 3600
INTERVALS: dict[Status, int] = {
    Status.UNKNOWN: 24 * HOUR,  # the carrier does not know it yet: the pre-transit pace
    Status.PENDING: 24 * HOUR,
    Status.INFO_RECEIVED: 24 * HOUR,
    Status.IN_TRANSIT: 2 * HOUR,
    Status.AVAILABLE_FOR_PICKUP: 2 * HOUR,
    Status.ATTEMPT_FAIL: HOUR,
    Status.OUT_FOR_DELIVERY: HOUR // 2,
    Status.EXCEPTION: HOUR,
}
"""Seconds between checks by current status (a status missing here is terminal)."""
TERMINAL = frozenset({Status.DELIVERED, Status.RETURNED, Status.CANCELLED, Status.EXPIRED})
DELIVERY_DAY_SECONDS = HOUR // 2
MAX_BACKOFF = 16
IDLE_LIMIT = timedelta(days=90)
"""A tracker with nothing new for this long retires (carriers drop their data by then)."""


def interval(status: Status, overrides: Mapping[str, int] | None = None) -> int | None:
    """Seconds between checks in ``status``; None when the status is terminal."""
    if status in TERMINAL:
        return None
    if overrides and status.value in overrides:
        return overrides[status.value]
    return INTERVALS.get(status, INTERVALS[Status.UNKNOWN])


def next_check(
    status: Status,
    now: datetime,
    *,
    failures: int = 0,
    estimated_delivery: str | None = None,
    overrides: Mapping[str, int] | None = None,
) -> datetime | None:
    """When to check next after a check at ``now``; None when the tracker should stop."""
    seconds = interval(status, overrides)
    if seconds is None:
        return None
    if estimated_delivery and estimated_delivery[:10] == now.date().isoformat():
        seconds = min(seconds, DELIVERY_DAY_SECONDS)
    seconds *= min(2 ** max(failures, 0), MAX_BACKOFF)
    due = now + timedelta(seconds=seconds)
    return due.replace(second=0, microsecond=0)  # the pass of that minute finds it


def idle(last_news_at: datetime, now: datetime) -> bool:
    """True when nothing new has come for :data:`IDLE_LIMIT`: the tracker retires."""
    return now - last_news_at >= IDLE_LIMIT
