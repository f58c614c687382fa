"""Write-path scenarios the integration tests and the benchmarks share: a long history, one
billed delivery, and a k-way race of identical deliveries, each copy with its own meter.

Units are what AWS would bill: what the engine reports plus the conditional writes that
failed (:attr:`~gateway.store.capacity.CapacityMeter.billed_write_units`).
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from gateway.models import CanonicalEvent
from gateway.store.capacity import CapacityMeter
from gateway.store.dynamo import DynamoStore
from gateway.testkit.events import make_event

EVENT_TEXT_BYTES = 490  # makes an event item of 900-1,024 bytes: one write unit
BUILD_BATCH = 25


def events_of(number: str, indexes: range) -> list[CanonicalEvent]:
    """The ``indexes``-th scans of shipment ``number``, ~1 KB each."""
    return [make_event(i, tracking_number=number, text_bytes=EVENT_TEXT_BYTES) for i in indexes]


def billed(store: DynamoStore, events: list[CanonicalEvent], key: str, now: datetime) -> float:
    """Record one delivery; the write units AWS would bill for it."""
    store.meter.reset()
    store.record(events, delivery_key=key, now=now, retention_days=30)
    return store.meter.billed_write_units


def build_history(store: DynamoStore, number: str, size: int, now: datetime) -> None:
    """Give shipment ``number`` a history of ``size`` events, 25 per delivery."""
    known = events_of(number, range(size))
    for start in range(0, size, BUILD_BATCH):
        billed(store, known[start : start + BUILD_BATCH], f"build-{start}", now)


def race(
    client: Any, table: str, events: list[CanonicalEvent], copies: int, now: datetime
) -> list[CapacityMeter]:
    """``copies`` identical deliveries at once, each through its own store; their meters.

    Raises the first failure of any copy (a race must never fail a delivery).
    """
    meters = [CapacityMeter() for _ in range(copies)]
    stores = [DynamoStore(client, table, meter) for meter in meters]
    barrier = threading.Barrier(copies)
    failures: list[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=60)
            stores[index].record(events, delivery_key="same", now=now, retention_days=30)
        except BaseException as exc:  # re-raised below
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(copies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    if failures:
        raise failures[0]
    if any(thread.is_alive() for thread in threads):
        raise TimeoutError(f"a copy of the {copies}-way race did not finish in 120 s")
    return meters
