"""The store's read path: a shipment's states, its history page by page, and search.

Every read of one shipment stays in its partition (``S#{tenant}#{tracking}``); search
reads the status index (``gateway/store/search.py``). Reads count their units.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gateway.models import CanonicalEvent, ShipmentState, Status
from gateway.store import codec
from gateway.store.capacity import CapacityMeter
from gateway.store.codec import expired
from gateway.store.errors import store_errors
from gateway.store.keys import EVENT_PREFIX, STATE_PREFIX, TRACKER_PREFIX, shipment_pk
from gateway.store.search import SearchHit, search_index

MAX_QUERIES = 5  # per history page: a filtered page may end short, with a position


class ShipmentReads:
    """The read methods of :class:`~gateway.store.dynamo.DynamoStore`."""

    client: Any
    table: str
    meter: CapacityMeter

    def get_shipments(
        self, tenant: str, tracking_number: str, now: datetime
    ) -> list[ShipmentState]:
        """Current state per carrier: one strongly consistent query of one partition."""
        return self.shipment_view(tenant, tracking_number, now)[0]

    def shipment_view(
        self, tenant: str, tracking_number: str, now: datetime
    ) -> tuple[list[ShipmentState], dict[str, dict[str, Any]]]:
        """Current state per carrier, and the trackers' items by carrier (the shipment's
        freshness): one strongly consistent query of the ``B#`` and ``C#`` items."""
        with store_errors():
            response = self.client.query(
                TableName=self.table,
                KeyConditionExpression="pk = :pk AND sk BETWEEN :low AND :high",
                ExpressionAttributeValues={
                    ":pk": {"S": shipment_pk(tenant, tracking_number)},
                    ":low": {"S": TRACKER_PREFIX},
                    ":high": {"S": f"{STATE_PREFIX}~"},
                },
                ConsistentRead=True,
                ReturnConsumedCapacity="TOTAL",
            )
        self.meter.add_read(response)
        states, trackers = [], {}
        for item in response.get("Items", []):
            sort_key = item["sk"]["S"]
            if sort_key.startswith(TRACKER_PREFIX):
                trackers[sort_key.removeprefix(TRACKER_PREFIX)] = item
            elif not expired(item, now):
                states.append(codec.state_from_item(tenant, tracking_number, item))
        return states, trackers

    def shipment_item(self, tenant: str, tracking_number: str, sk: str) -> dict[str, Any] | None:
        """One item of a shipment's partition (a state ``C#…`` or an event ``E#…``), read
        strongly consistent; None when absent."""
        with store_errors():
            response = self.client.get_item(
                TableName=self.table,
                Key={"pk": {"S": shipment_pk(tenant, tracking_number)}, "sk": {"S": sk}},
                ConsistentRead=True,
                ReturnConsumedCapacity="TOTAL",
            )
        self.meter.add_read(response)
        item: dict[str, Any] | None = response.get("Item")
        return item

    def list_events(
        self,
        tenant: str,
        tracking_number: str,
        *,
        now: datetime,
        carrier: str | None = None,
        limit: int = 100,
        after: str | None = None,
        located: bool = False,
    ) -> tuple[list[CanonicalEvent], str | None]:
        """A page of history in event-time order, and the sort key to continue after.

        The position is None at the end. ``carrier`` and ``located`` (only events with
        a location) filter; strongly consistent queries read until the page is full and
        one more item is seen, or the end, or ``MAX_QUERIES`` (then the page may be short).
        """
        pk = shipment_pk(tenant, tracking_number)
        found: list[CanonicalEvent] = []
        position = after
        for _ in range(MAX_QUERIES):
            request: dict[str, Any] = {
                "TableName": self.table,
                "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
                "ExpressionAttributeValues": {":pk": {"S": pk}, ":prefix": {"S": EVENT_PREFIX}},
                "Limit": limit - len(found) + 1,
                "ConsistentRead": True,
                "ReturnConsumedCapacity": "TOTAL",
            }
            if position is not None:
                request["ExclusiveStartKey"] = {"pk": {"S": pk}, "sk": {"S": position}}
            with store_errors():
                response = self.client.query(**request)
            self.meter.add_read(response)
            for item in response.get("Items", []):
                if len(found) == limit:
                    return found, position
                position = item["sk"]["S"]
                if expired(item, now) or carrier not in (None, item["carrier"]["S"]):
                    continue
                event = codec.event_from_item(item)
                if not (located and event.location.is_empty()):
                    found.append(event)
            if "LastEvaluatedKey" not in response:
                return found, None
        return found, position

    def search(
        self,
        tenant: str,
        *,
        now: datetime,
        status: Status | None = None,
        carrier: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
        before: str | None = None,
    ) -> tuple[list[SearchHit], str | None]:
        """Shipments by status change, newest first (see ``gateway/store/search.py``)."""
        return search_index(
            self.client,
            self.table,
            self.meter,
            tenant,
            now=now,
            status=status,
            carrier=carrier,
            since=since,
            limit=limit,
            before=before,
        )
