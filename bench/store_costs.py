"""Measured write and read units per ingest scenario, on Amazon DynamoDB Local.

Run: ``.venv/bin/python -m bench.store_costs``. One row per scenario and unit (section
``units``); the bounds are the ones asserted in
tests/integration/test_store_dynamodb_local.py and stated in README.md: a new ~1 KB
event that keeps the status costs ≤ 2 WCU, a retried delivery 0, a full-history resend
of N known + k new events k + 1 (0 when nothing is new), and each delivery reads 1 RCU
(the strongly consistent state read).
"""

from __future__ import annotations

from datetime import UTC, datetime

from bench.report import Measure, print_rows
from gateway.local.dynamodb_local import DynamoDBLocal
from gateway.local.wiring import local_dynamodb
from gateway.store.capacity import CapacityMeter, item_bytes
from gateway.store.codec import event_item
from gateway.store.dynamo import DynamoStore
from gateway.store.table import ensure_table
from gateway.testkit.events import make_event

NOW = datetime.now(UTC)
SECTION = "units"
TABLE = "bench-costs"
RESEND_KNOWN = (1, 10, 29)
RESEND_NEW = (0, 1, 3)


def _scenario(
    store: DynamoStore, label: str, number: str, history: range, new: range, target: float
) -> list[Measure]:
    """Store ``history``, then measure one delivery of history + ``new`` (and its retry)."""
    known = [make_event(i, tracking_number=number) for i in history]
    if known:
        store.record(known, delivery_key=f"{number}-h", now=NOW, retention_days=90)
    fresh = [make_event(i, tracking_number=number, text_bytes=490) for i in new]
    rows: list[Measure] = []
    for name, bound in ((label, target), (f"{label}, retried", 0.0)):
        store.meter.reset()
        store.record(known + fresh, delivery_key=f"{number}-d", now=NOW, retention_days=90)
        rows.append(Measure(SECTION, f"store: {name}", store.meter.write_units, "WCU", bound))
        rows.append(Measure(SECTION, f"store: {name}", store.meter.read_units, "RCU", 1.0))
        if not label.startswith("new"):
            break  # a resend's retry is the "retried" row of the new-event scenarios
    return rows


def measure() -> list[Measure]:
    """Each scenario on a fresh shipment of a fresh in-memory DynamoDB Local."""
    size = item_bytes(event_item(make_event(0, text_bytes=490), 1))
    rows = [Measure(SECTION, "store: event item of a ~1 KB event", size, "B", 1024.0)]
    with DynamoDBLocal(in_memory=True) as ddb:
        client = local_dynamodb(ddb.endpoint_url)
        ensure_table(client, TABLE)
        store = DynamoStore(client, TABLE, CapacityMeter())
        rows += _scenario(store, "new 1 KB event, first of shipment", "B1", range(0), range(1), 3)
        rows += _scenario(
            store, "new 1 KB event, 30th, status kept", "B2", range(29), range(29, 30), 2
        )
        for known in RESEND_KNOWN:
            for new in RESEND_NEW:
                rows += _scenario(
                    store,
                    f"full-history resend, N={known} known + k={new} new",
                    f"R{known}-{new}",
                    range(known),
                    range(known, known + new),
                    float(new + 1 if new else 0),
                )
    return rows


def main() -> None:
    """Print the rows."""
    print_rows(measure())


if __name__ == "__main__":
    main()
