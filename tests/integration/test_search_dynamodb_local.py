"""The sharded status index on Amazon DynamoDB Local: its shape, what it costs to keep
(index write units measured with ReturnConsumedCapacity=INDEXES), and search over it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gateway.local.dynamodb_local import DynamoDBLocal
from gateway.local.wiring import local_dynamodb
from gateway.models import Status
from gateway.store.capacity import CapacityMeter
from gateway.store.dynamo import DynamoStore
from gateway.store.index import INDEX_NAME, INDEX_PK, INDEX_SK, SEARCH_SHARDS, index_keys
from gateway.store.shipment import read_shipment
from gateway.store.state import compose
from gateway.store.table import ATTRIBUTES, KEY_SCHEMA, ensure_table
from gateway.testkit.capacity import IndexCapacity
from gateway.testkit.events import make_event

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0)  # TTL really runs on DynamoDB Local


@pytest.fixture
def meter(client: Any) -> IndexCapacity:
    return IndexCapacity(client)


@pytest.fixture
def store(meter: IndexCapacity, table: str) -> DynamoStore:
    return DynamoStore(meter, table, CapacityMeter())


def record(store: DynamoStore, events: list[Any], key: str, at: datetime = NOW) -> None:
    store.record(events, delivery_key=key, now=at, retention_days=90)


def test_the_table_has_a_keys_only_index_on_the_status_keys(client: Any, table: str) -> None:
    indexes = client.describe_table(TableName=table)["Table"]["GlobalSecondaryIndexes"]
    (index,) = [i for i in indexes if i["IndexName"] == INDEX_NAME]
    assert [(k["AttributeName"], k["KeyType"]) for k in index["KeySchema"]] == [
        (INDEX_PK, "HASH"),
        (INDEX_SK, "RANGE"),
    ]
    assert index["Projection"] == {"ProjectionType": "KEYS_ONLY"}


def test_a_table_made_before_the_index_gets_it_and_its_shipments_are_found() -> None:
    """The upgrade of a local state dir: ``waybill serve`` starts its own engine and calls
    ``ensure_table``. A fresh engine, as there: the session's shared one holds many TTL
    tables full of items, and DynamoDB Local then never finishes an online index build."""
    with DynamoDBLocal(in_memory=True) as ddb:
        client = local_dynamodb(ddb.endpoint_url)
        client.create_table(
            TableName="waybill",
            KeySchema=KEY_SCHEMA,
            AttributeDefinitions=ATTRIBUTES[:2],
            BillingMode="PAY_PER_REQUEST",
        )
        client.update_time_to_live(
            TableName="waybill",
            TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"},
        )
        store = DynamoStore(client, "waybill", CapacityMeter())
        record(store, [make_event(0, tracking_number="OLD1")], "d-0")
        assert ensure_table(client, "waybill") is False
        assert ensure_table(client, "waybill") is False  # idempotent
        hits, _ = store.search("acme", now=NOW, status=Status.IN_TRANSIT)
        assert [h.state.tracking_number for h in hits] == ["OLD1"]  # DynamoDB backfilled


def test_index_writes_happen_only_when_the_status_changes(
    store: DynamoStore, meter: IndexCapacity
) -> None:
    first = make_event(0, text_bytes=490)
    meter.reset()
    record(store, [first], "d-0")
    assert (meter.table_writes, meter.index_writes) == (2.0, 1.0)  # event, state; entry put

    meter.reset()
    record(store, [make_event(1, text_bytes=490)], "d-1")  # same status
    assert (meter.table_writes, meter.index_writes) == (2.0, 0.0)

    meter.reset()
    record(store, [make_event(2, text_bytes=490, status=Status.OUT_FOR_DELIVERY)], "d-2")
    assert (meter.table_writes, meter.index_writes) == (2.0, 2.0)  # entry deleted and put

    meter.reset()
    record(store, [make_event(2, text_bytes=490, status=Status.OUT_FOR_DELIVERY)], "d-2")
    assert (meter.table_writes, meter.index_writes) == (0.0, 0.0)  # a retry

    meter.reset()
    record(store, [make_event(-5, status=Status.INFO_RECEIVED)], "d-late")  # older: no move
    assert meter.index_writes == 0.0
    (state,) = store.get_shipments("acme", "EZ1000000001", NOW)
    assert state.status is Status.OUT_FOR_DELIVERY and state.event_count == 4


def test_a_30th_event_of_the_same_status_writes_nothing_to_the_index(
    store: DynamoStore, meter: IndexCapacity
) -> None:
    record(store, [make_event(i) for i in range(29)], "d-history")
    meter.reset()
    record(store, [make_event(29, text_bytes=490)], "d-new")
    assert meter.index_writes == 0.0 and meter.table_writes <= 2


def test_search_merges_every_shard_newest_first_and_pages_stably(
    store: DynamoStore, meter: IndexCapacity
) -> None:
    numbers = [f"SH{n:03d}" for n in range(40)]
    for offset, number in enumerate(numbers):
        record(
            store, [make_event(0, tracking_number=number)], number, NOW + timedelta(seconds=offset)
        )
    shards = {
        index_keys("acme", n, "easypost", Status.IN_TRANSIT, NOW)[INDEX_PK]["S"] for n in numbers
    }
    assert len(shards) == SEARCH_SHARDS  # 40 shipments spread over every shard
    meter.reset()
    seen: list[str] = []
    hits, before = store.search("acme", now=NOW, status=Status.IN_TRANSIT, limit=7)
    seen += [h.state.tracking_number for h in hits]
    late = NOW + timedelta(minutes=5)
    record(store, [make_event(1, tracking_number="SH039", status=Status.DELIVERED)], "x", late)
    later = late + timedelta(seconds=1)
    record(store, [make_event(1, tracking_number="SH020", status=Status.DELIVERED)], "y", later)
    record(store, [make_event(0, tracking_number="NEW")], "z", late)
    while before is not None:
        hits, before = store.search(
            "acme", now=NOW, status=Status.IN_TRANSIT, limit=7, before=before
        )
        seen += [h.state.tracking_number for h in hits]
    expected = [n for n in reversed(numbers) if n != "SH020"]  # moved away before its page
    assert seen == expected
    assert "query" in meter.operations and "batch_get_item" in meter.operations
    delivered, _ = store.search("acme", now=NOW, status=Status.DELIVERED)
    assert [h.state.tracking_number for h in delivered] == ["SH020", "SH039"]


def test_search_never_reads_another_tenants_partitions(store: DynamoStore) -> None:
    record(store, [make_event(0, tracking_number="A1")], "a")
    record(store, [make_event(0, tracking_number="G1", tenant="globex")], "g")
    hits, _ = store.search("acme", now=NOW)
    assert [(h.state.tenant, h.state.tracking_number) for h in hits] == [("acme", "A1")]


def test_a_status_moved_by_a_racing_delivery_still_rekeys_the_index(store: DynamoStore) -> None:
    """Our read said in_transit; a rival moved it to out_for_delivery before our newer
    in_transit event landed: the same-status guard fails and the index keys follow."""
    record(store, [make_event(0)], "d-0")
    key = ("acme", "EZ1000000001", "easypost")
    stale = read_shipment(store.client, store.table, key, store.meter)
    record(store, [make_event(1, status=Status.OUT_FOR_DELIVERY)], "d-rival")
    ours = make_event(2)
    update = compose(stale, [ours], [], b"ring", 4, NOW + timedelta(seconds=5), 1_900_000_000)
    assert update is not None and "gsi1pk" not in update.sets  # we read the same status
    assert store._conditional_update(update.request(stale)) is False  # the guard saw the rival
    store._update_state(stale, [ours], [], b"ring", NOW + timedelta(seconds=5), 1_900_000_000)
    (state,) = store.get_shipments("acme", "EZ1000000001", NOW)
    assert state.status is Status.IN_TRANSIT and state.last_event.event_id == ours.event_id
    hits, _ = store.search("acme", now=NOW, status=Status.IN_TRANSIT)
    assert [h.status_changed_at for h in hits] == [NOW + timedelta(seconds=5)]
    assert store.search("acme", now=NOW, status=Status.OUT_FOR_DELIVERY)[0] == []
