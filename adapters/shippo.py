"""Shippo webhooks: an envelope ``{event, test, data}`` whose ``track_updated`` data is a Track.

Authentication (the two schemes can be combined, as Shippo allows):

- **token** (base scheme, DOC-EXCERPT): the tenant's self-generated ``?token=…`` in the
  webhook URL, compared in constant time with the key set of (tenant, ``shippo``).
- **HMAC** (opt-in, 3P): ``Shippo-Auth-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret,
  "<t>.<raw body>")>``, ±5 minutes, keyed with the ``shippo.hmac`` slot. When the tenant
  has set that slot the header is *required* (no downgrade to the token alone); when it
  has not, the header is ignored and the token alone authenticates (an unverifiable
  header neither helps nor hurts). The header is not a credential, so it may be parked.

Every entry of ``data.tracking_history`` (the full history, oldest first) is an event;
with an empty history, ``data.tracking_status`` stands in as one event marked
``metadata["event_kind"] = "shipment_status"``, timed by its own ``status_date``; a Track with
neither (or a status without ``status_date``) is ignored with the reason. ``object_id`` is
regenerated on every response, so it is never an identity: events are fingerprinted by
content.
Status from ``status``, refined by ``substatus.code`` while not terminal. Events other than
``track_updated`` are acknowledged and ignored; a missing ``event`` counts as a track
payload (Shippo's OpenAPI marks it optional). One unreadable history entry is reported as
a failed item: the others are stored and the delivery is parked too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from gateway.carriers.adapter import (
    Adapter,
    Delivery,
    ParsedEvent,
    ParseResult,
    Secrets,
    shipment_status_metadata,
    spec_request,
)
from gateway.carriers.payload import (
    address,
    as_list,
    as_object,
    collect,
    load_object,
    required_text,
    text,
)
from gateway.carriers.status import ANY, Refine, StatusTable, status_of
from gateway.carriers.timeparse import parse_instant
from gateway.errors import ParseError
from gateway.models import Status
from gateway.signing.secret_rules import spec_rule
from gateway.signing.spec import SignatureSpec, sign_spec, verify_spec

HMAC_HEADER = "Shippo-Auth-Signature"
HMAC_SLOT = "hmac"
TOKEN_SCHEME = SignatureSpec(
    kind="token",
    query_param="token",
    rotation="the current token and unexpired previous ones are all accepted; the optional "
    "HMAC key (slot `shippo.hmac`) rotates the same way, independently",
)
HMAC_SCHEME = SignatureSpec(
    kind="hmac",
    header=HMAC_HEADER,
    signed_content="{timestamp}.{body}",
    encoding="hex",
    signature_list=(",", "="),
    signature_key="v1",
    timestamp_key="t",
    tolerance_seconds=300,
)

# substatus.code refines a status that is not terminal (never DELIVERED/RETURNED/FAILURE).
STATUSES = StatusTable(
    main={
        "unknown": Status.PENDING,  # what Shippo says before the carrier has the item
        "pre_transit": Status.INFO_RECEIVED,
        "transit": Status.IN_TRANSIT,
        "delivered": Status.DELIVERED,
        "returned": Status.RETURNED,
        "failure": Status.EXCEPTION,
    },
    refinements={
        (ANY, "information_received"): Refine(Status.INFO_RECEIVED),
        (ANY, "out_for_delivery"): Refine(Status.OUT_FOR_DELIVERY),
        (ANY, "delivery_attempted"): Refine(Status.ATTEMPT_FAIL),
        (ANY, "pickup_available"): Refine(Status.AVAILABLE_FOR_PICKUP),
    },
    only_under=frozenset({"unknown", "pre_transit", "transit"}),
    columns=("status", "substatus.code"),
)


def verify(delivery: Delivery, secrets: Sequence[str], now: float) -> None:
    """The URL token always; the HMAC header too once the tenant has an ``hmac`` slot."""
    request = spec_request(delivery)
    verify_spec(TOKEN_SCHEME, request, secrets, now)
    hmac_secrets = secrets.slot(HMAC_SLOT) if isinstance(secrets, Secrets) else []
    if hmac_secrets:
        verify_spec(HMAC_SCHEME, request, hmac_secrets, now)


def sign_hmac(body: bytes, secret: str, now: float) -> dict[str, str]:
    """The ``Shippo-Auth-Signature`` header Shippo adds when HMAC is provisioned (for tests)."""
    return sign_spec(HMAC_SCHEME, body, secret, now)


def _event(
    raw: object, track: dict[str, Any], tracking_number: str, test: bool, what: str
) -> ParsedEvent:
    item = as_object(raw, what)
    stamp = text(item.get("status_date"))
    if stamp is None:
        raise ParseError(f"{what} has no status_date")
    occurred_at, tz_source, local = parse_instant(stamp, "status_date", where=what)
    native = text(item.get("status")) or "UNKNOWN"
    found = item.get("substatus")
    substatus: dict[str, Any] = found if isinstance(found, dict) else {}
    code = text(substatus.get("code"))
    status, detail = status_of(STATUSES, native, code)
    facts = {"upstream_carrier": text(track.get("carrier")), "test": "true" if test else None}
    metadata = {k: v for k, v in facts.items() if v}
    return ParsedEvent(
        tracking_number=tracking_number,
        status=status,
        occurred_at=occurred_at,
        tz_source=tz_source,
        occurred_at_local=local,
        carrier_code="/".join(p for p in (native, code) if p),
        carrier_text=text(item.get("status_details")) or text(substatus.get("text")),
        detail=detail,
        location=address(item.get("location"), metadata),
        estimated_delivery=text(track.get("eta")),
        metadata=metadata,
    )


def parse(delivery: Delivery) -> ParseResult:
    """Read a ``track_updated`` envelope; other events are acknowledged and ignored."""
    payload = load_object(delivery.body)
    kind = text(payload.get("event")) or "track_updated"
    if kind != "track_updated":
        return ParseResult(ignored=f"{kind[:60]} carries no tracking event")
    if "data" not in payload:
        raise ParseError("body has no data (a bare Track is not a webhook envelope)")
    track = as_object(payload["data"], "data")
    tracking_number = required_text(track, "tracking_number", "data")
    history = as_list(track.get("tracking_history"), "data.tracking_history")
    test = payload.get("test") is True
    if not history:  # a new Track may carry its status before any history
        latest = track.get("tracking_status")
        latest = latest if isinstance(latest, dict) else {}
        if text(latest.get("status")) is None:
            return ParseResult(ignored="track has no tracking history and no tracking status")
        if text(latest.get("status_date")) is None:
            return ParseResult(ignored="track has a tracking status but no history and no time")
        found = _event(latest, track, tracking_number, test, "data.tracking_status")
        standing_in = {**found.metadata, **shipment_status_metadata("status_date")}
        return ParseResult(events=[replace(found, metadata=standing_in)])

    def read(item: object, where: str) -> list[ParsedEvent]:
        return [_event(item, track, tracking_number, test, f"{where}: tracking status")]

    events, failures, _ = collect(history, read, "tracking_history[{}]")
    return ParseResult(events=events, failures=failures)


ADAPTER = Adapter(
    id="shippo",
    label="Shippo",
    docs_url="https://docs.goshippo.com/docs/tracking/webhooksecurity",
    scheme=TOKEN_SCHEME,
    statuses=STATUSES,
    parse=parse,
    verify=verify,
    secret_slots={HMAC_SLOT: spec_rule(HMAC_SCHEME)},
    confidence="DOC-EXCERPT",
    identity="no stable id (`object_id` changes on every response, no delivery id): each "
    "history entry by content; a retried delivery by its body hash",
    time_handling="`status_date` is ISO `Z` (`carrier_utc`); USPS local times may be stamped "
    "`Z`, and date-only scans arrive as `T00:00:00Z`, kept as given (not `date_only`: a "
    "real midnight scan looks the same)",
    notes="Token in the URL (DOC-EXCERPT); optional `Shippo-Auth-Signature` HMAC, Stripe-like "
    "`t=…,v1=…` over `<t>.<body>`, ±300 s, key in the `shippo.hmac` slot (3P: format from "
    "third-party code) — required once that slot is set, ignored otherwise. Full history "
    "(`data.tracking_history`) in every delivery; `substatus.code` refines non-terminal "
    "statuses (`out_for_delivery`, `delivery_attempted`, `pickup_available`, "
    "`information_received`; Shippo's full code list was not retrieved). Events other than "
    "`track_updated` are ignored; `test: true` is kept as metadata. With an empty history, "
    "`tracking_status` is one event (`metadata.event_kind` `shipment_status`) at its "
    "`status_date`; without a status or that date the delivery is ignored with the reason.",
)
