"""Items ↔ canonical models. Events are stored as one JSON document attribute.

Every item the write path builds is checked against DynamoDB's limits before the first
write (:func:`storable`), so content DynamoDB would refuse is refused here, with nothing
written.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gateway.errors import UnstorableError
from gateway.models import CanonicalEvent, EventSummary, ShipmentState, Status
from gateway.store.capacity import item_bytes
from gateway.store.keys import STATE_PREFIX, event_sk, shipment_pk

MAX_ITEM_BYTES = 400 * 1024
MAX_PARTITION_KEY_BYTES = 2048
MAX_SORT_KEY_BYTES = 1024


def storable(item: dict[str, Any], what: str) -> dict[str, Any]:
    """``item`` when DynamoDB can store it; :class:`UnstorableError` naming ``what`` if not.

    >>> storable({"pk": {"S": "S#a#1"}, "sk": {"S": "x" * 1025}}, "event 0")
    Traceback (most recent call last):
    ...
    gateway.errors.UnstorableError: event 0 has a key longer than DynamoDB allows
    """
    pk, sk = item["pk"]["S"].encode(), item["sk"]["S"].encode()
    if not pk or not sk or len(pk) > MAX_PARTITION_KEY_BYTES or len(sk) > MAX_SORT_KEY_BYTES:
        raise UnstorableError(f"{what} has a key longer than DynamoDB allows")
    if item_bytes(item) > MAX_ITEM_BYTES:
        raise UnstorableError(f"{what} is larger than DynamoDB's 400 KB item limit")
    return item


def document(model: CanonicalEvent | EventSummary, what: str) -> str:
    """The JSON document of a model; :class:`UnstorableError` if its text is not valid
    Unicode (a lone surrogate that slipped past the body's check)."""
    try:
        return model.model_dump_json(exclude_none=True)
    except ValueError:  # pydantic's serialisation error: never quote the text
        raise UnstorableError(f"{what} has text that is not valid Unicode") from None


BODY_DIGEST_BYTES = 16


def event_item(
    event: CanonicalEvent, expires_at: int, what: str = "event", body_sha256: str | None = None
) -> dict[str, Any]:
    """The item of one event, checked against DynamoDB's limits.

    Besides the event (its ``doc`` holds the delivery id and when it was received), the
    item keeps the first bytes of the SHA-256 of the delivery's body (``bd``): which
    delivery brought the event stays answerable without an audit item per delivery.
    """
    item: dict[str, Any] = {
        "pk": {"S": shipment_pk(event.tenant, event.tracking_number)},
        "sk": {"S": event_sk(event.occurred_at, event.event_id)},
        "carrier": {"S": event.carrier},
        "doc": {"S": document(event, what)},
        "expires_at": {"N": str(expires_at)},
    }
    if body_sha256 is not None:
        item["bd"] = {"B": bytes.fromhex(body_sha256)[:BODY_DIGEST_BYTES]}
    return storable(item, what)


def body_digest_of(item: dict[str, Any]) -> str | None:
    """The hex digest prefix of the body that brought an event item, if it was recorded."""
    digest = item.get("bd", {}).get("B")
    return bytes(digest).hex() if digest is not None else None


def event_from_item(item: dict[str, Any]) -> CanonicalEvent:
    """Rebuild an event from its item."""
    return CanonicalEvent.model_validate_json(item["doc"]["S"])


def last_event_doc(event: CanonicalEvent) -> str:
    """The bounded summary of the latest event kept on the state item."""
    return document(EventSummary.of(event), "the latest event")


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
        event_count=int(item["cnt"]["N"]) if "cnt" in item else len(item["fps"]["BS"]),
        source=item.get("src", {}).get("S", "push"),
    )


def expired(item: dict[str, Any], now: datetime) -> bool:
    """TTL deletion lags (up to days on AWS): reads filter expired items themselves."""
    expires = item.get("expires_at", {}).get("N")
    return expires is not None and int(expires) <= int(now.timestamp())
