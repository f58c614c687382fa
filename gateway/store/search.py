"""Search a tenant's shipments by status change, newest first, over the sharded index.

Each (status, shard) partition of the status index (``gateway/store/index.py``) is read
newest first (KEYS_ONLY entries of ~100 bytes; the first pages in parallel), and the
partitions are merged by sort key (a k-way merge). Sort keys are unique within a
tenant, so one position, the last entry examined, continues every partition at once:
the next page reads each partition below it. A status change recorded after the first
page lands above the position: later pages neither repeat nor mix it in.

The states of the page are then read with BatchGetItem (eventually consistent) for the
detail and the last event time. An entry whose state no longer carries it (the status
moved meanwhile, the shipment was erased or expired) is dropped, so a page may be short
of ``limit`` and still have a next one; ``MAX_EXAMINED`` bounds the entries one page reads.
"""

from __future__ import annotations

import heapq
import random
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.errors import StoreUnavailableError
from gateway.models import ShipmentState, Status, instant_text
from gateway.store import codec
from gateway.store.capacity import CapacityMeter
from gateway.store.errors import store_errors
from gateway.store.index import INDEX_NAME, INDEX_PK, INDEX_SK, SEARCH_SHARDS, changed_at
from gateway.store.index import index_partition as partition_of
from gateway.store.keys import state_sk

MAX_EXAMINED = 1000
FIRST_PAGE = 32  # ~110-byte entries: 32 fit the 4 KB that one query's half unit reads
MAX_QUERY_PAGE = 200
PARALLEL = 16
BATCH_GET = 100
ATTEMPTS = 5

Item = dict[str, Any]


@dataclass(frozen=True)
class SearchHit:
    """One shipment found: its current state and when it entered its status."""

    state: ShipmentState
    status_changed_at: datetime


def search_index(
    client: Any,
    table: str,
    meter: CapacityMeter,
    tenant: str,
    *,
    now: datetime,
    status: Status | None,
    carrier: str | None,
    since: datetime | None,
    limit: int,
    before: str | None,
) -> tuple[list[SearchHit], str | None]:
    """A page of hits newest first, and the position to continue below (None: the end)."""
    low = instant_text(since) if since is not None else None
    if low is not None and before is not None and low >= before:
        return [], None
    statuses = [status] if status is not None else list(Status)
    partitions = [partition_of(tenant, s, n) for s in statuses for n in range(SEARCH_SHARDS)]
    reader = _Reader(client, table, meter, low, before)
    first = min(limit + 1, FIRST_PAGE)
    with store_errors():
        merged = heapq.merge(
            *reader.streams(partitions, first), key=lambda e: e[INDEX_SK]["S"], reverse=True
        )
        chosen, position = _take(merged, carrier, limit)
        states = _get_states(client, table, meter, chosen)
    hits = []
    prefix = f"S#{tenant}#"
    for entry in chosen:
        item = states.get((entry["pk"]["S"], entry["sk"]["S"]))
        if item is None or codec.expired(item, now) or not entry["pk"]["S"].startswith(prefix):
            continue
        if item.get(INDEX_PK) != entry[INDEX_PK] or item.get(INDEX_SK) != entry[INDEX_SK]:
            continue  # the status moved since the index was read
        state = codec.state_from_item(tenant, entry["pk"]["S"].removeprefix(prefix), item)
        hits.append(SearchHit(state, changed_at(entry[INDEX_SK]["S"])))
    return hits, position


def _take(merged: Iterator[Item], carrier: str | None, limit: int) -> tuple[list[Item], str | None]:
    """Up to ``limit`` entries of ``carrier``; the last position examined unless at the end."""
    chosen: list[Item] = []
    position: str | None = None
    for examined, entry in enumerate(merged):
        if len(chosen) == limit or examined == MAX_EXAMINED:
            return chosen, position
        position = entry[INDEX_SK]["S"]
        if carrier is None or entry["sk"]["S"] == state_sk(carrier):
            chosen.append(entry)
    return chosen, None


class _Reader:
    """Queries of index partitions, newest first, between ``low`` and ``before``."""

    def __init__(
        self, client: Any, table: str, meter: CapacityMeter, low: str | None, before: str | None
    ) -> None:
        self.client, self.table, self.meter, self.before = client, table, meter, before
        condition = f"{INDEX_PK} = :p"
        if low is not None and before is not None:  # BETWEEN is inclusive: ``before`` dropped
            condition += f" AND {INDEX_SK} BETWEEN :low AND :before"
        elif low is not None:
            condition += f" AND {INDEX_SK} >= :low"
        elif before is not None:
            condition += f" AND {INDEX_SK} < :before"
        self.condition = condition
        self.values = {f":{k}": {"S": v} for k, v in (("low", low), ("before", before)) if v}

    def query(self, partition: str, limit: int, start: Item | None = None) -> Item:
        request: Item = {
            "TableName": self.table,
            "IndexName": INDEX_NAME,
            "KeyConditionExpression": self.condition,
            "ExpressionAttributeValues": self.values | {":p": {"S": partition}},
            "ScanIndexForward": False,
            "Limit": limit,
            "ReturnConsumedCapacity": "TOTAL",
        }
        if start is not None:
            request["ExclusiveStartKey"] = start
        response: Item = self.client.query(**request)
        return response

    def streams(self, partitions: list[str], first: int) -> list[Iterator[Item]]:
        """One lazy stream per partition; the first pages are read in parallel."""
        with ThreadPoolExecutor(max_workers=min(PARALLEL, len(partitions))) as pool:
            pages = list(pool.map(lambda p: self.query(p, first), partitions))
        for page in pages:
            self.meter.add_read(page)
        return [self._stream(p, page, first) for p, page in zip(partitions, pages, strict=True)]

    def _stream(self, partition: str, response: Item, size: int) -> Iterator[Item]:
        while True:
            for entry in response.get("Items", []):
                if self.before is None or entry[INDEX_SK]["S"] < self.before:
                    yield entry
            start = response.get("LastEvaluatedKey")
            if start is None:
                return
            size = min(2 * size, MAX_QUERY_PAGE)
            response = self.query(partition, size, start)
            self.meter.add_read(response)


def _get_states(
    client: Any, table: str, meter: CapacityMeter, entries: list[Item]
) -> dict[tuple[str, str], Item]:
    """The state items named by ``entries`` (BatchGetItem, unprocessed keys retried)."""
    found: dict[tuple[str, str], Item] = {}
    unique = {(e["pk"]["S"], e["sk"]["S"]) for e in entries}  # a move may show both entries
    keys = [{"pk": {"S": pk}, "sk": {"S": sk}} for pk, sk in sorted(unique)]
    for start in range(0, len(keys), BATCH_GET):
        pending = keys[start : start + BATCH_GET]
        for attempt in range(ATTEMPTS):
            response = client.batch_get_item(
                RequestItems={table: {"Keys": pending}}, ReturnConsumedCapacity="TOTAL"
            )
            meter.add_read(response)
            for item in response.get("Responses", {}).get(table, []):
                found[(item["pk"]["S"], item["sk"]["S"])] = item
            pending = response.get("UnprocessedKeys", {}).get(table, {}).get("Keys", [])
            if not pending:
                break
            time.sleep(0.05 * 2**attempt * (1 + random.random()))
        if pending:
            raise StoreUnavailableError("storage left reads unprocessed", code="store_unavailable")
    return found
