"""EasyPost webhooks: an ``Event`` whose ``result`` is a full ``Tracker``.

Signature (v1): ``X-Hmac-Signature: hmac-sha256-hex=<hex HMAC-SHA256>`` over the raw
body, keyed with the NFKD-normalised secret. No timestamp is signed.

Every entry of ``result.tracking_details`` (the full history, resent each time)
becomes an event. ``carrier_code`` is ``"<status>/<status_detail>"`` (EasyPost's own
normalised pair, stable across carriers); the upstream carrier's raw code and
``source`` go to metadata. Countries other than ISO alpha-2 codes (EasyPost sometimes
sends names) become ``None`` with the raw value kept as ``country_raw``. The Tracker's
current ``est_delivery_date`` applies to each detail that has none of its own.
Non-tracker events (``batch.created``…) are acknowledged and ignored.

A Tracker without tracking details but with a known ``status`` becomes one event built
from the Tracker itself (``metadata["event_kind"] = "shipment_status"``), timed by its
``updated_at``; a new Tracker (``status`` ``unknown``, as the docs show right after a label
is bought) or one without ``updated_at`` is ignored with the reason.
"""

from __future__ import annotations

from typing import Any

from gateway.carriers.adapter import (
    Adapter,
    Delivery,
    ParsedEvent,
    ParseResult,
    shipment_status_metadata,
)
from gateway.carriers.payload import address, as_list, as_object, load_object, required_text, text
from gateway.carriers.status import Refine, StatusTable, status_of
from gateway.carriers.timeparse import parse_instant
from gateway.errors import ParseError
from gateway.models import Status
from gateway.signing.spec import SignatureSpec

HEADER = "X-Hmac-Signature"
PREFIX = "hmac-sha256-hex="

# A (status, status_detail) pair may refine the status and give a detail.
STATUSES = StatusTable(
    main={
        "unknown": Status.UNKNOWN,
        "pre_transit": Status.INFO_RECEIVED,
        "in_transit": Status.IN_TRANSIT,
        "out_for_delivery": Status.OUT_FOR_DELIVERY,
        "available_for_pickup": Status.AVAILABLE_FOR_PICKUP,
        "delivered": Status.DELIVERED,
        "return_to_sender": Status.RETURNED,
        "failure": Status.EXCEPTION,
        "cancelled": Status.CANCELLED,
        "error": Status.EXCEPTION,
    },
    refinements={
        ("failure", "delivery_exception"): Refine(Status.ATTEMPT_FAIL),
        ("failure", "refused"): Refine(detail="refused"),
        ("failure", "damaged"): Refine(detail="damaged"),
        ("failure", "lost"): Refine(detail="lost"),
    },
    details={"return_to_sender": "returned_to_sender"},
    columns=("status", "status_detail"),
)


def _codes(item: dict[str, Any]) -> tuple[str, str]:
    """``(status, status_detail)`` lower-cased, ``""`` when absent."""
    return (text(item.get("status")) or "").lower(), (text(item.get("status_detail")) or "").lower()


def _event(raw: object, tracker: dict[str, Any], tracking_number: str) -> ParsedEvent:
    item = as_object(raw, "tracking detail")
    status, detail = _codes(item)
    stamp = text(item.get("datetime"))
    if stamp is None:
        raise ParseError("tracking detail has no datetime")
    occurred_at, tz_source, local = parse_instant(stamp, "datetime", where="tracking detail")
    canonical, refined = status_of(STATUSES, status, detail)
    raw = {"upstream_carrier": tracker.get("carrier"), "source": item.get("source")}
    raw["native_code"] = item.get("carrier_code")
    metadata = {k: found for k, v in raw.items() if (found := text(v))}
    return ParsedEvent(
        tracking_number=tracking_number,
        status=canonical,
        occurred_at=occurred_at,
        tz_source=tz_source,
        occurred_at_local=local,
        carrier_code="/".join(p for p in (status, detail) if p) or None,
        carrier_text=text(item.get("message")) or text(item.get("description")),
        detail=refined,
        location=address(item.get("tracking_location"), metadata),
        estimated_delivery=text(item.get("est_delivery_date"))
        or text(tracker.get("est_delivery_date")),
        signed_by=text(tracker.get("signed_by")) if canonical is Status.DELIVERED else None,
        metadata=metadata,
    )


def _tracker_status(tracker: dict[str, Any], tracking_number: str) -> ParsedEvent | str:
    """The Tracker's own status as one event, or why there is none."""
    status, detail = _codes(tracker)
    if status in ("", "unknown"):
        return "tracker has no tracking detail and no known status"
    stamp = text(tracker.get("updated_at"))
    if stamp is None:
        return "tracker has a status but no tracking detail and no time"
    occurred_at, tz_source, local = parse_instant(stamp, "updated_at", where="Tracker")
    canonical, refined = status_of(STATUSES, status, detail)
    facts = {"upstream_carrier": text(tracker.get("carrier"))} | shipment_status_metadata(
        "updated_at"
    )
    return ParsedEvent(
        tracking_number=tracking_number,
        status=canonical,
        occurred_at=occurred_at,
        tz_source=tz_source,
        occurred_at_local=local,
        carrier_code="/".join(p for p in (status, detail) if p),
        detail=refined,
        estimated_delivery=text(tracker.get("est_delivery_date")),
        signed_by=text(tracker.get("signed_by")) if canonical is Status.DELIVERED else None,
        metadata={k: v for k, v in facts.items() if v},
    )


def parse(delivery: Delivery) -> ParseResult:
    """Read a tracker Event; other Events are acknowledged and ignored."""
    event = load_object(delivery.body)
    delivery_id = text(event.get("id"))
    if event.get("result") is None:
        raise ParseError("Event has no result")
    result = as_object(event["result"], "Event.result")
    if result.get("object") != "Tracker":
        description = text(event.get("description")) or "event"
        return ParseResult(delivery_id=delivery_id, ignored=f"{description[:60]} is not a tracker")
    tracking_number = required_text(result, "tracking_code", "Tracker")
    details = as_list(result.get("tracking_details") or [], "Tracker.tracking_details")
    if not details:
        found = _tracker_status(result, tracking_number)
        if isinstance(found, str):
            return ParseResult(delivery_id=delivery_id, ignored=found)
        return ParseResult(events=[found], delivery_id=delivery_id)
    events = [_event(item, result, tracking_number) for item in details]
    return ParseResult(events=events, delivery_id=delivery_id)


ADAPTER = Adapter(
    id="easypost",
    label="EasyPost",
    docs_url="https://docs.easypost.com/guides/webhooks-guide",
    scheme=SignatureSpec(
        kind="hmac",
        header=HEADER,
        encoding="hex",
        prefix=PREFIX,
        secret_form="nfkd",  # noqa: S106 - a form name, not a secret
    ),
    statuses=STATUSES,
    parse=parse,
    confidence="CONFIRMED",
    identity="`Event.id` (re-sent on retry) for the delivery; each tracking detail by content",
    time_handling="`datetime` is ISO `Z` (`carrier_utc`), though EasyPost warns it may be "
    "local time when the location is unknown",
    notes="Full history (`result.tracking_details`) in every delivery; non-tracker events "
    "(e.g. `batch.created`) are acknowledged and ignored. A Tracker without details but with "
    "a known `status` is one event (`metadata.event_kind` `shipment_status`) at its `updated_at`; "
    "a new Tracker (`status` `unknown`) is ignored with the reason.",
)
