"""What the query API reads, through the handler on Amazon DynamoDB Local (read units
measured with ReturnConsumedCapacity=INDEXES; docs/queries.md quotes these bounds)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gateway.api.app import make_handler
from gateway.models import Status
from gateway.services import build_services
from gateway.testkit.capacity import IndexCapacity
from gateway.testkit.events import make_event
from gateway.testkit.harness import TENANTS_DIR, DictSecrets, Harness

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0)
NUMBER = "EZ1000000001"


@pytest.fixture
def world(client: Any, table: str) -> Iterator[tuple[Harness, IndexCapacity]]:
    meter = IndexCapacity(client)
    services = build_services(
        dynamodb=meter,
        table_name=table,
        tenants_dir=TENANTS_DIR,
        secrets=DictSecrets(),
        count=lambda name, value=1: None,
        clock=lambda: NOW,
    )
    yield Harness(make_handler(services), services, DictSecrets(), {}), meter


def record(gw: Harness, events: list[Any], key: str, at: datetime = NOW) -> None:
    gw.services.store.record(events, delivery_key=key, now=at, retention_days=90)


def reads(meter: IndexCapacity) -> tuple[float, float]:
    return meter.units["read", "table"], meter.units["read", "index"]


def test_the_shipment_get_is_one_strongly_consistent_read_of_one_unit(
    world: tuple[Harness, IndexCapacity],
) -> None:
    gw, meter = world
    record(gw, [make_event(i, text_bytes=490) for i in range(30)], "d-30")
    record(gw, [make_event(i, carrier="aftership") for i in range(30)], "d-other")
    meter.reset()
    reply = gw.call("GET", f"/v1/shipments/{NUMBER}", tenant="acme")
    assert reply.status == 200 and [s["event_count"] for s in reply.body["shipments"]] == [30, 30]
    assert meter.operations == ["query"]
    assert reads(meter) == (1.0, 0.0)  # two carriers' states of 30 events: under 4 KB
    meter.reset()
    again = gw.call(
        "GET",
        f"/v1/shipments/{NUMBER}",
        tenant="acme",
        headers={"If-None-Match": reply.headers["ETag"]},
    )
    assert again.status == 304 and reads(meter) == (1.0, 0.0)  # a 304 reads the same


def test_a_history_page_of_30_1kb_events_reads_8_units(
    world: tuple[Harness, IndexCapacity],
) -> None:
    gw, meter = world
    record(gw, [make_event(i, text_bytes=490) for i in range(30)], "d-30")
    meter.reset()
    page = gw.call("GET", f"/v1/shipments/{NUMBER}/events", tenant="acme").body
    assert len(page["events"]) == 30 and page["next_cursor"] is None
    assert meter.operations == ["query"] and reads(meter) == (8.0, 0.0)
    meter.reset()
    trail = gw.call("GET", f"/v1/shipments/{NUMBER}/locations", tenant="acme").body
    assert len(trail["locations"]) == 30 and reads(meter) == (8.0, 0.0)


def test_a_search_page_reads_the_shards_and_half_a_unit_per_shipment(
    world: tuple[Harness, IndexCapacity],
) -> None:
    gw, meter = world
    for n in range(60):
        event = make_event(0, tracking_number=f"Q{n:03d}", text_bytes=490)
        record(gw, [event], f"d-{n}", NOW + timedelta(seconds=n))
    meter.reset()
    page = gw.call("GET", "/v1/shipments?status=in_transit&limit=20", tenant="acme").body
    assert len(page["shipments"]) == 20 and page["next_cursor"]
    table, index = reads(meter)
    assert table == 10.0  # BatchGetItem: 20 states, eventually consistent, 0.5 each
    assert index <= 4.0  # 8 shard queries of ~100-byte entries, 0.5 each
    meter.reset()
    everything = gw.call("GET", "/v1/shipments?limit=20", tenant="acme").body
    assert len(everything["shipments"]) == 20
    table, index = reads(meter)
    assert table == 10.0 and index <= 48.0  # every status: 96 partitions, 0.5 each
    assert meter.operations.count("query") == 12 * 8


def test_no_read_path_uses_scan(world: tuple[Harness, IndexCapacity]) -> None:
    gw, _ = world  # the wrapped client raises on Scan: every endpoint answers without it
    record(gw, [make_event(0, status=Status.DELIVERED)], "d-0")
    for url in (
        f"/v1/shipments/{NUMBER}",
        f"/v1/shipments/{NUMBER}/events",
        f"/v1/shipments/{NUMBER}/locations",
        "/v1/shipments?status=delivered",
        "/v1/shipments?updated_since=2000-01-01T00:00:00Z",
    ):
        assert gw.call("GET", url, tenant="acme").status == 200, url
