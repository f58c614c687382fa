"""Partners that sign per the Standard Webhooks spec (standardwebhooks.com).

Signature: ``webhook-signature`` is a space-separated list of ``v1,<base64 HMAC-SHA256>``
(``whsec_`` secrets) or ``v1a,<base64 Ed25519>`` (``whpk_`` public keys) over
``"{webhook-id}.{webhook-timestamp}." + raw body``; the timestamp must lie within
±300 s of now; any match wins. ``webhook-id`` is the delivery id.

Payload (Waybill's documented format; the spec leaves it to us)::

    {"type": "tracking.updated", "timestamp": "<ISO-8601>",
     "data": {"tracking_number": "1Z...", "carrier": "<optional upstream carrier>",
              "events": [{"status": "<canonical status, or 'failed' = exception>",
                          "code": "<optional native code>", "detail": "<optional>",
                          "description": "...", "occurred_at": "<ISO-8601 with offset or Z>",
                          "location": {"city", "region", "postal_code",
                                       "country" (ISO alpha-2), "lat", "lon"},
                          "estimated_delivery": "...", "signed_by": "..."}]}}

Types not starting with ``tracking.`` are acknowledged and ignored, and so is a message
whose ``events`` list is empty (with that reason). ``carrier_code`` is ``code`` when
given, else the status as sent; a status that is not a canonical name becomes
``unknown`` (never a guess).
"""

from __future__ import annotations

from pydantic import ValidationError

from gateway.carriers.adapter import Adapter, Delivery, ParsedEvent, ParseResult
from gateway.carriers.payload import (
    NOWHERE,
    as_list,
    as_object,
    load_object,
    location,
    required_text,
    text,
)
from gateway.carriers.status import WAYBILL_NAMES, status_of
from gateway.carriers.timeparse import parse_instant
from gateway.errors import ParseError
from gateway.models import Location, TzSource
from gateway.signing.spec import SignatureSpec
from gateway.signing.standard import TOLERANCE_SECONDS

STATUSES = WAYBILL_NAMES
_LOCATION_KEYS = ("city", "region", "postal_code", "country", "lat", "lon")


def _location(raw: object) -> Location:
    if raw is None:
        return NOWHERE
    fields = as_object(raw, "location")
    try:
        return location({k: fields[k] for k in _LOCATION_KEYS if fields.get(k) is not None})
    except ValidationError as exc:
        names = ", ".join(str(e["loc"][0]) for e in exc.errors())
        raise ParseError(f"invalid location field(s): {names}") from exc


def _event(raw: object, tracking_number: str, upstream: str | None) -> ParsedEvent:
    item = as_object(raw, "event")
    status = text(item.get("status"))
    stamp = text(item.get("occurred_at"))
    if status is None or stamp is None:
        raise ParseError("event needs a status and occurred_at")
    occurred_at, tz_source, local = parse_instant(stamp, "occurred_at", where="event")
    if tz_source not in (TzSource.CARRIER_OFFSET, TzSource.CARRIER_UTC):
        raise ParseError("occurred_at must carry an offset or Z")
    return ParsedEvent(
        tracking_number=tracking_number,
        status=status_of(STATUSES, status).status,
        occurred_at=occurred_at,
        tz_source=tz_source,
        occurred_at_local=local,
        carrier_code=text(item.get("code")) or status,
        carrier_text=text(item.get("description")),
        detail=text(item.get("detail")),
        location=_location(item.get("location")),
        estimated_delivery=text(item.get("estimated_delivery")),
        signed_by=text(item.get("signed_by")),
        metadata={"upstream_carrier": upstream} if upstream else {},
    )


def parse(delivery: Delivery) -> ParseResult:
    """Read a ``tracking.*`` message; other types are acknowledged and ignored."""
    message = load_object(delivery.body)
    kind = message.get("type")
    if not isinstance(kind, str):
        raise ParseError("message has no type")
    delivery_id = delivery.header("webhook-id")
    if not kind.startswith("tracking."):
        return ParseResult(delivery_id=delivery_id, ignored=f"{kind[:60]} is not a tracking type")
    data = as_object(message.get("data"), "data")
    tracking_number = required_text(data, "tracking_number", "data")
    events = as_list(data.get("events"), "data.events", required=True)
    if not events:
        return ParseResult(delivery_id=delivery_id, ignored=f"{kind[:60]} has no event")
    upstream = text(data.get("carrier"))
    parsed = [_event(item, tracking_number, upstream) for item in events]
    return ParseResult(events=parsed, delivery_id=delivery_id)


ADAPTER = Adapter(
    id="standard_webhooks",
    label="Standard Webhooks partner",
    docs_url="https://www.standardwebhooks.com/",
    scheme=SignatureSpec(
        kind="standard_webhooks",
        signed_content="{id}.{timestamp}.{body}",
        encoding="base64",
        secret_form="whsec_base64",  # noqa: S106 - a form name, not a secret
        tolerance_seconds=TOLERANCE_SECONDS,
        timestamp_header="webhook-timestamp",
        id_header="webhook-id",
        rotation="several space-separated signatures, any match wins; previous secrets "
        "stay valid until their expiry",
    ),
    statuses=STATUSES,
    parse=parse,
    confidence="CONFIRMED",
    identity="`webhook-id` (stable across retries) for the delivery; each event by content",
    time_handling="`occurred_at` must carry an offset or `Z`; naïve times are refused (parked)",
    notes="Payload is Waybill's documented tracking format; non-tracking types, and messages "
    "with an empty `events` list, are acknowledged and ignored with the reason.",
)
