"""Normalisation: adapter output → canonical events with deterministic fingerprints.

The fingerprint is computed from normalised *content* (tenant, carrier, tracking
number, native code, UTC instant, location, text), never from re-serialised JSON,
so the same scan re-sent inside a full-history payload gets the same id.

Example:
    >>> from datetime import UTC, datetime
    >>> a = event_fingerprint("t", "c", "1Z", "OR", datetime(2024, 1, 1, tzinfo=UTC),
    ...                       Location(city="Paris"), "Origin  scan")
    >>> a == event_fingerprint("t", "c", "1Z", "OR", datetime(2024, 1, 1, tzinfo=UTC),
    ...                        Location(city=" PARIS "), "origin scan")
    True
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from operator import attrgetter

from gateway.carriers.adapter import ParsedEvent
from gateway.models import CanonicalEvent, Location, instant_text, normalise_tracking_number

_SEP = "\x1f"
_LOCATION_PARTS = attrgetter(*Location.model_fields)  # a tuple in model_dump order
# CanonicalEvent.model_validate without its per-call Python wrapper: the same validation.
_validate_event: Callable[[dict[str, object]], CanonicalEvent] = (
    CanonicalEvent.__pydantic_validator__.validate_python
)


def _norm(value: object) -> str:
    if value is None:
        return ""
    if type(value) is str:  # the common case first
        return " ".join(value.split()).casefold()
    if isinstance(value, float):
        return f"{value:.5f}"
    return " ".join(str(value).split()).casefold()


def event_fingerprint(
    tenant: str,
    carrier: str,
    tracking_number: str,
    carrier_code: str | None,
    occurred_at: datetime,
    location: Location,
    text: str | None,
) -> bytes:
    """SHA-256 over the normalised content that identifies one scan."""
    parts = (
        tenant,
        carrier,
        normalise_tracking_number(tracking_number),
        _norm(carrier_code),
        instant_text(occurred_at),
        *map(_norm, _LOCATION_PARTS(location)),
        _norm(text),
    )
    return hashlib.sha256(_SEP.join(parts).encode("utf-8")).digest()


def event_id_from(fingerprint: bytes) -> str:
    """The public event id: 128 bits of the fingerprint, hex."""
    return "ev_" + fingerprint[:16].hex()


def to_canonical(
    parsed: ParsedEvent,
    *,
    tenant: str,
    carrier: str,
    received_at: datetime,
    delivery_id: str | None,
) -> CanonicalEvent:
    """Build the canonical event; raises pydantic's ValidationError on bad content.

    Validating a dict runs the same checks as the keyword constructor at a lower
    per-event cost; the metadata mapping is copied by that validation.
    """
    digest = event_fingerprint(
        tenant,
        carrier,
        parsed.tracking_number,
        parsed.carrier_code,
        parsed.occurred_at,
        parsed.location,
        parsed.carrier_text,
    )
    return _validate_event(
        {
            "event_id": event_id_from(digest),
            "tenant": tenant,
            "carrier": carrier,
            "tracking_number": parsed.tracking_number,
            "status": parsed.status,
            "detail": parsed.detail,
            "carrier_code": parsed.carrier_code,
            "carrier_text": parsed.carrier_text,
            "occurred_at": parsed.occurred_at,
            "occurred_at_local": parsed.occurred_at_local,
            "tz_source": parsed.tz_source,
            "location": parsed.location,
            "estimated_delivery": parsed.estimated_delivery,
            "signed_by": parsed.signed_by,
            "received_at": received_at,
            "delivery_id": delivery_id,
            "metadata": parsed.metadata,
            "eta_only": parsed.eta_only,
        }
    )
