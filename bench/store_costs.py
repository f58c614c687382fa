"""Measured write and read units per ingest scenario, on Amazon DynamoDB Local.

Run: ``make bench`` (or ``.venv/bin/python -m bench.store_costs``). Prints a table;
the same bounds are asserted in tests/integration/test_store_dynamodb_local.py.
"""

from __future__ import annotations

from datetime import UTC, datetime

from gateway.local.dynamodb_local import DynamoDBLocal
from gateway.local.wiring import local_dynamodb
from gateway.store import CapacityMeter, DynamoStore, ensure_table
from gateway.store.capacity import item_bytes
from gateway.store.codec import event_item
from tests.support.events import make_event

NOW = datetime.now(UTC)


def main() -> None:
    """Measure each scenario on a fresh shipment and print one row per scenario."""
    with DynamoDBLocal(in_memory=True) as ddb:
        client = local_dynamodb(ddb.endpoint_url)
        ensure_table(client, "bench-costs")
        store = DynamoStore(client, "bench-costs", CapacityMeter())
        rows: list[tuple[str, float, float]] = []

        def measure(label: str, number: str, history: list[int], new: list[int]) -> None:
            known = [make_event(i, tracking_number=number) for i in history]
            if known:
                store.record(known, delivery_key=f"{number}-h", now=NOW, retention_days=90)
            fresh = [make_event(i, tracking_number=number, text_bytes=490) for i in new]
            store.meter.reset()
            store.record(known + fresh, delivery_key=f"{number}-d", now=NOW, retention_days=90)
            rows.append((label, store.meter.write_units, store.meter.read_units))
            if label.startswith("new"):
                store.meter.reset()
                store.record(known + fresh, delivery_key=f"{number}-d", now=NOW, retention_days=90)
                rows.append(
                    ("the same delivery retried", store.meter.write_units, store.meter.read_units)
                )

        measure("new ~1 KB event, first of a shipment", "B1", [], [0])
        measure("new ~1 KB event, 30th of a shipment", "B2", list(range(29)), [29])
        for known in (1, 10, 29):
            for new in (0, 1, 3):
                measure(
                    f"full-history resend, N={known} known + k={new} new",
                    f"R{known}-{new}",
                    list(range(known)),
                    list(range(known, known + new)),
                )
        size = item_bytes(event_item(make_event(0, text_bytes=490), 1))
        print(f"event item: {size} bytes")
        print(f"{'scenario':<46} {'WCU':>5} {'RCU':>5}")
        for label, writes, reads in rows:
            print(f"{label:<46} {writes:>5.1f} {reads:>5.1f}")


if __name__ == "__main__":
    main()
