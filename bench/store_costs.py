"""Measured write and read units of the write path, on Amazon DynamoDB Local.

Run: ``.venv/bin/python -m bench.store_costs``. Write units are what AWS would bill: the
units the engine reports plus one per failed conditional write (DynamoDB Local reports
nothing for those; the store's meter counts them from the condition failures). Section
``units``; the bounds are the ones asserted in
tests/integration/test_write_costs_dynamodb_local.py: a new ~1 KB event ≤ 3 WU (2 while the
status is kept; 3 when the bounded state spills its oldest fingerprints to a page), a retry
0, a full-history resend of N known + k new events ≤ k + 2, GET shipment 1 RCU at any
history length, and a k-way race of identical deliveries ≤ 1.2 times (one delivery + k - 1
failed writes).
"""

from __future__ import annotations

import statistics
from datetime import UTC, datetime
from typing import Any

from bench.report import Measure, print_rows
from gateway.local.dynamodb_local import DynamoDBLocal
from gateway.local.wiring import local_dynamodb
from gateway.models import Status
from gateway.store.capacity import CapacityMeter, item_bytes
from gateway.store.codec import event_item
from gateway.store.dynamo import DynamoStore
from gateway.store.table import ensure_table
from gateway.testkit.events import make_event
from gateway.testkit.writes import EVENT_TEXT_BYTES, billed, build_history, events_of, race

NOW = datetime.now(UTC).replace(microsecond=0)
SECTION = "units"
TABLE = "bench-costs"
HISTORIES = (10, 100, 300, 1000)
NEW_EVENTS = 40  # per history: enough to see the spills (one in a few dozen)
RESEND_NEW = (0, 1, 3)
RACES = (2, 10, 50)
RACE_EVENTS = (1, 10)


def _history_rows(store: DynamoStore, size: int) -> list[Measure]:
    """A shipment of ``size`` events: new events one by one, a retry, resends, reads."""
    number = f"H{size:05d}"
    build_history(store, number, size, NOW)
    label = f"history {size}"
    new = events_of(number, range(size, size + NEW_EVENTS))
    costs, reads = [], []
    for i, event in enumerate(new):
        costs.append(billed(store, [event], f"new-{i}", NOW))
        reads.append(store.meter.read_units)
    spills = sum(cost > 2 for cost in costs)
    note = f"{NEW_EVENTS} new events; {spills} spilled a page"
    rows = [
        Measure(SECTION, f"{label}: new event, median", statistics.median(costs), "WU", 2.0, note),
        Measure(SECTION, f"{label}: new event, max", max(costs), "WU", 3.0, note),
        Measure(SECTION, f"{label}: new event, mean", statistics.fmean(costs), "WU", None, note),
        Measure(SECTION, f"{label}: write path read", max(reads), "RCU", None, "state + pages"),
        Measure(SECTION, f"{label}: retry", billed(store, [new[-1]], "new-39", NOW), "WU", 0.0),
    ]
    known = events_of(number, range(size)) + new
    for k in RESEND_NEW:
        fresh = events_of(number, range(size + 100 + 10 * k, size + 100 + 11 * k))
        cost = billed(store, known + fresh, f"resend-{k}", NOW)
        name = f"{label}: resend, {len(known)} known + {k} new"
        rows.append(Measure(SECTION, name, cost, "WU", float(k + 2)))
        known += fresh
    store.meter.reset()
    store.get_shipments("acme", number, NOW)
    rows.append(Measure(SECTION, f"{label}: GET shipment", store.meter.read_units, "RCU", 1.0))
    return rows


def _race_rows(client: Any, store: DynamoStore) -> list[Measure]:
    """k identical deliveries at once against one delivery alone plus k - 1 failed writes."""
    rows = []
    for events in RACE_EVENTS:
        alone = billed(store, events_of(f"ALONE{events}", range(events)), "alone", NOW)
        for copies in RACES:
            delivery = events_of(f"RACE{copies}X{events}", range(events))
            meters = race(client, TABLE, delivery, copies, NOW)
            total = sum(meter.billed_write_units for meter in meters)
            failed = sum(meter.failed_write_units for meter in meters)
            bound = alone + copies - 1
            note = f"{total:g} WU ({failed:g} failed) vs one delivery {alone:g} + {copies - 1}"
            name = f"{copies}-way race, {events} event(s): billed / bound"
            rows.append(Measure(SECTION, name, total / bound, "x", 1.2, note))
    return rows


def measure() -> list[Measure]:
    """Every scenario on its own shipments of one fresh in-memory DynamoDB Local."""
    size = item_bytes(event_item(make_event(0, text_bytes=EVENT_TEXT_BYTES), 1, "00" * 32))
    rows = [Measure(SECTION, "event item of a ~1 KB event", size, "B", 1024.0)]
    with DynamoDBLocal(in_memory=True) as ddb:
        client = local_dynamodb(ddb.endpoint_url)
        ensure_table(client, TABLE)
        store = DynamoStore(client, TABLE, CapacityMeter())
        first = billed(store, events_of("FIRST", range(1)), "first", NOW)
        rows.append(Measure(SECTION, "first event of a shipment", first, "WU", 3.0))
        build_history(store, "MOVE", 5, NOW)
        moved = make_event(
            5, tracking_number="MOVE", text_bytes=EVENT_TEXT_BYTES, status=Status.DELIVERED
        )
        note = "event, state, index entry deleted and put"
        cost = billed(store, [moved], "move", NOW)
        rows.append(Measure(SECTION, "new event that changes the status", cost, "WU", 3.0, note))
        for history in HISTORIES:
            rows += _history_rows(store, history)
        rows += _race_rows(client, store)
    return rows


def main() -> None:
    """Print the rows."""
    print_rows(measure())


if __name__ == "__main__":
    main()
