"""Items ↔ canonical models. Events are stored as one JSON document attribute."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gateway.models import CanonicalEvent, EventSummary, ShipmentState, Status
from gateway.store.keys import STATE_PREFIX, event_sk, shipment_pk


def event_item(event: CanonicalEvent, expires_at: int) -> dict[str, Any]:
    """The item of one event."""
    return {
        "pk": {"S": shipment_pk(event.tenant, event.tracking_number)},
        "sk": {"S": event_sk(event.occurred_at, event.event_id)},
        "carrier": {"S": event.carrier},
        "doc": {"S": event.model_dump_json(exclude_none=True)},
        "expires_at": {"N": str(expires_at)},
    }


def event_from_item(item: dict[str, Any]) -> CanonicalEvent:
    """Rebuild an event from its item."""
    return CanonicalEvent.model_validate_json(item["doc"]["S"])


def last_event_doc(event: CanonicalEvent) -> str:
    """The bounded summary of the latest event kept on the state item."""
    return EventSummary.of(event).model_dump_json(exclude_none=True)


def state_from_item(tenant: str, tracking_number: str, item: dict[str, Any]) -> ShipmentState:
    """Rebuild a shipment state; counts derive from the fingerprint set."""
    carrier = item["sk"]["S"].removeprefix(STATE_PREFIX)
    event = EventSummary.model_validate_json(item["le"]["S"])
    return ShipmentState(
        tenant=tenant,
        carrier=carrier,
        tracking_number=tracking_number,
        status=Status(item["status"]["S"]),
        detail=item.get("detail", {}).get("S"),
        last_event=event,
        estimated_delivery=item.get("eta", {}).get("S"),
        last_event_at=event.occurred_at,
        last_received_at=item["last_received_at"]["S"],
        event_count=len(item["fps"]["BS"]),
    )


def expired(item: dict[str, Any], now: datetime) -> bool:
    """TTL deletion lags (up to days on AWS): reads filter expired items themselves."""
    expires = item.get("expires_at", {}).get("N")
    return expires is not None and int(expires) <= int(now.timestamp())
