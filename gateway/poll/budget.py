"""The daily poll budget: requests per (tenant, carrier) per UTC day, never exceeded.

One counter item per day (``pk = Q#{tenant}#{carrier}``, ``sk = {UTC day}``). Spending is
one conditional ``ADD``: it succeeds only while the count stays within the budget, so any
number of pollers (and manual refreshes) together never exceed it. A poller reserves
what a batch needs before it asks the carrier; a reservation it did not use is given back.

Example:
    >>> from datetime import UTC, datetime
    >>> utc_day(datetime(2026, 3, 2, 23, 59, tzinfo=UTC))
    '2026-03-02'
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from gateway.store.capacity import CapacityMeter
from gateway.store.conditional import conditional_write
from gateway.store.errors import store_errors
from gateway.store.keys import budget_key

KEPT = timedelta(days=3)


def utc_day(now: datetime) -> str:
    """The UTC day of ``now``, as the counter's sort key."""
    return now.astimezone(UTC).date().isoformat()


def next_day(now: datetime) -> datetime:
    """The start of the next UTC day: when a spent budget is available again."""
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today + timedelta(days=1)


class Budget:
    """The counters in the table (low-level boto3 client, units metered)."""

    def __init__(self, client: Any, table: str, meter: CapacityMeter) -> None:
        self.client = client
        self.table = table
        self.meter = meter

    def spend(self, tenant: str, carrier: str, requests: int, limit: int, now: datetime) -> bool:
        """Count ``requests`` against today's budget of ``limit``; False (nothing counted)
        when they do not fit."""
        if requests <= 0:
            return True
        if requests > limit:
            return False
        key = budget_key(tenant, carrier, utc_day(now))
        request = {
            "TableName": self.table,
            "Key": key,
            "UpdateExpression": "ADD used :n SET expires_at = :exp",
            "ConditionExpression": "attribute_not_exists(used) OR used <= :most",
            "ExpressionAttributeValues": {
                ":n": {"N": str(requests)},
                ":most": {"N": str(limit - requests)},
                ":exp": {"N": str(int((now + KEPT).timestamp()))},
            },
        }
        answer = conditional_write(self.meter, self.client.update_item, request, billed=key)
        return answer is not None

    def give_back(self, tenant: str, carrier: str, requests: int, now: datetime) -> None:
        """Return reserved requests that were not made (the counter never goes below 0)."""
        if requests <= 0:
            return
        key = budget_key(tenant, carrier, utc_day(now))
        request = {
            "TableName": self.table,
            "Key": key,
            "UpdateExpression": "ADD used :n",
            "ConditionExpression": "used >= :back",  # not when a new day began meanwhile
            "ExpressionAttributeValues": {
                ":n": {"N": str(-requests)},
                ":back": {"N": str(requests)},
            },
        }
        conditional_write(self.meter, self.client.update_item, request, billed=key)

    def used(self, tenant: str, carrier: str, now: datetime) -> int:
        """Requests counted today."""
        with store_errors():
            answer = self.client.get_item(
                TableName=self.table,
                Key=budget_key(tenant, carrier, utc_day(now)),
                ConsistentRead=True,
                ReturnConsumedCapacity="TOTAL",
            )
        self.meter.add_read(answer)
        return int(answer.get("Item", {}).get("used", {}).get("N", "0"))


class Allowance:
    """Requests a poller may still make for one (tenant, carrier) today, reserved from the
    :class:`Budget` in blocks (one write per block, not per request); :meth:`release`
    gives back what was reserved and not used. Thread-safe; one per poll pass."""

    def __init__(
        self,
        budget: Budget,
        tenant: str,
        carrier: str,
        limit: int,
        now: datetime,
        block: int = 10,
    ) -> None:
        self.budget, self.tenant, self.carrier = budget, tenant, carrier
        self.limit, self.now, self.block = limit, now, max(1, block)
        self.left = 0
        self.spent = False
        self._lock = threading.Lock()

    def __call__(self) -> bool:
        """Take one request; False when today's budget is spent."""
        with self._lock:
            if self.left == 0 and not self.spent:
                self._reserve()
            if self.left == 0:
                return False
            self.left -= 1
            return True

    def _reserve(self) -> None:
        """A block; when it does not fit, what is left of the budget (read, then spent)."""
        size = self.block
        if not self.budget.spend(self.tenant, self.carrier, size, self.limit, self.now):
            rest = self.limit - self.budget.used(self.tenant, self.carrier, self.now)
            size = min(self.block, rest)
            if size <= 0 or not self.budget.spend(
                self.tenant, self.carrier, size, self.limit, self.now
            ):
                self.spent = True
                return
        self.left = size

    def release(self) -> None:
        """Give back what is reserved and unused."""
        with self._lock:
            left, self.left = self.left, 0
        self.budget.give_back(self.tenant, self.carrier, left, self.now)
