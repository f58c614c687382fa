"""What the console's pages read, each through one request's capacity meter: no Scan.

Every read here is a GetItem, a Query of one partition or index partition, or a
BatchGetItem of known keys; ``docs/queries.md`` lists each page's cost, and each page
shows what it read (``ReadMeter``).

Two reads serve the tenants pages: :meth:`Reads.usage`, the quota counters of
:mod:`gateway.tenancy.limits` (one BatchGetItem for every tenant of the page), and
:meth:`Reads.month_costs`, the month's modeled cost, kept a few minutes per process by
:class:`CostCache` (a month of counted windows per tenant is the console's costliest read).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from gateway.audit.query import AuditRecord, read_audit
from gateway.console.usage import PROCESS_COSTS, CostCache, MonthCost, Usage
from gateway.costs.attribution import month_costs, tenant_secrets
from gateway.errors import StoreUnavailableError
from gateway.models import CanonicalEvent, instant_text
from gateway.notify.endpoints import Endpoint, EndpointStore
from gateway.notify.messages import (
    MESSAGE_SHARDS,
    Message,
    MessageStore,
    message_from_item,
    message_id,
    shard_of,
)
from gateway.notify.sealing import Sealer
from gateway.poll.budget import Budget
from gateway.poll.checks import CheckLog
from gateway.poll.trackers import TrackerStore
from gateway.store.batch import MAX_BATCH_GET, UnprocessedKeysError, batch_get
from gateway.store.capacity import CapacityMeter
from gateway.store.due_index import DUE_INDEX_NAME, DUE_PK, DUE_SHARDS, DUE_SK, due_partition
from gateway.store.dynamo import DynamoStore
from gateway.store.errors import store_errors
from gateway.store.keys import PARKED_SHARDS, message_pk
from gateway.store.pages import query_pages
from gateway.store.parked import ParkingLot
from gateway.tenancy.limits import MONTH, counter_key, day_attribute
from gateway.tenancy.plans import day_window, month_window
from gateway.tenancy.tenants import TenantConfig

WINDOW_LIMIT = 50_000  # counted windows read per tenant for the overview (1,440 minutes a day)
COUNTER_SHARDS = 4
"""The shards of a tenant's quota counter: :class:`~gateway.tenancy.limits.UsageLimits`' default,
which the AWS handler uses (``tests/console`` checks they agree)."""


def first_id_at(at: datetime) -> str:
    """The smallest id of a message received at or after ``at``: ids sort by time, their
    first 10 digits are the milliseconds (:func:`~gateway.notify.messages.message_id`).

    >>> from datetime import UTC
    >>> at = datetime(2026, 1, 2, tzinfo=UTC)
    >>> first_id_at(at) <= message_id("ep_1", "ev_1", "shipment.status_changed", at)
    True
    """
    return message_id("", "", "", at)[:14] + "0" * 16


@dataclass
class Reads:
    """The stores of one page, all counting into one meter."""

    client: Any
    table: str
    sealer: Sealer
    meter: CapacityMeter
    costs: CostCache = field(default_factory=lambda: PROCESS_COSTS)

    @property
    def store(self) -> DynamoStore:
        """Shipments: states, events."""
        return DynamoStore(self.client, self.table, self.meter)

    @property
    def trackers(self) -> TrackerStore:
        """Trackers and their listings."""
        return TrackerStore(self.client, self.table, self.meter)

    @property
    def budget(self) -> Budget:
        """The daily poll budgets."""
        return Budget(self.client, self.table, self.meter)

    @property
    def checks(self) -> CheckLog:
        """The per-check log."""
        return CheckLog(self.client, self.table, self.meter)

    @property
    def parking(self) -> ParkingLot:
        """Parked deliveries."""
        return ParkingLot(self.client, self.table, self.meter)

    @property
    def messages(self) -> MessageStore:
        """Notification messages (newest first, per endpoint)."""
        return MessageStore(self.client, self.table, self.meter, lambda: datetime.now(UTC))

    @property
    def endpoints(self) -> EndpointStore:
        """Notification endpoints (listed; their secrets are never opened here)."""
        return EndpointStore(self.client, self.table, self.sealer, self.meter)

    def usage(self, tenants: Iterable[str], now: datetime) -> dict[str, Usage]:
        """Each tenant's requests today and this month (UTC) as :mod:`gateway.tenancy.limits`
        counts them: one eventually consistent BatchGetItem of the ``L#{tenant}#{month}#n``
        items of every tenant (4 keys each, 100 a request), the month and today only."""
        at = now.timestamp()
        (month, _), (day, _) = month_window(at), day_window(at)
        wanted = list(dict.fromkeys(tenants))
        keys, owner = [], {}
        for tenant in wanted:
            for shard in range(COUNTER_SHARDS):
                key = counter_key(tenant, month, shard)
                keys.append(key)
                owner[key["pk"]["S"]] = tenant
        today = day_attribute(day)
        projection = {
            "ProjectionExpression": "pk, #m, #d",
            "ExpressionAttributeNames": {"#m": MONTH, "#d": today},
        }
        days: Counter[str] = Counter()
        months: Counter[str] = Counter()
        for item in self._batch_get(keys, projection):
            tenant = owner[item["pk"]["S"]]
            months[tenant] += int(item.get(MONTH, {}).get("N", "0"))
            days[tenant] += int(item.get(today, {}).get("N", "0"))
        return {tenant: Usage(days[tenant], months[tenant]) for tenant in wanted}

    def month_costs(self, tenants: Mapping[str, TenantConfig], now: datetime) -> MonthCost:
        """Every tenant's modeled cost for ``now``'s month (:func:`month_costs`: a month of
        counted windows per tenant, 8 Queries a day), from :attr:`costs` when fresh."""
        month = f"{now.astimezone(UTC):%Y-%m}"
        shape = tuple(sorted((t, tenant_secrets(c)) for t, c in tenants.items()))
        return self.costs.get(
            (self.table, month, shape),
            now,
            lambda: month_costs(self.client, self.table, tenants, month, meter=self.meter),
        )

    def _batch_get(self, keys: list[dict[str, Any]], extra: dict[str, Any]) -> list[Any]:
        """The items of ``keys`` (:func:`~gateway.store.batch.batch_get`); keys still
        unprocessed: a 503."""
        try:
            with store_errors():
                return batch_get(self.client, self.table, keys, self.meter, extra=extra)
        except UnprocessedKeysError:
            raise StoreUnavailableError("storage left keys unprocessed (throttled)") from None

    def windows(self, tenant: str, since: datetime, now: datetime) -> list[AuditRecord]:
        """The tenant's counted windows since ``since`` (16 Queries for the last day)."""
        return read_audit(
            self.client,
            self.table,
            tenant,
            since=since,
            now=now,
            limit=WINDOW_LIMIT,
            meter=self.meter,
        )

    def _count(self, request: dict[str, Any]) -> int:
        request = request | {"TableName": self.table, "Select": "COUNT"}
        pages = query_pages(self.client, request, self.meter)
        return sum(int(page.get("Count", 0)) for page in pages)

    def due_count(self, kind: str, upto: datetime | None) -> int:
        """Entries of the due index of ``kind`` (``DUE`` messages, ``POLL`` trackers) due by
        ``upto`` (every entry when None): one Query per shard, keys only."""
        total = 0
        for shard in range(DUE_SHARDS):
            values: dict[str, Any] = {":pk": {"S": due_partition(shard, kind)}}
            condition = f"{DUE_PK} = :pk"
            if upto is not None:
                condition += f" AND {DUE_SK} <= :upto"
                values[":upto"] = {"S": instant_text(upto)}
            total += self._count(
                {
                    "IndexName": DUE_INDEX_NAME,
                    "KeyConditionExpression": condition,
                    "ExpressionAttributeValues": values,
                }
            )
        return total

    def parked_count(self, tenant: str) -> int:
        """The tenant's parked deliveries: one Query per shard (16)."""
        return sum(
            self._count(
                {
                    "KeyConditionExpression": "pk = :pk",
                    "ExpressionAttributeValues": {":pk": {"S": f"P#{tenant}#{shard}"}},
                }
            )
            for shard in PARKED_SHARDS
        )

    def message_states(self, tenant: str, endpoint_id: str, since: datetime) -> Counter[str]:
        """How many of the endpoint's messages created since ``since`` are in each state:
        one Query per message shard (8), from the first id of that instant on."""
        found: Counter[str] = Counter()
        for shard in range(MESSAGE_SHARDS):
            request: dict[str, Any] = {
                "TableName": self.table,
                "KeyConditionExpression": "pk = :pk AND sk >= :first",
                "ExpressionAttributeValues": {
                    ":pk": {"S": message_pk(tenant, endpoint_id, shard)},
                    ":first": {"S": first_id_at(since)},
                },
                "ProjectionExpression": "st",
            }
            for page in query_pages(self.client, request, self.meter):
                found.update(item["st"]["S"] for item in page.get("Items", []))
        return found

    def caused(
        self, tenant: str, endpoints: Iterable[Endpoint], events: Iterable[CanonicalEvent]
    ) -> list[Message]:
        """The messages these events caused: their ids are derived (endpoint, event, type,
        received), so one BatchGetItem of at most 100 keys finds them, newest first."""
        keys: list[dict[str, Any]] = []
        wanted = [(e, t) for e in endpoints for t in e.types]
        for event in events:
            for endpoint, kind in wanted:
                found = message_id(endpoint.id, event.event_id, kind, event.received_at)
                pk = message_pk(tenant, endpoint.id, shard_of(found))
                keys.append({"pk": {"S": pk}, "sk": {"S": found}})
        items = self._batch_get(keys[:MAX_BATCH_GET], {})
        return sorted(map(message_from_item, items), key=lambda m: m.id, reverse=True)
