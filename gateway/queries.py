"""Tenant-scoped reads behind ``GET /v1/shipments/...``."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gateway.errors import BadRequestError, NotFoundError
from gateway.models import ShipmentState, normalise_tracking_number
from gateway.store.keys import EVENT_PREFIX

if TYPE_CHECKING:
    from gateway.services import Services

DEFAULT_PAGE = 100
MAX_PAGE = 500


def _tracking(value: str) -> str:
    try:
        return normalise_tracking_number(value)
    except ValueError as exc:
        raise BadRequestError("tracking number is empty", code="invalid_tracking_number") from exc


def _state_json(state: ShipmentState) -> dict[str, Any]:
    return {
        "carrier": state.carrier,
        "status": state.status.value,
        "detail": state.detail,
        "estimated_delivery": state.estimated_delivery,
        "last_event_at": state.last_event_at.isoformat(),
        "last_received_at": state.last_received_at.isoformat(),
        "event_count": state.event_count,
        "last_event": state.last_event.model_dump(mode="json", exclude_none=True),
    }


def shipment(services: Services, tenant: str, tracking_number: str) -> dict[str, Any]:
    """Current state per carrier of one tracking number."""
    number = _tracking(tracking_number)
    states = services.store.get_shipments(tenant, number, services.clock())
    if not states:
        raise NotFoundError("no such shipment", code="shipment_not_found")
    return {"tracking_number": number, "shipments": [_state_json(s) for s in states]}


def encode_cursor(sort_key: str) -> str:
    """Opaque page cursor (bound to the tenant and shipment by the partition it reads)."""
    return base64.urlsafe_b64encode(sort_key.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    """The sort key a cursor continues after; 400 when it is not one of ours."""
    try:
        value = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise BadRequestError("cursor is invalid", code="invalid_cursor") from exc
    if not value.startswith(EVENT_PREFIX) or len(value) > 200:
        raise BadRequestError("cursor is invalid", code="invalid_cursor")
    return value


def _limit(params: Mapping[str, str]) -> int:
    raw = params.get("limit", str(DEFAULT_PAGE))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise BadRequestError(f"limit must be 1..{MAX_PAGE}", code="invalid_limit")
    return int(raw)


def events(
    services: Services, tenant: str, tracking_number: str, params: Mapping[str, str]
) -> dict[str, Any]:
    """A page of the shipment's history in event-time order."""
    number = _tracking(tracking_number)
    cursor = params.get("cursor")
    page, after = services.store.list_events(
        tenant,
        number,
        now=services.clock(),
        carrier=params.get("carrier") or None,
        limit=_limit(params),
        after=decode_cursor(cursor) if cursor else None,
    )
    if (
        not page
        and cursor is None
        and not services.store.get_shipments(tenant, number, services.clock())
    ):
        raise NotFoundError("no such shipment", code="shipment_not_found")
    return {
        "tracking_number": number,
        "events": [e.model_dump(mode="json", exclude_none=True) for e in page],
        "next_cursor": encode_cursor(after) if after else None,
    }
