"""The daily hard cap: an atomic DynamoDB counter per tenant and UTC day, counted cheaply.

API Gateway usage plans are best effort; this cap holds whatever the edge lets through. It
counts authenticated requests only: ``/v1`` calls whose API key the authorizer resolved, and
webhook deliveries once ingest has verified their signature.
Each process counts the requests it admits and adds them to the table with one
``UpdateItem ADD`` every ``flush_every`` requests or ``flush_seconds`` seconds (checked on
each request), to one of ``shards`` items, so that a hot tenant's writes spread over a
few partitions:

- counter: ``pk = L#{tenant}#{day}#{shard}``, ``sk = L``, ``n`` (requests), ``expires_at``

The day's total is the sum of the shards, read with one eventually consistent
BatchGetItem at most every ``cache_seconds``; a process adds what it has not flushed
yet. Drift is bounded (docs/limits.md): a process holds back at most ``flush_every - 1``
requests or ``flush_seconds`` of traffic, and sees the others' flushes ``cache_seconds``
late. The counter fails open: a DynamoDB error is logged and the request admitted.

Example::

    cap = HardCap(client, "waybill", plan_of(tenants))
    cap.admit("acme")  # ThrottledError(code="hard_cap_reached") once the day is full
    cap.flush()        # at shutdown: persist what is still counted in memory only
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from gateway.errors import ThrottledError
from gateway.store.capacity import CapacityMeter
from gateway.tenancy.plans import DAY_SECONDS, Plan, day_window, retry_after

KEEP_SECONDS = 2 * DAY_SECONDS  # counters expire two days after their day ends
log = logging.getLogger("waybill.limits")


def counter_key(tenant: str, day: str, shard: int) -> dict[str, Any]:
    """The key of one shard of a tenant's daily counter.

    >>> counter_key("acme", "2026-11-22", 3)["pk"]
    {'S': 'L#acme#2026-11-22#3'}
    """
    return {"pk": {"S": f"L#{tenant}#{day}#{shard}"}, "sk": {"S": "L"}}


def keyed_tenant(event: Mapping[str, Any]) -> str | None:
    """The tenant the authorizer resolved from the request's API key, if any.

    A webhook names its tenant in the path, which anyone can write: it is counted by
    ingest once its signature is verified, never here.

    >>> keyed_tenant({"requestContext": {"authorizer": {"tenant": "acme"}}})
    'acme'
    >>> keyed_tenant({"pathParameters": {"tenant": "acme", "carrier": "ups"}}) is None
    True
    """
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    tenant = authorizer.get("tenant")
    return tenant if isinstance(tenant, str) and tenant else None


@dataclass
class _Day:
    """One tenant's counter for one day, as this process knows it."""

    day: str
    ends: float
    pending: int = 0  # admitted here, not flushed yet
    pending_since: float = 0.0
    shards: dict[int, int] = field(default_factory=dict)  # last value seen per shard
    read_at: float = -math.inf

    def total(self) -> int:
        return sum(self.shards.values()) + self.pending


class HardCap:
    """Refuses a tenant's requests once its plan's ``hard_cap`` for the UTC day is reached."""

    def __init__(
        self,
        client: Any,
        table: str,
        plan_of: Callable[[str], Plan | None],
        *,
        flush_every: int = 50,
        flush_seconds: float = 10.0,
        shards: int = 4,
        cache_seconds: float = 5.0,
        clock: Callable[[], float] = time.time,
        meter: CapacityMeter | None = None,
    ) -> None:
        self.client, self.table, self.plan_of = client, table, plan_of
        self.flush_every, self.flush_seconds = flush_every, flush_seconds
        self.shards, self.cache_seconds, self.clock = shards, cache_seconds, clock
        self.meter = meter or CapacityMeter()
        self._days: dict[str, _Day] = {}
        self._lock = threading.Lock()

    def admit(self, tenant: str | None) -> None:
        """Count one request of ``tenant``, or raise :class:`ThrottledError` past the cap."""
        plan = self.plan_of(tenant) if tenant else None
        if tenant is None or plan is None:
            return
        now = self.clock()
        day = self._day(tenant, now)
        with self._lock:  # one reader per expiry; once refused, no re-read: totals only grow
            stale = now - day.read_at >= self.cache_seconds and day.total() < plan.hard_cap
            day.read_at = now if stale else day.read_at
        if stale:
            self._read(tenant, day)
        with self._lock:
            refused = day.total() >= plan.hard_cap
            if not refused:
                day.pending += 1
                if day.pending == 1:
                    day.pending_since = now
            full = day.pending >= self.flush_every or now - day.pending_since >= self.flush_seconds
            due = day.pending > 0 and (refused or full)
        if due:
            self._flush(tenant, day)
        if refused:
            raise ThrottledError(
                f"daily hard cap of {plan.hard_cap} requests reached",
                code="hard_cap_reached",
                retry_after=retry_after(day.ends - now),
            )

    def middleware(self, app: Any, next_middleware: Callable[[Any], Any]) -> Any:
        """A Powertools middleware: a request with an authenticated API key is admitted first.

        Webhook deliveries are admitted by ingest after their signature is verified
        (:attr:`gateway.ingest.pipeline.Pipeline.usage`), so unsigned junk spends nothing.
        """
        self.admit(keyed_tenant(app.current_event.raw_event))
        return next_middleware(app)

    def flush(self) -> None:
        """Write every count still held in memory (at shutdown, and in tests)."""
        for tenant, day in list(self._days.items()):
            self._flush(tenant, day)

    def _day(self, tenant: str, now: float) -> _Day:
        name, ends = day_window(now)
        with self._lock:
            current = self._days.get(tenant)
            if current is not None and current.day == name:
                return current
            self._days[tenant] = fresh = _Day(name, ends)
        if current is not None:
            self._flush(tenant, current)  # yesterday's tail still counts as yesterday's usage
        return fresh

    def _flush(self, tenant: str, day: _Day) -> None:
        with self._lock:
            count, day.pending = day.pending, 0
        if not count:
            return
        shard = random.randrange(self.shards)
        try:
            response = self.client.update_item(
                TableName=self.table,
                Key=counter_key(tenant, day.day, shard),
                UpdateExpression="ADD n :n SET expires_at = :exp",
                ExpressionAttributeValues={
                    ":n": {"N": str(count)},
                    ":exp": {"N": str(int(day.ends) + KEEP_SECONDS)},
                },
                ReturnValues="UPDATED_NEW",
                ReturnConsumedCapacity="TOTAL",
            )
        except (BotoCoreError, ClientError) as exc:
            with self._lock:  # kept for the next flush: fail open, lose nothing
                day.pending += count
            log.warning("hard cap counter not written (%s)", type(exc).__name__)
            return
        self.meter.add_write(response)
        with self._lock:
            seen = int(response["Attributes"]["n"]["N"])
            day.shards[shard] = max(day.shards.get(shard, 0), seen)

    def _read(self, tenant: str, day: _Day) -> None:
        keys = [counter_key(tenant, day.day, shard) for shard in range(self.shards)]
        request: dict[str, Any] = {self.table: {"Keys": keys}}
        seen: dict[int, int] = {}
        try:
            for _ in range(3):  # unprocessed keys are retried twice, then taken as unchanged
                response = self.client.batch_get_item(
                    RequestItems=request, ReturnConsumedCapacity="TOTAL"
                )
                self.meter.add_read(response)
                for item in response.get("Responses", {}).get(self.table, []):
                    seen[int(item["pk"]["S"].rsplit("#", 1)[1])] = int(item["n"]["N"])
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
        except (BotoCoreError, ClientError) as exc:
            log.warning("hard cap counter not read (%s)", type(exc).__name__)
        with self._lock:
            for shard, value in seen.items():
                day.shards[shard] = max(day.shards.get(shard, 0), value)
