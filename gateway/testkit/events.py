"""Build canonical events for store and pipeline tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gateway.carriers.adapter import ParsedEvent
from gateway.ingest.normalise import to_canonical
from gateway.models import CanonicalEvent, Location, Status, TzSource

T0 = datetime(2025, 4, 10, 9, 0, tzinfo=UTC)
HOUSTON = Location(city="Houston", region="TX", postal_code="77063", country="US")


def make_event(
    index: int,
    *,
    tenant: str = "acme",
    carrier: str = "easypost",
    tracking_number: str = "EZ1000000001",
    status: Status = Status.IN_TRANSIT,
    at: datetime | None = None,
    text_bytes: int = 40,
    location: Location = HOUSTON,
) -> CanonicalEvent:
    """The ``index``-th scan of a shipment, one hour apart, with a text of ``text_bytes``."""
    text = f"scan {index} " + "x" * max(0, text_bytes - 10)
    parsed = ParsedEvent(
        tracking_number=tracking_number,
        status=status,
        occurred_at=at or T0 + timedelta(hours=index),
        tz_source=TzSource.CARRIER_UTC,
        carrier_code=f"{status.value}/scan",
        carrier_text=text,
        location=location,
    )
    return to_canonical(
        parsed,
        tenant=tenant,
        carrier=carrier,
        received_at=T0 + timedelta(days=30),
        delivery_id=None,
    )
