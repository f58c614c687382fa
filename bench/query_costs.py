"""Measured read units per query, and the status index's write units, on DynamoDB Local.

Run: ``.venv/bin/python -m bench.query_costs``. Prints two tables (units as DynamoDB
reports them with ``ReturnConsumedCapacity=INDEXES``); docs/queries.md quotes them and
tests/integration/test_query_costs_dynamodb_local.py asserts the bounds.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gateway.handler import make_handler
from gateway.local.dynamodb_local import DynamoDBLocal
from gateway.local.wiring import local_dynamodb
from gateway.models import CanonicalEvent, Status
from gateway.services import build_services
from gateway.store import ensure_table
from tests.support.capacity import IndexCapacity
from tests.support.events import make_event
from tests.support.gateway import TENANTS_DIR, DictSecrets, Harness

NOW = datetime.now(UTC).replace(microsecond=0)
TABLE = "bench-queries"
OFD = Status.OUT_FOR_DELIVERY
SHARED = "/v1/shipments/EZ1000000001"

# (label, events of shipment W1 as (index, status), delivery key)
WRITES = [
    ("first ~1 KB event of a new shipment", [(0, Status.IN_TRANSIT)], "w1"),
    ("next event, same status", [(1, Status.IN_TRANSIT)], "w2"),
    ("next event, status changes", [(2, OFD)], "w3"),
    ("the same delivery retried", [(2, OFD)], "w3"),
]
# (label, URL, If-None-Match: the shipment's current ETag)
READS = [
    ("GET shipment, 1 carrier, 1 event", "/v1/shipments/ONE", False),
    ("GET shipment, 2 carriers x 30 events", SHARED, False),
    ("  the same, If-None-Match -> 304", SHARED, True),
    ("events, 60 of 0.2-1 KB, limit 100", f"{SHARED}/events", False),
    ("events, carrier=easypost (30 of ~1 KB)", f"{SHARED}/events?carrier=easypost", False),
    ("events, limit 10", f"{SHARED}/events?limit=10", False),
    ("locations, 60 points, limit 100", f"{SHARED}/locations", False),
    ("search status=in_transit, limit 20", "/v1/shipments?status=in_transit&limit=20", False),
    ("search status=in_transit, limit 100", "/v1/shipments?status=in_transit&limit=100", False),
    ("search, no status, limit 20", "/v1/shipments?limit=20", False),
    ("search, carrier matching none (200 read)", "/v1/shipments?carrier=fedex", False),
]


def record(gw: Harness, events: list[CanonicalEvent], key: str, at: datetime = NOW) -> None:
    """Store one delivery."""
    gw.services.store.record(events, delivery_key=key, now=at, retention_days=90)


def main() -> None:
    """Measure each write, seed shipments, measure each read; print both tables."""
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
        rows: dict[str, list[tuple[str, float, float]]] = {"write": [], "read": []}
        for label, scans, key in WRITES:
            events = [
                make_event(i, tracking_number="W1", status=s, text_bytes=490) for i, s in scans
            ]
            meter.reset()
            record(gw, events, key)
            rows["write"].append(
                (label, meter.units["write", "table"], meter.units["write", "index"])
            )

        record(gw, [make_event(i, text_bytes=490) for i in range(30)], "h30")
        record(gw, [make_event(i, carrier="aftership") for i in range(30)], "h30b")
        record(gw, [make_event(0, tracking_number="ONE")], "one")
        for n in range(200):
            event = make_event(0, tracking_number=f"Q{n:03d}", text_bytes=490)
            record(gw, [event], f"q{n}", NOW + timedelta(seconds=n))
        tag = gw.call("GET", SHARED, tenant="acme").headers["ETag"]
        for label, url, conditional in READS:
            meter.reset()
            headers = {"If-None-Match": tag} if conditional else {}
            assert gw.call("GET", url, tenant="acme", headers=headers).status in (200, 304)
            rows["read"].append((label, meter.units["read", "table"], meter.units["read", "index"]))

        for kind, measured in rows.items():
            print(f"{kind + 's':<44} {'table':>6} {'index':>6}")
            for label, table, index in measured:
                print(f"{label:<44} {table:>6.1f} {index:>6.1f}")
            print()


if __name__ == "__main__":
    main()
