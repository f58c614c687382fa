"""The plan's quota and daily hard cap in code: atomic DynamoDB counters, counted cheaply.

API Gateway usage plans are best effort, and the webhook edge (an HTTP API) has none: these
counters hold whatever the edges let through. They count authenticated requests only:
``/v1`` calls whose API key the authorizer resolved, and webhook deliveries once ingest
has verified their signature, so a stranger who knows a webhook URL spends nothing. A
request is refused with ``hard_cap_reached`` once the tenant's UTC day holds ``hard_cap``
requests, and with ``quota_exceeded`` once its quota window (the UTC day or calendar
month of ``quota_period``) holds ``quota``.

Each process counts the requests it admits and adds them to the table with one
``UpdateItem ADD`` every ``flush_every`` requests or ``flush_seconds`` seconds (checked on
each request), to one of ``shards`` items, so that a hot tenant's writes spread over a
few partitions. One item per tenant, UTC month and shard holds both windows:

- counter: ``pk = L#{tenant}#{month}#{shard}``, ``sk = L``, ``m`` (the month's requests),
  ``d{DD}`` (day DD's requests), ``expires_at`` (two days after the month ends)

so one write adds to the day and the month at once. The totals are the sums over the
shards, read with one eventually consistent BatchGetItem at most every
``cache_seconds``; a process adds what it has not flushed yet. Drift is bounded
(docs/limits.md): a process holds back at most ``flush_every - 1`` requests or
``flush_seconds`` of traffic, and sees the others' flushes ``cache_seconds`` late. The
counter fails open: a DynamoDB error is logged and the request admitted.

Example::

    limits = UsageLimits(client, "waybill", plan_of(tenants))
    limits.admit("acme")  # ThrottledError(code="quota_exceeded" or "hard_cap_reached")
    limits.flush()        # at shutdown: persist what is still counted in memory only
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
from gateway.tenancy.plans import DAY_SECONDS, Plan, day_window, month_window, retry_after

KEEP_SECONDS = 2 * DAY_SECONDS  # counters expire two days after their month ends
MONTH = "m"
log = logging.getLogger("waybill.limits")


def counter_key(tenant: str, month: str, shard: int) -> dict[str, Any]:
    """The key of one shard of a tenant's counter for a UTC month.

    >>> counter_key("acme", "2026-11", 3)["pk"]
    {'S': 'L#acme#2026-11#3'}
    """
    return {"pk": {"S": f"L#{tenant}#{month}#{shard}"}, "sk": {"S": "L"}}


def day_attribute(day: str) -> str:
    """The attribute of a counter item holding one day's requests.

    >>> day_attribute("2026-11-22")
    'd22'
    """
    return "d" + day[-2:]


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
class _Window:
    """One tenant's counters for one UTC day (and its month), as this process knows them."""

    day: str
    day_ends: float
    month: str
    month_ends: float
    pending: int = 0  # admitted here, not flushed yet
    pending_since: float = 0.0
    days: dict[int, int] = field(default_factory=dict)  # the day's value last seen per shard
    months: dict[int, int] = field(default_factory=dict)  # the month's, per shard
    read_at: float = -math.inf

    def day_total(self) -> int:
        return sum(self.days.values()) + self.pending

    def month_total(self) -> int:
        return sum(self.months.values()) + self.pending

    def refusal(self, plan: Plan, now: float) -> ThrottledError | None:
        """Why one more request would break the plan (the hard cap first), or None."""
        if self.day_total() >= plan.hard_cap:
            return ThrottledError(
                f"daily hard cap of {plan.hard_cap} requests reached",
                code="hard_cap_reached",
                retry_after=retry_after(self.day_ends - now),
            )
        monthly = plan.quota_period == "month"
        used, ends = (self.month_total(), self.month_ends) if monthly else (self.day_total(), 0.0)
        if used >= plan.quota:
            return ThrottledError(
                f"quota of {plan.quota} requests per {plan.quota_period} exceeded",
                code="quota_exceeded",
                retry_after=retry_after((ends if monthly else self.day_ends) - now),
            )
        return None


class UsageLimits:
    """Refuses a tenant's requests once its plan's quota or daily ``hard_cap`` is reached."""

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
        self._windows: dict[str, _Window] = {}
        self._lock = threading.Lock()

    def admit(self, tenant: str | None) -> None:
        """Count one request of ``tenant``, or raise :class:`ThrottledError` past a limit."""
        plan = self.plan_of(tenant) if tenant else None
        if tenant is None or plan is None:
            return
        now = self.clock()
        window = self._window(tenant, now)
        with self._lock:  # one reader per expiry; once refused, no re-read: totals only grow
            stale = now - window.read_at >= self.cache_seconds
            stale = stale and window.refusal(plan, now) is None
            window.read_at = now if stale else window.read_at
        if stale:
            self._read(tenant, window)
        with self._lock:
            refused = window.refusal(plan, now)
            if refused is None:
                window.pending += 1
                if window.pending == 1:
                    window.pending_since = now
            full = (
                window.pending >= self.flush_every
                or now - window.pending_since >= self.flush_seconds
            )
            due = window.pending > 0 and (refused is not None or full)
        if due:
            self._flush(tenant, window)
        if refused is not None:
            raise refused

    def middleware(self, app: Any, next_middleware: Callable[[Any], Any]) -> Any:
        """A Powertools middleware: a request with an authenticated API key is admitted first.

        Webhook deliveries are admitted by ingest after their signature is verified
        (:attr:`gateway.ingest.pipeline.Pipeline.usage`), so unsigned junk spends nothing.
        """
        self.admit(keyed_tenant(app.current_event.raw_event))
        return next_middleware(app)

    def flush(self) -> None:
        """Write every count still held in memory (at shutdown, and in tests)."""
        for tenant, window in list(self._windows.items()):
            self._flush(tenant, window)

    def _window(self, tenant: str, now: float) -> _Window:
        day, day_ends = day_window(now)
        with self._lock:
            current = self._windows.get(tenant)
            if current is not None and current.day == day:
                return current
            month, month_ends = month_window(now)
            fresh = _Window(day, day_ends, month, month_ends)
            if current is not None and current.month == month:  # a new day, the same month
                fresh.months = dict(current.months)  # read again (after the flush below) too
            self._windows[tenant] = fresh
        if current is not None:
            self._flush(tenant, current)  # yesterday's tail still counts as yesterday's usage
        return fresh

    def _flush(self, tenant: str, window: _Window) -> None:
        with self._lock:
            count, window.pending = window.pending, 0
        if not count:
            return
        shard = random.randrange(self.shards)
        try:
            response = self.client.update_item(
                TableName=self.table,
                Key=counter_key(tenant, window.month, shard),
                UpdateExpression="ADD #m :n, #d :n SET expires_at = :exp",
                ExpressionAttributeNames={"#m": MONTH, "#d": day_attribute(window.day)},
                ExpressionAttributeValues={
                    ":n": {"N": str(count)},
                    ":exp": {"N": str(int(window.month_ends) + KEEP_SECONDS)},
                },
                ReturnValues="UPDATED_NEW",
                ReturnConsumedCapacity="TOTAL",
            )
        except (BotoCoreError, ClientError) as exc:
            with self._lock:  # kept for the next flush: fail open, lose nothing
                window.pending += count
            log.warning("usage counter not written (%s)", type(exc).__name__)
            return
        self.meter.add_write(response)
        attributes = response["Attributes"]
        with self._lock:
            _keep_max(window.months, shard, int(attributes[MONTH]["N"]))
            _keep_max(window.days, shard, int(attributes[day_attribute(window.day)]["N"]))

    def _read(self, tenant: str, window: _Window) -> None:
        keys = [counter_key(tenant, window.month, shard) for shard in range(self.shards)]
        day = day_attribute(window.day)
        request: dict[str, Any] = {
            self.table: {
                "Keys": keys,
                "ProjectionExpression": "pk, #m, #d",
                "ExpressionAttributeNames": {"#m": MONTH, "#d": day},
            }
        }
        seen: dict[int, tuple[int, int]] = {}
        try:
            for _ in range(3):  # unprocessed keys are retried twice, then taken as unchanged
                response = self.client.batch_get_item(
                    RequestItems=request, ReturnConsumedCapacity="TOTAL"
                )
                self.meter.add_read(response)
                for item in response.get("Responses", {}).get(self.table, []):
                    shard = int(item["pk"]["S"].rsplit("#", 1)[1])
                    month = int(item.get(MONTH, {}).get("N", "0"))
                    seen[shard] = (month, int(item.get(day, {}).get("N", "0")))
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
        except (BotoCoreError, ClientError) as exc:
            log.warning("usage counter not read (%s)", type(exc).__name__)
        with self._lock:
            for shard, (month, today) in seen.items():
                _keep_max(window.months, shard, month)
                _keep_max(window.days, shard, today)


def _keep_max(seen: dict[int, int], shard: int, value: int) -> None:
    """Counters only grow: keep the larger of what was seen and ``value``."""
    seen[shard] = max(seen.get(shard, 0), value)
