"""Tenant-scoped reads of one shipment behind ``GET /v1/shipments/{tracking_number}...``.

History and the location trail are pages of the shipment's events in event-time
order; a cursor is the position after the last event examined, signed for the tenant
and the request (``gateway/api/cursors.py``): events stored after that position appear on
later pages, and nothing is repeated. The search is ``gateway/api/search.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gateway.api.cursors import CursorCodec
from gateway.errors import BadRequestError, NotFoundError
from gateway.models import CanonicalEvent, ShipmentState, normalise_tracking_number, utc_text
from gateway.poll.trackers import Tracker, tracker_from_item
from gateway.store.keys import EVENT_PREFIX
from gateway.tenancy.tenants import discovered_carriers

if TYPE_CHECKING:
    from gateway.services import Services

DEFAULT_PAGE = 100
MAX_PAGE = 500
MAX_POSITION_CHARS = 300


def tracking(value: str) -> str:
    """The normalised tracking number of a path; 400 when it is not one Waybill can store."""
    try:
        return normalise_tracking_number(value)
    except ValueError as exc:  # its message says what is wrong, never quotes the value
        raise BadRequestError(str(exc), code="invalid_tracking_number") from None


def page_limit(params: Mapping[str, str]) -> int:
    """``limit`` (default 100); 400 unless 1..500."""
    raw = params.get("limit", str(DEFAULT_PAGE))
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_PAGE:
        raise BadRequestError(f"limit must be 1..{MAX_PAGE}", code="invalid_limit")
    return int(raw)


def read_cursor(services: Services, tenant: str, params: Mapping[str, str]) -> dict[str, Any]:
    """The payload of ``cursor`` (empty without one); 400 when not issued to ``tenant``."""
    cursor = params.get("cursor")
    return CursorCodec(services.cursor_key).decode(tenant, cursor) if cursor else {}


def known_carrier(services: Services, tenant: str, params: Mapping[str, str]) -> str | None:
    """``carrier`` of the query, ``None`` when absent; 400 ``unknown_carrier`` unless it is
    one of the tenant's carriers or a discovered adapter (a carrier since removed from the
    tenant's file keeps its history): a typo is never an empty page nor "no such shipment"."""
    carrier = params.get("carrier") or None
    if carrier is None:
        return None
    config = services.pipeline.tenants(tenant)
    theirs = sorted(config.carriers) if config else []
    if carrier in theirs or carrier in discovered_carriers():
        return carrier
    raise BadRequestError(
        f"carrier names none of the tenant's carriers ({', '.join(theirs) or 'none'})",
        code="unknown_carrier",
    )


def wrong_cursor() -> BadRequestError:
    """The error for a genuine cursor presented with another request."""
    return BadRequestError("cursor does not belong to this request", code="invalid_cursor")


def _freshness(state: ShipmentState, tracker: Tracker | None) -> dict[str, Any]:
    """When the shipment was last known to be current, how, and when it is checked next."""
    checked, source = state.last_received_at, str(state.source)
    if tracker and tracker.last_checked_at and tracker.last_checked_at > checked:
        checked, source = tracker.last_checked_at, tracker.last_source or "poll"
    polled = tracker is not None and tracker.state != "retired"
    return {
        "last_checked_at": utc_text(checked),
        "source": source,
        "next_check_at": utc_text(tracker.next_check_at)
        if polled and tracker and tracker.next_check_at
        else None,
    }


def _state_json(state: ShipmentState, tracker: Tracker | None) -> dict[str, Any]:
    return {
        "carrier": state.carrier,
        "status": state.status.value,
        "detail": state.detail,
        "estimated_delivery": state.estimated_delivery,
        "last_event_at": utc_text(state.last_event_at),
        "last_received_at": utc_text(state.last_received_at),
        "event_count": state.event_count,
        "last_event": state.last_event.model_dump(mode="json", exclude_none=True),
        "freshness": _freshness(state, tracker),
    }


def shipment(services: Services, tenant: str, tracking_number: str) -> dict[str, Any]:
    """Current state per carrier of one tracking number (one strongly consistent query)."""
    number = tracking(tracking_number)
    states, items = services.store.shipment_view(tenant, number, services.clock())
    if not states:
        raise NotFoundError("no such shipment", code="shipment_not_found")
    trackers = {carrier: tracker_from_item(item) for carrier, item in items.items()}
    shipments = [_state_json(s, trackers.get(s.carrier)) for s in states]
    return {"tracking_number": number, "shipments": shipments}


def _location_json(event: CanonicalEvent) -> dict[str, Any]:
    return {
        "occurred_at": utc_text(event.occurred_at),
        "carrier": event.carrier,
        "status": event.status.value,
        **event.location.model_dump(),
    }


def _page(
    services: Services,
    tenant: str,
    tracking_number: str,
    params: Mapping[str, str],
    kind: str,
) -> tuple[str, list[CanonicalEvent], str | None]:
    """One page of events (``kind``: ``events``, or ``locations`` for located ones)."""
    number = tracking(tracking_number)
    carrier = known_carrier(services, tenant, params)
    limit = page_limit(params)
    cursor = read_cursor(services, tenant, params)
    asked = {"k": kind, "n": number, "c": carrier}
    after = cursor.get("a")
    if cursor and (
        {k: cursor.get(k) for k in asked} != asked
        or not isinstance(after, str)
        or not after.startswith(EVENT_PREFIX)
        or len(after) > MAX_POSITION_CHARS
    ):
        raise wrong_cursor()
    now = services.clock()
    page, position = services.store.list_events(
        tenant,
        number,
        now=now,
        carrier=carrier,
        limit=limit,
        after=after,
        located=kind == "locations",
    )
    if not page and not cursor and position is None:
        states = services.store.get_shipments(tenant, number, now)
        if not [s for s in states if carrier in (None, s.carrier)]:
            raise NotFoundError("no such shipment", code="shipment_not_found")
    next_cursor = None
    if position is not None:
        next_cursor = CursorCodec(services.cursor_key).encode(tenant, asked | {"a": position})
    return number, page, next_cursor


def events(
    services: Services, tenant: str, tracking_number: str, params: Mapping[str, str]
) -> dict[str, Any]:
    """A page of the shipment's history in event-time order."""
    number, page, next_cursor = _page(services, tenant, tracking_number, params, "events")
    return {
        "tracking_number": number,
        "events": [e.model_dump(mode="json", exclude_none=True) for e in page],
        "next_cursor": next_cursor,
    }


def locations(
    services: Services, tenant: str, tracking_number: str, params: Mapping[str, str]
) -> dict[str, Any]:
    """A page of the location trail: events with a location, in event-time order."""
    number, page, next_cursor = _page(services, tenant, tracking_number, params, "locations")
    return {
        "tracking_number": number,
        "locations": [_location_json(e) for e in page],
        "next_cursor": next_cursor,
    }
