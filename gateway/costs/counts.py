"""A tenant's month of counted windows (``gateway/audit/windows.py``), summed per outcome.

One Query per (UTC day, audit shard): 8 a day, ~248 a tenant-month, each on the
partition ``A#{tenant}#{day}#{shard}`` (never a Scan), eventually consistent, paged.

**Read cost.** A window item is ~150-200 bytes; one exists per (minute, outcome, code,
carrier, process) that saw traffic, so a busy tenant with 3 outcome kinds on 4 warm
containers has up to 3 x 4 x 43,200 ≈ 518,000 items a month ≈ 100 MB: ≈ 12,700 read
units (0.5 per 4 KB, eventually consistent) ≈ $0.0016 at $0.125 per million, and ~100
1 MB pages (tens of seconds). A quiet tenant: its 248 Queries of empty partitions, 124
read units. The attribution reads every tenant of ``tenants/``.

Example:
    >>> month_days("2026-02")[-1]
    '2026-02-28'
"""

from __future__ import annotations

import calendar
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from gateway.store.capacity import CapacityMeter
from gateway.store.errors import store_errors
from gateway.store.keys import AUDIT_SHARDS, audit_pk

PARALLEL_READS = 8
"""Audit partitions read at once (boto3 clients are thread-safe; 8 stays under botocore's
default pool of 10 connections, so none is opened and thrown away)."""

SUBMIT_CARRIER = "canonical"  # gateway/audit/refusals.py: /v1/events counts as this carrier
Counts = Counter[tuple[str, str]]
"""(outcome, channel) → requests; channel ``webhook`` or ``submit`` (``/v1/events``)."""


def month_days(month: str) -> list[str]:
    """The UTC days (``YYYY-MM-DD``) of ``month`` (``YYYY-MM``)."""
    year, number = (int(part) for part in month.split("-"))
    last = calendar.monthrange(year, number)[1]
    return [f"{year:04d}-{number:02d}-{day:02d}" for day in range(1, last + 1)]


def _pages(client: Any, request: dict[str, Any], meter: CapacityMeter) -> Iterator[dict[str, Any]]:
    with store_errors():
        while True:
            page = client.query(**request)
            meter.add_read(page)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            request = request | {"ExclusiveStartKey": page["LastEvaluatedKey"]}


def month_counts(
    client: Any, table: str, tenant: str, month: str, *, meter: CapacityMeter | None = None
) -> Counts:
    """The tenant's requests in ``month``, per (outcome, channel), summed over the windows
    every process wrote (a window's item holds its final count)."""
    return days_counts(client, table, tenant, month_days(month), meter=meter)


def days_counts(
    client: Any,
    table: str,
    tenant: str,
    days: Iterable[str],
    *,
    meter: CapacityMeter | None = None,
) -> Counts:
    """The tenant's requests on the UTC ``days`` (``YYYY-MM-DD``), as :func:`month_counts`.

    The partitions (8 a day) are read :data:`PARALLEL_READS` at a time: a month is 248
    Queries, which one after another take seconds on DynamoDB (a console page, a Lambda
    with a timeout, waits for them)."""
    meter = meter or CapacityMeter()
    partitions = [audit_pk(tenant, day, shard) for day in days for shard in AUDIT_SHARDS]
    counts: Counts = Counter()
    with ThreadPoolExecutor(max_workers=PARALLEL_READS) as pool:
        for found, units in pool.map(lambda pk: _partition_counts(client, table, pk), partitions):
            counts.update(found)
            meter.read_units += units
    return counts


def _partition_counts(client: Any, table: str, pk: str) -> tuple[Counts, float]:
    """One audit partition's counts by (outcome, channel), and the read units it took."""
    request = {
        "TableName": table,
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": pk}},
        "ProjectionExpression": "outcome, #n, carrier",
        "ExpressionAttributeNames": {"#n": "count"},
        "ReturnConsumedCapacity": "TOTAL",
    }
    meter, counts = CapacityMeter(), Counts()
    for item in _pages(client, request, meter):
        carrier = item.get("carrier", {}).get("S", "")
        channel = "submit" if carrier == SUBMIT_CARRIER else "webhook"
        counts[item["outcome"]["S"], channel] += int(item["count"]["N"])
    return counts, meter.read_units
