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
"""

from __future__ import annotations

from datetime import datetime
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
from gateway.carriers.status import ANY, Mapped, Refine, StatusTable, status_of
from gateway.carriers.timeparse import parse_instant
from gateway.errors import ItemIgnored, ParseError
from gateway.models import Location, Status, TzSource
from gateway.signing.spec import SignatureSpec

HEADER = "sign"

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
)
