"""What an adapter reads from a body or an API answer: events, and what it could not read.

Shared by the webhook contract (:mod:`gateway.carriers.adapter`) and the polling one
(:mod:`gateway.carriers.polling`); adapters import them from either.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from gateway.models import Location, Status, TzSource


@dataclass(frozen=True)
class ParsedEvent:
    """An event as the adapter read it, before the pipeline normalises and fingerprints it."""

    tracking_number: str
    status: Status
    occurred_at: datetime
    tz_source: TzSource
    carrier_code: str | None = None
    carrier_text: str | None = None
    detail: str | None = None
    occurred_at_local: str | None = None
    location: Location = field(default_factory=Location)
    estimated_delivery: str | None = None
    signed_by: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    eta_only: bool = False  # only revises the ETA (UPS type U): never moves the status


@dataclass(frozen=True)
class ParseResult:
    """What a body contained: events (maybe none), the carrier's delivery id, or why ignored.

    ``failures`` names the items of a batch that could not be read: the good items
    are stored and the delivery is also parked, so nothing is lost. ``ignored_items``
    says why readable items carried nothing to store (the answer repeats it).
    """

    events: Sequence[ParsedEvent] = ()
    delivery_id: str | None = None
    ignored: str | None = None
    failures: Sequence[str] = ()
    ignored_items: Sequence[str] = ()
