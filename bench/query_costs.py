"""Measured read units per query, and the status index's write units, on DynamoDB Local.

Run: ``.venv/bin/python -m bench.query_costs``. Units as DynamoDB reports them with
``ReturnConsumedCapacity=INDEXES`` (section ``units``); each row's target is the figure
docs/queries.md states, asserted by tests/integration/test_query_costs_dynamodb_local.py.
The no-status search's target is the AWS bound (DynamoDB Local charges nothing for an
empty Query; AWS charges 0.5 each).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bench.report import Measure, print_rows
from gateway.api.app import make_handler
from gateway.local.dynamodb_local import DynamoDBLocal
from gateway.local.wiring import local_dynamodb
from gateway.models import CanonicalEvent, Status
from gateway.services import build_services
from gateway.store.table import ensure_table
from gateway.testkit.capacity import IndexCapacity
from gateway.testkit.events import make_event
from gateway.testkit.harness import TENANTS_DIR, DictSecrets, Harness

NOW = datetime.now(UTC).replace(microsecond=0)
TABLE = "bench-queries"
SECTION = "units"
OFD = Status.OUT_FOR_DELIVERY
SHARED = "/v1/shipments/EZ1000000001"

# (label, events of shipment W1 as (index, status), delivery key, target WCU)
WRITES = [
    ("first ~1 KB event of a new shipment", [(0, Status.IN_TRANSIT)], "w1", 3.0),
    ("next event, same status", [(1, Status.IN_TRANSIT)], "w2", 2.0),
    ("next event, status changes", [(2, OFD)], "w3", 4.0),
    ("the same delivery retried", [(2, OFD)], "w3", 0.0),
]
# (label, URL, If-None-Match: the shipment's current ETag, target RCU)
READS = [
    ("GET shipment, 1 carrier, 1 event", "/v1/shipments/ONE", False, 1.0),
    ("GET shipment, 2 carriers x 30 events", SHARED, False, 1.0),
    ("  the same, If-None-Match -> 304", SHARED, True, 1.0),
    ("events, 60 of 0.2-1 KB, limit 100", f"{SHARED}/events", False, 12.0),
    ("events, carrier=easypost (30 of ~1 KB)", f"{SHARED}/events?carrier=easypost", False, 12.0),
    ("events, limit 10", f"{SHARED}/events?limit=10", False, 3.0),
    ("locations, 60 points, limit 100", f"{SHARED}/locations", False, 12.0),
    ("search status=in_transit, limit 20", "/v1/shipments?status=in_transit&limit=20", False, 14.0),
    (
        "search status=in_transit, limit 100",
        "/v1/shipments?status=in_transit&limit=100",
        False,
        54.0,
    ),
    ("search, no status, limit 20", "/v1/shipments?limit=20", False, 58.0),
    ("search, carrier matching none (200 read)", "/v1/shipments?carrier=fedex", False, 4.5),
]


def record(gw: Harness, events: list[CanonicalEvent], key: str, at: datetime = NOW) -> None:
    """Store one delivery."""
    gw.services.store.record(events, delivery_key=key, now=at, retention_days=90)


def _row(label: str, meter: IndexCapacity, kind: str, unit: str, target: float) -> Measure:
    table, index = meter.units[kind, "table"], meter.units[kind, "index"]
    note = f"table {table:g} + index {index:g}"
    return Measure(SECTION, f"query: {label.strip()}", table + index, unit, target, note)


def _seed(gw: Harness) -> None:
    """Two carriers' 30-event histories of one number, one small shipment, 200 to search."""
    record(gw, [make_event(i, text_bytes=490) for i in range(30)], "h30")
    record(gw, [make_event(i, carrier="aftership") for i in range(30)], "h30b")
    record(gw, [make_event(0, tracking_number="ONE")], "one")
    for n in range(200):
        event = make_event(0, tracking_number=f"Q{n:03d}", text_bytes=490)
        record(gw, [event], f"q{n}", NOW + timedelta(seconds=n))


def measure() -> list[Measure]:
    """Measure each write, seed shipments, measure each read."""
    rows: list[Measure] = []
    with DynamoDBLocal(in_memory=True) as ddb:
        client = local_dynamodb(ddb.endpoint_url)
        ensure_table(client, TABLE)
        meter = IndexCapacity(client)
        services = build_services(
            dynamodb=meter,
            table_name=TABLE,
            tenants_dir=TENANTS_DIR,
            secrets=DictSecrets(),
            count=lambda name, value=1: None,
            clock=lambda: NOW,
        )
        gw = Harness(make_handler(services), services, DictSecrets(), {})
        for label, scans, key, target in WRITES:
            events = [
                make_event(i, tracking_number="W1", status=s, text_bytes=490) for i, s in scans
            ]
            meter.reset()
            record(gw, events, key)
            rows.append(_row(label, meter, "write", "WCU", target))
        _seed(gw)
        tag = gw.call("GET", SHARED, tenant="acme").headers["ETag"]
        for label, url, conditional, target in READS:
            meter.reset()
            headers = {"If-None-Match": tag} if conditional else {}
            assert gw.call("GET", url, tenant="acme", headers=headers).status in (200, 304)
            rows.append(_row(label, meter, "read", "RCU", target))
    return rows


def main() -> None:
    """Print the rows."""
    print_rows(measure())


if __name__ == "__main__":
    main()
