"""When a failed message is tried again, and when an endpoint has failed for too long.

Attempts go out immediately, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h after each
failure (eight attempts over about 28 hours, as Svix does). A ``Retry-After`` longer than
the schedule's next delay is honoured, up to the schedule's longest delay. An endpoint
failing without a success for :data:`DISABLE_AFTER` is disabled.

``scale`` shrinks every delay for tests and local demos (``waybill serve
--retry-scale``); the AWS entry points never set it.

Example:
    >>> next_delay(1, None)
    5.0
    >>> next_delay(1, retry_after=60)
    60.0
    >>> next_delay(8, None) is None  # the eighth attempt failed: the message has failed
    True
    >>> next_delay(2, None, scale=0.001)
    0.3
"""

from __future__ import annotations

from datetime import timedelta

SCHEDULE: tuple[float, ...] = (0, 5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600)
"""Delay before each attempt (seconds): the first is immediate."""
ATTEMPTS = len(SCHEDULE)
DISABLE_AFTER = timedelta(days=5)
SUCCESS_WITHIN_SECONDS = 15.0


def next_delay(attempts_made: int, retry_after: float | None, scale: float = 1.0) -> float | None:
    """Seconds until the next attempt after ``attempts_made`` attempts all failed; None
    when none is left. ``retry_after`` (the endpoint's ``Retry-After``) may lengthen the
    delay, never beyond the schedule's longest."""
    if attempts_made >= ATTEMPTS:
        return None
    delay = SCHEDULE[attempts_made]
    if retry_after is not None and retry_after > delay:
        delay = min(retry_after, max(SCHEDULE))
    return delay * scale
