"""Audit costs and erasure against Amazon DynamoDB Local (real ConsumedCapacity)."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gateway.audit.outcomes import AuditEvent
from gateway.audit.provenance import provenance
from gateway.audit.query import read_audit
from gateway.audit.windows import DynamoAudit
from gateway.store.capacity import CapacityMeter
from gateway.store.dynamo import DynamoStore
from gateway.store.erase import erase_shipment
from gateway.store.parked import ParkedDelivery, ParkingLot
from gateway.tenancy.tenants import TenantConfig
from gateway.testkit.events import make_event

pytestmark = pytest.mark.integration

# "Now", not a fixed date: DynamoDB Local's TTL sweeper deletes items already expired.
NOW = datetime.now(UTC).replace(second=10, microsecond=0)
ACME = TenantConfig(id="acme", name="Acme", retention_days=30, carriers={"easypost": {}})


def test_no_outcome_costs_a_write_per_request(client: Any, table: str) -> None:
    """Accepted deliveries are counted in windows like every other outcome (no item each)."""
    name = table
    clock = [NOW]
    audit = DynamoAudit(client, name, {"acme": ACME}.get, clock=lambda: clock[0])
    for outcome, code in (("accepted", "events"), ("duplicate", "delivery")):
        audit.meter.reset()
        for _ in range(100):  # a storm, flushed at the end of each invocation
            audit.record(AuditEvent("acme", outcome, NOW, code=code, carrier="easypost"))
            audit.flush()
        assert audit.meter.write_units == 1.0, outcome  # the window's first occurrence only
    clock[0] = NOW + timedelta(minutes=1)
    audit.meter.reset()
    audit.flush()
    assert audit.meter.write_units == 2.0  # and each window's final count, once it closed

    listed = read_audit(client, name, "acme", since=NOW - timedelta(hours=1), now=clock[0])
    assert sorted((r.outcome, r.count) for r in listed) == [("accepted", 100), ("duplicate", 100)]
    assert audit.meter.read_units == 0  # reads are metered by read_audit's own meter


def test_every_event_names_the_delivery_that_brought_it(client: Any, table: str) -> None:
    store = DynamoStore(client, table, CapacityMeter())
    first, second = hashlib.sha256(b"one").hexdigest(), hashlib.sha256(b"two").hexdigest()
    events = [make_event(i, tracking_number="EZPROV000001") for i in range(3)]
    store.record(events[:2], delivery_key="d1", now=NOW, retention_days=30, body_sha256=first)
    store.record(events, delivery_key="d2", now=NOW, retention_days=30, body_sha256=second)
    found = provenance(client, table, "acme", "EZPROV000001", now=NOW)
    assert [p.event_id for p in found] == [e.event_id for e in events]
    assert [p.body_sha256 for p in found] == [first[:32], first[:32], second[:32]]
    assert all(p.received_at == events[0].received_at for p in found)


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
