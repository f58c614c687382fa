"""Which delivery brought each event of a shipment: read from the event items themselves.

There is no audit item per delivery: each event item keeps the delivery's id (when the
carrier gives one), when it was received, and the first bytes of the SHA-256 of its body
(``gateway/store/codec.py``), so the history answers "where did this come from" at the
cost of reading it (one strongly consistent Query per page of the shipment).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.models import CanonicalEvent, utc_text
from gateway.store import codec
from gateway.store.capacity import CapacityMeter
from gateway.store.errors import store_errors
from gateway.store.keys import EVENT_PREFIX, shipment_pk


@dataclass(frozen=True)
class Provenance:
    """One event of the shipment and the delivery that brought it."""

    event_id: str
    carrier: str
    status: str
    occurred_at: datetime
    received_at: datetime
    delivery_id: str | None
    body_sha256: str | None  # a prefix (hex); None for events stored before it was kept

    def line(self) -> str:
        """One line for the CLI."""
        body = f"sha256:{self.body_sha256}" if self.body_sha256 else "sha256:-"
        delivery = self.delivery_id or "-"
        return (
            f"{utc_text(self.occurred_at, to_second=True)}  {self.status:<20} {self.carrier:<18} "
            f"{self.event_id}  received {utc_text(self.received_at, to_second=True)}  "
            f"delivery {delivery}  body {body}"
        )


def provenance(
    client: Any,
    table: str,
    tenant: str,
    tracking_number: str,
    *,
    now: datetime,
    meter: CapacityMeter | None = None,
) -> list[Provenance]:
    """Every unexpired event of one shipment of ``tenant``, in event-time order."""
    return [
        found for _, found in history(client, table, tenant, tracking_number, now=now, meter=meter)
    ]


def history(
    client: Any,
    table: str,
    tenant: str,
    tracking_number: str,
    *,
    now: datetime,
    meter: CapacityMeter | None = None,
) -> list[tuple[CanonicalEvent, Provenance]]:
    """Every unexpired event of one shipment with its provenance, in event-time order
    (one read of the history: the ops console's shipment page)."""
    items = _event_items(client, table, tenant, tracking_number, now, meter or CapacityMeter())
    return [(codec.event_from_item(item), _provenance(item)) for item in items]


def _event_items(
    client: Any, table: str, tenant: str, number: str, now: datetime, meter: CapacityMeter
) -> Iterator[dict[str, Any]]:
    request: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :events)",
        "ExpressionAttributeValues": {
            ":pk": {"S": shipment_pk(tenant, number)},
            ":events": {"S": EVENT_PREFIX},
        },
        "ConsistentRead": True,
        "ReturnConsumedCapacity": "TOTAL",
    }
    with store_errors():
        for _ in range(10_000):  # bounded: a page holds up to 1 MB of events
            response = client.query(**request)
            meter.add_read(response)
            yield from (i for i in response.get("Items", []) if not codec.expired(i, now))
            if "LastEvaluatedKey" not in response:
                return
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def _provenance(item: dict[str, Any]) -> Provenance:
    event = codec.event_from_item(item)
    return Provenance(
        event_id=event.event_id,
        carrier=event.carrier,
        status=event.status.value,
        occurred_at=event.occurred_at,
        received_at=event.received_at,
        delivery_id=event.delivery_id,
        body_sha256=codec.body_digest_of(item),
    )
