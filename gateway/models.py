"""The canonical tracking model every adapter translates into.

Example:
    >>> Location(city="Houston", region="TX", country="US").country
    'US'
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

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


class TzSource(StrEnum):
    """How the UTC instant of an event was obtained."""

    CARRIER_OFFSET = "carrier_offset"
    CARRIER_UTC = "carrier_utc"
    INFERRED_FROM_LOCATION = "inferred_from_location"
    ASSUMED_UTC = "assumed_utc"
    DATE_ONLY = "date_only"


def normalise_tracking_number(value: str) -> str:
    """Strip whitespace and upper-case, as carriers are inconsistent about both.

    >>> normalise_tracking_number(" 1zabc 12 ")
    '1ZABC12'
    """
    cleaned = "".join(value.split()).upper()
    if not cleaned:
        raise ValueError("tracking number is empty")
    return cleaned


_INSTANT_FORMAT = "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ"


def instant_text(value: datetime) -> str:
    """Fixed-width UTC text of an instant, which sorts in time order.

    >>> instant_text(datetime(2024, 6, 1, 9, 2, tzinfo=UTC))
    '2024-06-01T09:02:00.000000Z'
    """
    utc = value.astimezone(UTC)
    if utc.year < 1000:  # strftime does not zero-pad such years: keep its exact text
        return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    # The same text as that strftime, at about half its cost (it runs per event).
    return _INSTANT_FORMAT % (
        utc.year,
        utc.month,
        utc.day,
        utc.hour,
        utc.minute,
        utc.second,
        utc.microsecond,
    )


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

    def ordering_key(self) -> str:
        """Sortable key: event time, then status precedence, then identity.

        The shipment's current state is the event with the greatest key.
        """
        return (
            f"{instant_text(self.occurred_at)}#{STATUS_PRECEDENCE[self.status]:02d}#{self.event_id}"
        )


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

    @field_validator("event_count")
    @classmethod
    def _at_least_one(cls, value: int) -> int:
        if value < 1:
            raise ValueError("a shipment state exists only once an event does")
        return value
