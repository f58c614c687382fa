"""Carrier time strings → a UTC instant plus an honest account of how it was obtained.

Example:
    >>> parse_instant("2018-07-31T10:33:00-04:00")[0].isoformat()
    '2018-07-31T14:33:00+00:00'
    >>> parse_instant("2021-01-14T00:52:00")[1]
    <TzSource.ASSUMED_UTC: 'assumed_utc'>
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from gateway.errors import ParseError
from gateway.models import TzSource

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_instant(text: str) -> tuple[datetime, TzSource, str | None]:
    """Parse an ISO-8601 carrier time.

    Returns ``(utc_instant, tz_source, local_wall_time)``: an offset gives
    ``carrier_offset`` and keeps the wall time; ``Z`` gives ``carrier_utc``; a
    naïve value is kept as local wall time and *assumed* UTC; a bare date is
    ``date_only`` at midnight UTC.
    """
    value = text.strip()
    if _DATE_ONLY.match(value):
        day = datetime.fromisoformat(value).replace(tzinfo=UTC)
        return day, TzSource.DATE_ONLY, value
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ParseError(f"unreadable timestamp {value[:40]!r}") from exc
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC), TzSource.ASSUMED_UTC, value
    if parsed.utcoffset() == UTC.utcoffset(None) and value.upper().endswith(("Z", "+00:00")):
        return parsed.astimezone(UTC), TzSource.CARRIER_UTC, None
    wall = parsed.replace(tzinfo=None).isoformat()
    return parsed.astimezone(UTC), TzSource.CARRIER_OFFSET, wall


def from_unix(seconds: float) -> datetime:
    """A unix timestamp as an aware UTC datetime."""
    return datetime.fromtimestamp(seconds, tz=UTC)
