"""Reading a tenant's audit of delivery outcomes, newest first.

One query per shard and UTC day, from today back to ``since``, each reading newest first
and at most ``limit`` matching items; it stops at the first day that completes ``limit``
records (older days cannot hold newer records). Items past
their ``expires_at`` are skipped (TTL deletion lags). Windows that several processes
counted for the same minute, outcome, code and carrier are summed into one record.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from gateway.models import instant_text
from gateway.store.capacity import CapacityMeter
from gateway.store.errors import store_errors
from gateway.store.keys import AUDIT_SHARDS, audit_pk


@dataclass(frozen=True)
class AuditRecord:
    """One audited outcome, or a counted window of them (``window_s`` > 0)."""

    at: datetime
    outcome: str
    code: str
    carrier: str
    count: int
    window_s: int = 0
    detail: dict[str, Any] = field(default_factory=dict)


def read_audit(
    client: Any,
    table: str,
    tenant: str,
    *,
    since: datetime,
    now: datetime,
    outcome: str | None = None,
    limit: int = 100,
    meter: CapacityMeter | None = None,
) -> list[AuditRecord]:
    """Up to ``limit`` records of ``tenant`` from ``since`` to ``now``, newest first."""
    meter = meter or CapacityMeter()
    request: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "pk = :pk AND sk >= :since",
        "ExpressionAttributeValues": {":since": {"S": instant_text(since)}},
        "ScanIndexForward": False,
        "ReturnConsumedCapacity": "TOTAL",
    }
    if outcome:
        request["FilterExpression"] = "outcome = :outcome"
        request["ExpressionAttributeValues"][":outcome"] = {"S": outcome}
    found: list[dict[str, Any]] = []
    for day in _days(since, now):
        for shard in AUDIT_SHARDS:
            values = request["ExpressionAttributeValues"] | {
                ":pk": {"S": audit_pk(tenant, day, shard)}
            }
            shard_request = request | {"ExpressionAttributeValues": values}
            found.extend(_query(client, shard_request, now, limit, meter))
        if len(found) >= limit:
            break
    return _merge(found)[:limit]


def _days(since: datetime, now: datetime) -> Iterator[str]:
    day, first = now.astimezone(UTC).date(), since.astimezone(UTC).date()
    while day >= first:
        yield day.isoformat()
        day -= timedelta(days=1)


def _query(
    client: Any, request: dict[str, Any], now: datetime, limit: int, meter: CapacityMeter
) -> list[dict[str, Any]]:
    """Up to ``limit`` unexpired items of one shard, newest first, page by page."""
    items: list[dict[str, Any]] = []
    request = request | {"Limit": limit}
    with store_errors():
        while len(items) < limit:
            page = client.query(**request)
            meter.add_read(page)
            items.extend(i for i in page.get("Items", []) if not _expired(i, now))
            if "LastEvaluatedKey" not in page:
                break
            request = request | {"ExclusiveStartKey": page["LastEvaluatedKey"]}
    return items[:limit]


def _expired(item: dict[str, Any], now: datetime) -> bool:
    """TTL deletion lags: an audit item past its retention is never listed."""
    return int(item["expires_at"]["N"]) <= int(now.timestamp())


def _merge(items: list[dict[str, Any]]) -> list[AuditRecord]:
    """Records newest first; windows of the same minute and kind summed over processes."""
    records: dict[tuple[str, ...], AuditRecord] = {}
    for item in items:
        record = _record(item)
        if record.window_s:
            key: tuple[str, ...] = (item["at"]["S"], record.outcome, record.code, record.carrier)
            seen = records.get(key)
            if seen is not None:
                record = replace(seen, count=seen.count + record.count)
        else:
            key = (item["sk"]["S"],)
        records[key] = record
    return sorted(records.values(), key=lambda r: r.at, reverse=True)


def _record(item: dict[str, Any]) -> AuditRecord:
    return AuditRecord(
        at=datetime.fromisoformat(item["at"]["S"]),
        outcome=item["outcome"]["S"],
        code=item["code"]["S"],
        carrier=item["carrier"]["S"],
        count=int(item["count"]["N"]),
        window_s=int(item.get("window_s", {}).get("N", "0")),
        detail=json.loads(item.get("detail", {}).get("S", "{}")),
    )
