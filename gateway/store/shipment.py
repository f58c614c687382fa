"""What the write path knows of one shipment and carrier: its state and fingerprint pages.

One strongly consistent Query reads the tracker (``B#{carrier}``, when Waybill polls the
carrier for this shipment), the state item (``C#{carrier}``) and its pages
(``D#{carrier}#…``) together: the state holds the fingerprint prefixes of the most
recent known events, each page a batch of older ones moved out when the state filled up,
so the state stays one write unit at any history length while every known event is
still known without a put.

Example:
    >>> read = ShipmentRead(("acme", "1Z9", "ups"), None, [])
    >>> read.known, read.count, read.ring
    (set(), 0, [])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gateway.models import CanonicalEvent
from gateway.store.capacity import CapacityMeter
from gateway.store.keys import known_range, page_sk, shipment_pk, state_sk, tracker_sk

FINGERPRINT_PREFIX_BYTES = 8
ShipmentKey = tuple[str, str, str]  # tenant, tracking number, carrier


def fingerprint_prefix(event: CanonicalEvent) -> bytes:
    """The first bytes of the event's fingerprint, as kept on the state and its pages."""
    return bytes.fromhex(event.event_id.removeprefix("ev_"))[:FINGERPRINT_PREFIX_BYTES]


def _set(item: dict[str, Any] | None, name: str) -> set[bytes]:
    return {bytes(v) for v in (item or {}).get(name, {}).get("BS", [])}


@dataclass
class ShipmentRead:
    """The state item (None before the first event), the pages and the tracker, as read."""

    key: ShipmentKey
    state: dict[str, Any] | None
    pages: list[dict[str, Any]] = field(default_factory=list)
    tracker: dict[str, Any] | None = None

    @property
    def recent(self) -> set[bytes]:
        """The fingerprint prefixes held on the state item itself."""
        return _set(self.state, "fps")

    @property
    def known(self) -> set[bytes]:
        """Every known event's fingerprint prefix: the state's and the pages'."""
        found = self.recent
        for page in self.pages:
            found |= _set(page, "fps")
        return found

    @property
    def page_count(self) -> int:
        """How many pages the state says it has moved out (``pg``)."""
        return int((self.state or {}).get("pg", {}).get("N", "0"))

    @property
    def orphans(self) -> list[dict[str, Any]]:
        """Pages written by a spill whose state update never happened (a crash between)."""
        return [p for p in self.pages if _page_number(p) > self.page_count]

    @property
    def count(self) -> int:
        """Distinct events stored (``cnt``; a state from before it: its fingerprints)."""
        if self.state is None:
            return 0
        if "cnt" in self.state:
            return int(self.state["cnt"]["N"])
        return len(self.known)

    @property
    def ring(self) -> list[bytes]:
        """The digests of the last deliveries that stored something for this shipment."""
        return [bytes(v) for v in (self.state or {}).get("dlv", {}).get("BS", [])]

    def state_key(self) -> dict[str, Any]:
        """The key of the state item."""
        tenant, number, carrier = self.key
        return {"pk": {"S": shipment_pk(tenant, number)}, "sk": {"S": state_sk(carrier)}}

    def page_key(self, number: int) -> dict[str, Any]:
        """The key of the ``number``-th page."""
        tenant, tracking_number, carrier = self.key
        return {
            "pk": {"S": shipment_pk(tenant, tracking_number)},
            "sk": {"S": page_sk(carrier, number)},
        }


def _page_number(page: dict[str, Any]) -> int:
    return int(page["sk"]["S"].rsplit("#", 1)[1])


def read_shipment(client: Any, table: str, key: ShipmentKey, meter: CapacityMeter) -> ShipmentRead:
    """The state and pages of one shipment and carrier: one strongly consistent Query."""
    tenant, number, carrier = key
    low, high = known_range(carrier)
    state_key, page_head, tracker_key = (
        state_sk(carrier),
        page_sk(carrier, 0)[:-5],
        tracker_sk(carrier),
    )
    request: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "pk = :pk AND sk BETWEEN :low AND :high",
        "ExpressionAttributeValues": {
            ":pk": {"S": shipment_pk(tenant, number)},
            ":low": {"S": low},
            ":high": {"S": high},
        },
        "ConsistentRead": True,
        "ReturnConsumedCapacity": "TOTAL",
    }
    read = ShipmentRead(key, None)
    for _ in range(1000):  # bounded: a page of the Query holds up to 1 MB
        response = client.query(**request)
        meter.add_read(response)
        for item in response.get("Items", []):
            sort_key = item["sk"]["S"]
            if sort_key == state_key:
                read.state = item
            elif sort_key == tracker_key:
                read.tracker = item
            elif sort_key.startswith(page_head):  # not another carrier's
                read.pages.append(item)
        if "LastEvaluatedKey" not in response:
            break
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
    return read
