"""17TRACK v2 webhooks: ``{event, data: {number, carrier, tag, track_info}}``.

Signature (v2.x, UNCONFIRMED: 3P handlers agree): header ``sign`` = lowercase hex
SHA-256 (a plain hash, not an HMAC) of ``raw body + "/" + security key``. Nothing
time-bound is signed.

Every event of every provider in ``track_info.tracking.providers[].events`` (the full
history, resent each time) is an event. Its status comes from its ``sub_status``
(``InTransit_PickedUp``): the part before ``_`` is the main status, and a few
sub-statuses refine it (tables below); an event without ``sub_status`` is ``unknown``
with its ``stage`` kept. ``time_utc`` gives the instant (``carrier_utc``) and
``time_iso`` (with the local offset) is kept as given. ``TRACKING_STOPPED`` is
acknowledged and ignored. Some variants put a list of such objects in ``data``: each
item is read on its own, and one that cannot be read goes to ``ParseResult.failures``.

An item without provider events stands for its ``track_info.latest_status``: one event
(``metadata["event_kind"] = "shipment_status"``) timed, placed and described by
``latest_event``. Without ``latest_event`` time (a number not found yet), or without a
status, it yields nothing; a body that yields no event at all is ignored with the reason.

Polling (:data:`POLLING`): numbers without a ref are registered first (``/register``;
"already registered" counts), which sets the ref ``registered``; then ``/gettrackinfo`` is
asked about every number (40 per call) and each ``accepted[]`` item, the webhook's ``data``
shape, is read by the same :func:`_shipment`. ``rejected[]``: -18019909 (no information
yet) is an unknown number, as is a ``NotFound`` item without events; -18019902 (not
registered) fails it with ``not_registered`` so that the poller drops the ref and registers
it again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import partial
from typing import Any

from gateway.carriers.adapter import (
    Adapter,
    Delivery,
    ParsedEvent,
    ParseResult,
    shipment_status_metadata,
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
from gateway.carriers.polling import (
    BAD_ANSWER,
    JSON_HEADERS,
    ApiCredentials,
    CarrierApiError,
    Exchange,
    Findings,
    HttpAnswer,
    HttpCall,
    Polling,
    PollResult,
    PollTarget,
    check_status,
    chunks,
    json_body,
    number_key,
    read_object,
    reading,
)
from gateway.carriers.status import ANY, Mapped, Refine, StatusTable, status_of
from gateway.carriers.timeparse import parse_instant
from gateway.errors import ItemIgnored, ParseError
from gateway.models import Location, Status, TzSource
from gateway.signing.spec import SignatureSpec

HEADER = "sign"
LABEL = "17TRACK"
REGISTER_PATH = "/track/v2.2/register"
INFO_PATH = "/track/v2.2/gettrackinfo"
BATCH_SIZE = 40  # error -18010014: "Tracking numbers exceed the 40 limit"
REGISTERED = "registered"  # the ref of a number registered with our key
ALREADY_REGISTERED, NO_INFO_YET = "-18019901", "-18019909"
# Envelope codes (HTTP 200, ``code`` ≠ 0) that refuse the whole call (17TRACK's error list).
ENVELOPE_ERRORS = {
    "-18010001": "unauthorized", "-18010002": "unauthorized", "-18010004": "unauthorized",
    "-18010003": "carrier_error",
}  # fmt: skip
# ``rejected[]`` codes that fail one number; any other is ``carrier_refused``.
ITEM_ERRORS = {
    "-18019902": "not_registered",  # the poller drops the ref and registers again
    "-18019907": "quota_exhausted", "-18019908": "quota_exhausted",
}  # fmt: skip

# The main status is the part of ``sub_status`` before ``_``; a few whole sub-statuses
# refine it (each names its own main status, so they apply under ANY).
STATUSES = StatusTable(
    main={
        "notfound": Status.PENDING,
        "inforeceived": Status.INFO_RECEIVED,
        "intransit": Status.IN_TRANSIT,
        "expired": Status.EXPIRED,
        "availableforpickup": Status.AVAILABLE_FOR_PICKUP,
        "outfordelivery": Status.OUT_FOR_DELIVERY,
        "deliveryfailure": Status.ATTEMPT_FAIL,
        "delivered": Status.DELIVERED,
        "exception": Status.EXCEPTION,
    },
    refinements={
        (ANY, "exception_returning"): Refine(Status.RETURNED, "returning_to_sender"),
        (ANY, "exception_returned"): Refine(Status.RETURNED, "returned_to_sender"),
        (ANY, "exception_cancel"): Refine(Status.CANCELLED),
        (ANY, "exception_damage"): Refine(Status.EXCEPTION, "damaged"),
        (ANY, "exception_lost"): Refine(Status.EXCEPTION, "lost"),
        (ANY, "exception_rejected"): Refine(Status.EXCEPTION, "refused"),
        (ANY, "deliveryfailure_invalidaddress"): Refine(Status.ATTEMPT_FAIL, "address_issue"),
    },
    columns=("main status", "sub_status"),
)


def _status(sub_status: str | None) -> Mapped:
    """``InTransit_PickedUp``: main status ``InTransit``, refined by the whole code."""
    return status_of(STATUSES, (sub_status or "").split("_", 1)[0], sub_status)


def _coordinates(place: dict[str, Any]) -> tuple[float | None, float | None]:
    spot = place.get("coordinates")
    lat, lon = (spot.get("latitude"), spot.get("longitude")) if isinstance(spot, dict) else (0, 0)
    if not (isinstance(lat, int | float) and isinstance(lon, int | float)):
        return None, None
    if (lat, lon) == (0, 0) or abs(lat) > 90 or abs(lon) > 180:  # (0, 0): Go's "not given"
        return None, None
    return float(lat), float(lon)


def _location(raw: object, metadata: dict[str, str]) -> Location:
    place = raw if isinstance(raw, dict) else {}
    return address(place, metadata, postal="postal_code", coordinates=_coordinates(place))


def _eta(info: dict[str, Any]) -> str | None:
    metrics = info.get("time_metrics")
    estimate = metrics.get("estimated_delivery_date") if isinstance(metrics, dict) else None
    if not isinstance(estimate, dict):
        return None
    bounds = [found for k in ("from", "to") if (found := text(estimate.get(k)))]
    return "/".join(dict.fromkeys(bounds)) or None


def _when(item: dict[str, Any], what: str) -> tuple[datetime, TzSource, str | None]:
    """The instant from ``time_utc`` (else ``time_iso``); ``time_iso`` kept as given."""
    utc, iso = text(item.get("time_utc")), text(item.get("time_iso"))
    occurred_at, tz_source, _ = parse_instant(utc or iso, "time", where=what)
    if utc and iso:
        try:
            parse_instant(iso)
        except ParseError:
            iso = None  # an unreadable local time is dropped: the instant is known anyway
    if utc and tz_source is TzSource.ASSUMED_UTC:  # a naive ``time_utc`` is UTC by definition
        tz_source = TzSource.CARRIER_UTC
    return occurred_at, tz_source, iso


def _latest_status(
    info: dict[str, Any], base: dict[str, str], number: str, what: str
) -> ParsedEvent | str:
    """An item without events: ``latest_status`` as one event at ``latest_event``'s time."""
    latest = info.get("latest_status")
    latest = latest if isinstance(latest, dict) else {}
    code = text(latest.get("sub_status")) or text(latest.get("status"))
    if code is None:
        return f"{what} has no event and no status"
    event = info.get("latest_event")
    event = event if isinstance(event, dict) else {}
    if not (text(event.get("time_utc")) or text(event.get("time_iso"))):
        return f"{what} has a status but no event and no time"
    occurred_at, tz_source, local = _when(event, f"{what}.track_info.latest_event")
    status, detail = _status(code)
    extra = {"stage": event.get("stage"), **shipment_status_metadata("latest_event")}
    metadata = base | {k: found for k, v in extra.items() if (found := text(v))}
    return ParsedEvent(
        tracking_number=number,
        status=status,
        occurred_at=occurred_at,
        tz_source=tz_source,
        occurred_at_local=local,
        carrier_code=code,
        carrier_text=text(latest.get("sub_status_descr")) or text(event.get("description")),
        detail=detail,
        location=_location(event.get("address"), metadata),
        estimated_delivery=_eta(info),
        metadata=metadata,
    )


def _event(
    raw: object, base: dict[str, str], number: str, eta: str | None, what: str
) -> ParsedEvent:
    item = as_object(raw, what)
    occurred_at, tz_source, local = _when(item, what)
    sub_status, stage = text(item.get("sub_status")), text(item.get("stage"))
    status, detail = _status(sub_status)
    extra = {"stage": stage, "location_raw": text(item.get("location"))}
    metadata = base | {k: v for k, v in extra.items() if v}
    return ParsedEvent(
        tracking_number=number,
        status=status,
        occurred_at=occurred_at,
        tz_source=tz_source,
        occurred_at_local=local,
        carrier_code=sub_status or stage,
        carrier_text=text(item.get("description")),
        detail=detail,
        location=_location(item.get("address"), metadata),
        estimated_delivery=eta,
        metadata=metadata,
    )


def _base(**raw: object) -> dict[str, str]:
    return {k: str(v).strip() for k, v in raw.items() if v not in (None, "")}


def _shipment(raw: object, what: str) -> list[ParsedEvent]:
    """Every provider event of one item; without any, its status (else ItemIgnored: why not)."""
    data = as_object(raw, what)
    number = required_text(data, "number", what)
    info = as_object(data.get("track_info"), f"{what}.track_info")
    tracking = as_object(info.get("tracking") or {}, f"{what}.track_info.tracking")
    providers = as_list(tracking.get("providers"), f"{what}.track_info.tracking.providers")
    eta, events = _eta(info), []
    for i, entry in enumerate(providers):
        where = f"{what}.providers[{i}]"
        block = as_object(entry, where)
        provider = block["provider"] if isinstance(block.get("provider"), dict) else {}
        base = _base(
            carrier_key=data.get("carrier"),
            tag=data.get("tag"),
            provider_key=provider.get("key"),
            provider_name=provider.get("name"),
        )
        for j, item in enumerate(as_list(block.get("events"), f"{where}.events")):
            events.append(_event(item, base, number, eta, f"{where}.events[{j}]"))
    if events:
        return events
    found = _latest_status(
        info, _base(carrier_key=data.get("carrier"), tag=data.get("tag")), number, what
    )
    if isinstance(found, str):
        raise ItemIgnored(found)
    return [found]


def parse(delivery: Delivery) -> ParseResult:
    """Read ``TRACKING_UPDATED`` (one object or a list in ``data``); others are ignored."""
    payload = load_object(delivery.body)
    kind = text(payload.get("event"))
    if kind is None:
        raise ParseError("body has no event")
    if kind.upper() != "TRACKING_UPDATED":  # e.g. TRACKING_STOPPED
        return ParseResult(ignored=f"{kind[:60]} carries no tracking update")
    data = payload.get("data")
    if not isinstance(data, list):
        try:
            return ParseResult(events=_shipment(data, "data"))
        except ItemIgnored as exc:
            return ParseResult(ignored=str(exc))
    events, failures, ignored = collect(data, _shipment, "data[{}]")
    return ParseResult(events=events, failures=failures, ignored_items=ignored)


# --- polling: register, then gettrackinfo (API v2.2) -------------------------------------


def _call(path: str, batch: Sequence[PollTarget], credentials: ApiCredentials) -> HttpCall:
    headers = {**JSON_HEADERS, "17token": credentials.api_key}
    return HttpCall(
        "POST", path, headers, json_body([{"number": t.tracking_number} for t in batch])
    )


def _envelope(answer: HttpAnswer) -> dict[str, Any]:
    """``data`` of a 2xx answer whose ``code`` is 0; else the whole call's error."""
    check_status(answer, LABEL)
    body = read_object(answer, LABEL)
    code = body.get("code")
    if not isinstance(code, int) or isinstance(code, bool):
        raise CarrierApiError(BAD_ANSWER, f"{LABEL}'s answer is unreadable: it has no code")
    if code != 0:
        error = ENVELOPE_ERRORS.get(str(code), "carrier_refused")
        raise CarrierApiError(error, f"{LABEL} refused the call (code {code})")
    with reading(LABEL):
        return as_object(body.get("data"), "data")


def _item_code(item: object) -> str:
    """A ``rejected[]`` item's error code, as text (``""`` when it has none)."""
    error = item.get("error") if isinstance(item, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return str(code) if isinstance(code, int) and not isinstance(code, bool) else ""


def _items(data: dict[str, Any], key: str) -> list[Any]:
    with reading(LABEL):
        return as_list(data.get(key), f"data.{key}")


def _refused_at_registration(registers: Sequence[Exchange]) -> set[str]:
    """The numbers a register call rejected for good (not "already registered")."""
    refused = set()
    for exchange in registers:
        for item in _items(_envelope(exchange.answer), "rejected"):
            if isinstance(item, dict) and _item_code(item) != ALREADY_REGISTERED:
                refused.add(number_key(text(item.get("number")) or ""))
    return refused


def poll_calls(
    targets: Sequence[PollTarget], credentials: ApiCredentials, exchanges: Sequence[Exchange]
) -> list[HttpCall]:
    """Register the numbers without a ref (40 per call), then ask about every number
    registration did not refuse (40 per call). A refused register call stops the check."""
    if any(e.call.path == INFO_PATH for e in exchanges):
        return []
    fresh = [t for t in targets if t.ref is None]
    if not exchanges and fresh:
        return [_call(REGISTER_PATH, b, credentials) for b in chunks(fresh, BATCH_SIZE)]
    try:
        refused = _refused_at_registration(exchanges)
    except CarrierApiError:
        return []  # ``read`` raises it
    asked = [t for t in targets if number_key(t.tracking_number) not in refused]
    return [_call(INFO_PATH, b, credentials) for b in chunks(asked, BATCH_SIZE)]


def _not_found(item: dict[str, Any]) -> bool:
    """A number 17TRACK has registered but found nothing on: ``NotFound`` and no event."""
    info = item.get("track_info")
    info = info if isinstance(info, dict) else {}
    latest = info.get("latest_status")
    status = text(latest.get("status")) if isinstance(latest, dict) else None
    tracking = info.get("tracking")
    providers = tracking.get("providers") if isinstance(tracking, dict) else None
    events = [
        e for p in (providers if isinstance(providers, list) else []) if isinstance(p, dict)
        for e in (p.get("events") or [])
    ]  # fmt: skip
    return not events and (status or "NotFound").lower() == "notfound"


def poll_read(targets: Sequence[PollTarget], exchanges: Sequence[Exchange]) -> PollResult:
    """Registrations give the ref ``registered``; ``accepted[]`` of gettrackinfo is read like
    a webhook's ``data``; ``rejected[]`` codes decide unknown or failed."""
    wanted = {number_key(t.tracking_number): t for t in targets}
    findings = Findings()
    for exchange in exchanges:
        data = _envelope(exchange.answer)
        registering = exchange.call.path == REGISTER_PATH
        for i, item in enumerate(_items(data, "accepted")):
            number = text(item.get("number")) if isinstance(item, dict) else None
            if (target := wanted.get(number_key(number or ""))) is None:
                continue
            if registering:
                _registered(target, findings)
            elif _not_found(item):
                findings.unknown.add(target.tracking_number)
            else:
                findings.read(
                    target.tracking_number, partial(_shipment, item, f"data.accepted[{i}]")
                )
        for item in _items(data, "rejected"):
            number = text(item.get("number")) if isinstance(item, dict) else None
            if (target := wanted.get(number_key(number or ""))) is None:
                continue
            code = _item_code(item)
            if registering and code == ALREADY_REGISTERED:
                _registered(target, findings)
            elif code == NO_INFO_YET:
                findings.unknown.add(target.tracking_number)
            else:
                failure = ITEM_ERRORS.get(code, "carrier_refused")
                findings.fail(target.tracking_number, failure, f"rejected with code {code or '?'}")
    return findings.result()


def _registered(target: PollTarget, findings: Findings) -> None:
    if target.ref != REGISTERED:
        findings.refs[target.tracking_number] = REGISTERED


POLLING = Polling(
    base_url="https://api.17track.net",
    batch_size=BATCH_SIZE,
    credentials="api_key",
    calls=poll_calls,
    read=poll_read,
    docs_url="https://api.17track.net/en/doc?version=v2.2",
    confidence="CONFIRMED: the `17token` header, the array bodies, 40 numbers per call, the "
    "envelope `{code, data: {accepted, rejected}}` and the error codes to -18019903. "
    "INFERRED: `accepted[].track_info` (third-party structs, as the webhook) and the codes "
    "-18019907/08/09 (third-party clients); no v2.2 gettrackinfo body was published",
)


ADAPTER = Adapter(
    id="seventeentrack",
    label="17TRACK",
    docs_url="https://api.17track.net/en/doc?version=v2.2",
    scheme=SignatureSpec(
        kind="hash", header=HEADER, signed_content="{body}/{secret}", encoding="hex"
    ),
    statuses=STATUSES,
    parse=parse,
    confidence="UNCONFIRMED",
    identity="none from 17TRACK: the delivery by body hash; each event by content "
    "(number, `time_utc`, `sub_status`, description, address)",
    time_handling="`time_utc` (`carrier_utc`) gives the instant; `time_iso` (local, with "
    "offset) is kept as given; without `time_utc`, `time_iso` gives `carrier_offset`",
    notes="UNCONFIRMED: the `sign` scheme (3P handlers agree); the payload is 3P (v2 structs "
    "of the wksw/17track-golang-sdk; per-event `sub_status` from 3P handlers). Full history "
    "in every delivery; `TRACKING_STOPPED` is acknowledged and ignored; a list in `data` "
    "is a batch whose unreadable items are parked while the others are stored. An item "
    "without events is one event from `latest_status` at `latest_event`'s time "
    "(`metadata.event_kind` `shipment_status`); without that time, nothing, and a body with no "
    "event at all is ignored with the reason.",
    polling=POLLING,
)
