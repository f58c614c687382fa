"""Ship24 webhooks: ``{trackings: [{tracker, shipment, events}]}``, one or several per POST.

Authentication: ``Authorization: Bearer <webhook secret>``, a static secret that does
not cover the body (there is no HMAC), compared in constant time.

Every event of every tracking is an event. Status comes from the event's
``statusMilestone`` (the shipment's overall status when the event happened), refined
by its ``statusCode`` where the table below lists it; ``carrier_code`` is the
``statusCode`` (empty on minor events), else the milestone. ``occurrenceDatetime`` is
naïve local time: kept as local wall time and assumed UTC. ``eventId`` (a UUID) is kept
in metadata. A tracking that cannot be read goes to ``ParseResult.failures``; the
others are returned.
"""

from __future__ import annotations

from typing import Any

from gateway.adapter import Adapter, Delivery, ParsedEvent, ParseResult, map_status
from gateway.models import Status
from gateway.payload import as_list, as_object, collect, load_object, required_text, text
from gateway.signing.spec import SignatureSpec
from gateway.timeparse import parse_instant

HEADER = "Authorization"

STATUS_MAP: dict[str, Status] = {
    "pending": Status.PENDING,
    "info_received": Status.INFO_RECEIVED,
    "in_transit": Status.IN_TRANSIT,
    "out_for_delivery": Status.OUT_FOR_DELIVERY,
    "failed_attempt": Status.ATTEMPT_FAIL,
    "available_for_pickup": Status.AVAILABLE_FOR_PICKUP,
    "delivered": Status.DELIVERED,
    "exception": Status.EXCEPTION,
}
# ``statusCode`` values that decide the status whatever the milestone says (only the
# documented ones: other codes are kept as ``carrier_code`` and leave the milestone's).
STATUS_CODES: dict[str, Status] = {
    "delivery_delivered": Status.DELIVERED,
}


def _event(raw: object, tracking: dict[str, Any], number: str, what: str) -> ParsedEvent:
    item = as_object(raw, what)
    stamp = text(item.get("occurrenceDatetime"))
    occurred_at, tz_source, local = parse_instant(stamp, "occurrenceDatetime", where=what)
    milestone, code = text(item.get("statusMilestone")), text(item.get("statusCode"))
    status = STATUS_CODES.get((code or "").lower()) or map_status(STATUS_MAP, milestone)
    raw_meta = {
        "event_id": item.get("eventId"),
        "status_milestone": milestone,
        "status_category": item.get("statusCategory"),
        "courier_code": item.get("courierCode"),
        "location_raw": item.get("location"),
    }
    metadata = {k: found for k, v in raw_meta.items() if (found := text(v))}
    shipment = tracking.get("shipment")
    delivery = shipment.get("delivery") if isinstance(shipment, dict) else None
    delivery = delivery if isinstance(delivery, dict) else {}
    signer = text(delivery.get("signedBy"))
    return ParsedEvent(
        tracking_number=number,
        status=status,
        occurred_at=occurred_at,
        tz_source=tz_source,
        occurred_at_local=local,
        carrier_code=code or milestone,
        carrier_text=text(item.get("status")),
        estimated_delivery=text(delivery.get("estimatedDeliveryDate")),
        signed_by=signer if status is Status.DELIVERED else None,
        metadata=metadata,
    )


def _tracking(raw: object, what: str) -> list[ParsedEvent]:
    tracking = as_object(raw, what)
    tracker = as_object(tracking.get("tracker"), f"{what}.tracker")
    number = required_text(tracker, "trackingNumber", f"{what}.tracker")
    events = as_list(tracking.get("events"), f"{what}.events")
    return [_event(e, tracking, number, f"{what}.events[{i}]") for i, e in enumerate(events)]


def parse(delivery: Delivery) -> ParseResult:
    """Every event of every tracking; unreadable trackings become failures."""
    body = load_object(delivery.body)
    trackings = as_list(body.get("trackings"), "trackings", required=True)
    events, failures = collect(trackings, _tracking, "trackings[{}]")
    return ParseResult(events=events, failures=failures)


ADAPTER = Adapter(
    id="ship24",
    label="Ship24",
    docs_url="https://docs.ship24.com/webhooks/authentication",
    scheme=SignatureSpec(kind="token", header=HEADER, prefix="Bearer "),
    status_map=STATUS_MAP | STATUS_CODES,
    parse=parse,
    confidence="DOC-EXCERPT",
    identity="the delivery by body hash; each event by content, with Ship24's `eventId` "
    "kept in metadata (two events that differ only in their free-text `location` share "
    "a fingerprint, since that text is not a structured location)",
    time_handling="`occurrenceDatetime` is naïve local time: kept as local wall time and "
    "assumed UTC (`assumed_utc`); an offset or `Z`, if sent, is honoured",
    notes="Static bearer secret: it authenticates the sender but does not bind the body. "
    "`trackings[]` may group several shipments (a dashboard setting); an unreadable "
    "tracking is parked while the others are stored. Fields from docs.ship24.com excerpts.",
)
