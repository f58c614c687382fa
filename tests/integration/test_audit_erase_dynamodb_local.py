"""Audit costs and erasure against Amazon DynamoDB Local (real ConsumedCapacity)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gateway.audit.outcomes import AuditEvent
from gateway.audit.query import read_audit
from gateway.audit.windows import DynamoAudit, request_item
from gateway.store.capacity import CapacityMeter, item_bytes
from gateway.store.dynamo import DynamoStore
from gateway.store.erase import erase_shipment
from gateway.store.parked import ParkedDelivery, ParkingLot
from gateway.tenancy.tenants import TenantConfig
from gateway.testkit.events import make_event

pytestmark = pytest.mark.integration

# "Now", not a fixed date: DynamoDB Local's TTL sweeper deletes items already expired.
NOW = datetime.now(UTC).replace(second=10, microsecond=0)
ACME = TenantConfig(id="acme", name="Acme", retention_days=30, carriers={"easypost": {}})


def test_audit_write_units_per_outcome(client: Any, table: str) -> None:
    name = table
    clock = [NOW]
    audit = DynamoAudit(client, name, {"acme": ACME}.get, clock=lambda: clock[0])
    numbers = tuple(f"9400100000000000{i:06d}" for i in range(10))
    accepted = AuditEvent(
        "acme",
        "accepted",
        NOW,
        carrier="easypost",
        itemised=True,
        accepted=3,
        duplicates=27,
        request_id=str(uuid.uuid4()),
        tracking_numbers=numbers,
        more_tracking_numbers=5,
    )
    assert item_bytes(request_item(accepted, "easypost", 1)) < 1024
    audit.record(accepted)
    audit.flush()
    assert audit.meter.write_units == 1.0  # one accepted delivery: one unit

    audit.meter.reset()
    for _ in range(100):  # a duplicate storm, flushed at the end of each invocation
        audit.record(AuditEvent("acme", "duplicate", NOW, code="delivery", carrier="easypost"))
        audit.flush()
    assert audit.meter.write_units == 1.0  # the window's first occurrence only
    clock[0] = NOW + timedelta(minutes=1)
    audit.flush()
    assert audit.meter.write_units == 2.0  # and its final count once the minute is over

    listed = read_audit(client, name, "acme", since=NOW - timedelta(hours=1), now=clock[0])
    assert [(r.outcome, r.count) for r in listed] == [("accepted", 1), ("duplicate", 100)]
    assert audit.meter.read_units == 0  # reads are metered by read_audit's own meter


def test_erasure_on_dynamodb_local(client: Any, table: str) -> None:
    name = table
    meter = CapacityMeter()
    store, parking = DynamoStore(client, name, meter), ParkingLot(client, name, meter)
    number = "EZERASE000001"
    history = [make_event(i, tracking_number=number) for i in range(5)]
    store.record(history, delivery_key="d1", now=NOW, retention_days=30)
    store.record(
        [make_event(0, tracking_number="EZKEEP000001")],
        delivery_key="d2",
        now=NOW,
        retention_days=30,
    )
    for raw in (f'{{"tracking_code": "{number}"}}', '{"tracking_code": "EZKEEP000001"}'):
        body = raw.encode()
        parking.park(
            ParkedDelivery("acme", "easypost", uuid.uuid4().hex, body, {}, "ParseError", NOW),
            retention_days=30,
        )
    meter.reset()
    done = erase_shipment(client, name, "acme", number, meter=meter)
    assert (done.states, done.events, done.parked) == (1, 5, 1)
    # one unit per deleted item (all under 1 KB), and one for the state's status-index entry
    assert meter.write_units == 8.0
    assert store.get_shipments("acme", number, NOW) == []
    assert store.list_events("acme", number, now=NOW)[0] == []
    assert [p.body for p in parking.list("acme")] == [b'{"tracking_code": "EZKEEP000001"}']
    assert len(store.list_events("acme", "EZKEEP000001", now=NOW)[0]) == 1
