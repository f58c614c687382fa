"""The canonical tracking model every adapter translates into.

Example:
    >>> Location(city="Houston", region="TX", country="US").country
    'US'
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

METADATA_MAX_KEYS = 20
METADATA_MAX_VALUE_CHARS = 256


class Status(StrEnum):
    """Canonical milestone of a shipment."""

    PENDING = "pending"
    INFO_RECEIVED = "info_received"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    AVAILABLE_FOR_PICKUP = "available_for_pickup"
    ATTEMPT_FAIL = "attempt_fail"
    DELIVERED = "delivered"
    EXCEPTION = "exception"
    RETURNED = "returned"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    UNKNOWN = "unknown"


# Tie-break when two events share the same instant: the later stage wins.
STATUS_PRECEDENCE: dict[Status, int] = {
    Status.UNKNOWN: 0,
    Status.PENDING: 1,
    Status.INFO_RECEIVED: 2,
    Status.IN_TRANSIT: 3,
    Status.EXPIRED: 4,
    Status.ATTEMPT_FAIL: 5,
    Status.AVAILABLE_FOR_PICKUP: 6,
    Status.OUT_FOR_DELIVERY: 7,
    Status.EXCEPTION: 8,
    Status.CANCELLED: 9,
    Status.DELIVERED: 10,
    Status.RETURNED: 11,
}


# No adapter infers a zone from a place (that needs a time-zone map of places), so
# DESIGN.md's ``inferred_from_location`` is not offered: a naive time is ``assumed_utc``.
class TzSource(StrEnum):
    """How the UTC instant of an event was obtained."""

    CARRIER_OFFSET = "carrier_offset"
    CARRIER_UTC = "carrier_utc"
    ASSUMED_UTC = "assumed_utc"
    DATE_ONLY = "date_only"


TRACKING_NUMBER_MAX_BYTES = 64
"""Longest tracking number kept (UPS 18, USPS 22-34, DHL up to 39 characters): far below
DynamoDB's key limits, and the same bound as the query API's path parameter."""
_TRACKING_NUMBER = re.compile(r"[A-Z0-9._-]+")


def normalise_tracking_number(value: str) -> str:
    """Strip whitespace and upper-case, as carriers are inconsistent about both.

    A tracking number is ASCII letters, digits, ``.``, ``_`` and ``-``, at most 64
    characters: anything else (``#``, ``/``, ``%``, non-ASCII letters) could not be
    read back through every layer of the query API, so it is refused here.

    >>> normalise_tracking_number(" 1zabc 12 ")
    '1ZABC12'
    >>> normalise_tracking_number("1Z#99")
    Traceback (most recent call last):
    ...
    ValueError: tracking number may hold only ASCII letters, digits, '.', '_' and '-'
    """
    if len(value) <= TRACKING_NUMBER_MAX_BYTES and _TRACKING_NUMBER.fullmatch(value):
        return value  # already normal (the common case, and every second call)
    cleaned = "".join(value.split())
    if not cleaned:
        raise ValueError("tracking number is empty")
    if len(cleaned) > TRACKING_NUMBER_MAX_BYTES:  # checked first: never scan a huge value
        raise ValueError(f"tracking number is longer than {TRACKING_NUMBER_MAX_BYTES} characters")
    cleaned = cleaned.upper()
    if not (cleaned.isascii() and _TRACKING_NUMBER.fullmatch(cleaned)):
        raise ValueError("tracking number may hold only ASCII letters, digits, '.', '_' and '-'")
    return cleaned


_INSTANT_FORMAT = "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FUTURE_TOLERANCE = timedelta(days=3)
"""How far past its receipt an event time may lie and still be believed (time zones
mis-stamped by a carrier shift it by hours, never by days)."""


def instant_text(value: datetime) -> str:
    """Fixed-width UTC text of an instant, which sorts in time order for every year 1..9999.

    >>> instant_text(datetime(2024, 6, 1, 9, 2, tzinfo=UTC))
    '2024-06-01T09:02:00.000000Z'
    >>> instant_text(datetime(999, 1, 1, tzinfo=UTC))
    '0999-01-01T00:00:00.000000Z'
    """
    utc = value.astimezone(UTC)
    # Zero-padded like ISO 8601 (strftime's %Y is not, below year 1000), at about half
    # strftime's cost (it runs per event).
    return _INSTANT_FORMAT % (
        utc.year,
        utc.month,
        utc.day,
        utc.hour,
        utc.minute,
        utc.second,
        utc.microsecond,
    )


def parse_instant_text(text: str) -> datetime:
    """The instant an :func:`instant_text` stands for.

    >>> parse_instant_text("0999-01-01T00:00:00.000000Z").year
    999
    """
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def utc_text(value: datetime, *, to_second: bool = False) -> str:
    """An instant as every API answer, notification and ``--json`` document shows it: UTC,
    ``Z``, and ``.ffffff`` only when there is a fraction of a second (exactly pydantic's JSON
    form, so hand-built answers and serialised models agree); ``to_second`` drops the
    fraction (the CLI's text lines). Keys use the fixed-width :func:`instant_text`.

    >>> utc_text(datetime(2024, 6, 1, 9, 2, tzinfo=UTC))
    '2024-06-01T09:02:00Z'
    >>> moment = datetime(2024, 6, 1, 9, 2, 0, 5000, tzinfo=UTC)
    >>> utc_text(moment), utc_text(moment, to_second=True)
    ('2024-06-01T09:02:00.005000Z', '2024-06-01T09:02:00Z')
    """
    utc = value.astimezone(UTC)
    return (utc.replace(microsecond=0) if to_second else utc).isoformat().replace("+00:00", "Z")


def plausible_time(occurred_at: datetime, received_at: datetime) -> bool:
    """True for an event time a carrier can mean: from 1970 to a few days after receipt.

    >>> received = datetime(2025, 6, 1, tzinfo=UTC)
    >>> plausible_time(datetime(2025, 5, 30, tzinfo=UTC), received)
    True
    >>> plausible_time(datetime(25, 5, 30, tzinfo=UTC), received)  # a two-digit-year bug
    False
    >>> plausible_time(datetime(2025, 6, 9, tzinfo=UTC), received)
    False
    """
    return occurred_at >= EPOCH and occurred_at - received_at <= FUTURE_TOLERANCE


def _require_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("instant must be timezone-aware")
    return value.astimezone(UTC)


UtcInstant = Annotated[datetime, AfterValidator(_require_utc)]
TrackingNumber = Annotated[str, AfterValidator(normalise_tracking_number)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Location(_Frozen):
    """Where a scan happened; every part is optional."""

    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)

    def is_empty(self) -> bool:
        """True when no part of the location is known."""
        return all(value is None for value in self.model_dump().values())


def _bounded_metadata(value: dict[str, Any]) -> dict[str, str]:
    if len(value) > METADATA_MAX_KEYS:
        raise ValueError(f"metadata has more than {METADATA_MAX_KEYS} keys")
    return {str(k)[:64]: str(v)[:METADATA_MAX_VALUE_CHARS] for k, v in value.items()}


class _ScanFacts(_Frozen):
    """What one scan says: shared by the full event and its bounded summary."""

    event_id: str
    status: Status
    detail: str | None = None
    carrier_code: str | None = None
    carrier_text: str | None = None
    occurred_at: UtcInstant
    occurred_at_local: str | None = None
    tz_source: TzSource
    location: Location = Location()
    signed_by: str | None = None


class CanonicalEvent(_ScanFacts):
    """One tracking event, in Waybill's carrier-neutral shape."""

    tenant: str
    carrier: str
    tracking_number: TrackingNumber
    estimated_delivery: str | None = None
    received_at: UtcInstant
    delivery_id: str | None = None
    eta_only: bool = Field(default=False, exclude=True)  # read by the store, never serialised
    metadata: Annotated[dict[str, str], AfterValidator(_bounded_metadata)] = Field(
        default_factory=dict
    )

    def plausible(self) -> bool:
        """True unless the event's time is one no carrier means (:func:`plausible_time`)."""
        return plausible_time(self.occurred_at, self.received_at)

    def status_rank(self) -> int:
        """What this event can say about the shipment's current status (invariant 4).

        3: it informs the status; 2: it only revises the ETA (its status is the carrier's
        placeholder, e.g. UPS type U); 1: it carries no status (``unknown``); 0: its time
        is one no carrier means (before 1970, or more than :data:`FUTURE_TOLERANCE` after
        we received it: a two-digit-year or clock bug). Every event joins the history; a
        lower rank never replaces a higher one as the current state, whatever its time.
        """
        if not self.plausible():
            return 0
        if self.status is Status.UNKNOWN:
            return 1
        return 2 if self.eta_only else 3

    def ordering_key(self) -> str:
        """Sortable key: :meth:`status_rank`, then event time, status precedence and identity.

        The shipment's current state is the event with the greatest key.
        """
        rank, precedence = self.status_rank(), STATUS_PRECEDENCE[self.status]
        return f"{rank}#{instant_text(self.occurred_at)}#{precedence:02d}#{self.event_id}"


SUMMARY_TEXT_LIMIT = 100


class EventSummary(_ScanFacts):
    """A bounded copy of an event, kept on the shipment state (the full event is in history).

    Its size is bounded so the state item stays under 1 KB (one write unit) for a
    shipment of 30 events, however long a carrier's text is.
    """

    @classmethod
    def of(cls, event: CanonicalEvent) -> EventSummary:
        """Summarise ``event``; texts longer than the limit end with an ellipsis."""

        def cut(value: str | None, limit: int) -> str | None:
            if value is None or len(value) <= limit:
                return value
            return value[: limit - 1] + "\u2026"

        return cls(
            event_id=event.event_id,
            status=event.status,
            detail=cut(event.detail, 40),
            carrier_code=cut(event.carrier_code, 40),
            carrier_text=cut(event.carrier_text, SUMMARY_TEXT_LIMIT),
            occurred_at=event.occurred_at,
            occurred_at_local=cut(event.occurred_at_local, 40),
            tz_source=event.tz_source,
            location=event.location,
            signed_by=cut(event.signed_by, 40),
        )


class ShipmentState(_Frozen):
    """The current state of one shipment for one carrier."""

    tenant: str
    carrier: str
    tracking_number: TrackingNumber
    status: Status
    detail: str | None = None
    last_event: EventSummary
    estimated_delivery: str | None = None
    last_event_at: UtcInstant
    last_received_at: UtcInstant
    event_count: int = Field(ge=0)
    source: Literal["push", "submit", "poll"] = "push"

    @field_validator("event_count")
    @classmethod
    def _at_least_one(cls, value: int) -> int:
        if value < 1:
            raise ValueError("a shipment state exists only once an event does")
        return value
