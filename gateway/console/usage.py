"""What the tenants pages add to the console's reads: a tenant's usage as its quota counts
it, and the month's modeled cost, kept a few minutes per process (:class:`CostCache`)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from gateway.costs.attribution import TenantCost

COST_SECONDS = 300.0
"""How long a process keeps a month's modeled cost (:class:`CostCache`)."""


@dataclass(frozen=True)
class Usage:
    """A tenant's requests as its quota and hard cap count them: keyed ``/v1`` calls and
    verified deliveries, summed over the counter's shards as flushed to the table (each
    process holds back up to ``flush_every - 1`` requests or ``flush_seconds``)."""

    today: int = 0
    month: int = 0


@dataclass(frozen=True)
class MonthCost:
    """The month's modeled cost of every tenant, and when it was computed."""

    costs: Mapping[str, TenantCost]
    as_of: datetime


class CostCache:
    """The month's modeled cost per (table, month, tenants), kept ``seconds`` in this
    process (a Lambda container, or ``waybill serve``): the first page load of a month
    reads its windows, the next ones within ``seconds`` read nothing.

    Its clock is the page's: ``get`` is given ``now`` (the console's ``Services.clock``).
    A cost is at most ``seconds`` old; the page says when it was computed.

    >>> from datetime import UTC
    >>> cache, at = CostCache(seconds=60), datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
    >>> cache.get(("t", "2026-12", ()), at, lambda: []).as_of == at
    True
    >>> cache.get(("t", "2026-12", ()), at + timedelta(seconds=59), list).as_of == at
    True
    >>> cache.get(("t", "2026-12", ()), at + timedelta(seconds=60), list).as_of == at
    False
    """

    def __init__(self, seconds: float = COST_SECONDS) -> None:
        self.ttl = timedelta(seconds=seconds)
        self._kept: dict[tuple[Any, ...], MonthCost] = {}
        self._lock = threading.Lock()

    def get(
        self, key: tuple[Any, ...], now: datetime, compute: Callable[[], list[TenantCost]]
    ) -> MonthCost:
        """The cost kept under ``key`` if computed in the last ``seconds``, else
        ``compute()``'s, kept from ``now`` (concurrent pages wait for one computation)."""
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None and kept.as_of <= now < kept.as_of + self.ttl:
                return kept
            fresh = MonthCost({c.tenant: c for c in compute()}, now)
            self._kept = {k: v for k, v in self._kept.items() if now < v.as_of + self.ttl}
            self._kept[key] = fresh
            return fresh


PROCESS_COSTS = CostCache()
"""The console's cache: one per process, shared by every request's :class:`Reads`."""
