"""The store against Amazon DynamoDB Local: cost shape, dedupe, ordering, healing."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gateway.models import Status
from gateway.store.capacity import CapacityMeter, item_bytes
from gateway.store.codec import event_item
from gateway.store.dynamo import DynamoStore, write_id
from gateway.testkit.events import make_event

pytestmark = pytest.mark.integration

# Received "now": DynamoDB Local's TTL sweeper really deletes items whose expiry
# (received time + retention) has passed, so a fixed past date would race with it.
NOW = datetime.now(UTC).replace(microsecond=0)
TENANT_RETENTION = 90


@pytest.fixture
def store(client: Any, table: str) -> DynamoStore:
    return DynamoStore(client, table, CapacityMeter())


def record(store: DynamoStore, events: list[Any], key: str) -> Any:
    return store.record(events, delivery_key=key, now=NOW, retention_days=TENANT_RETENTION)


def test_a_new_1kb_event_costs_at_most_two_write_units_on_a_30_event_shipment(
    store: DynamoStore,
) -> None:
    history = [make_event(i) for i in range(29)]
    record(store, history, "d-history")
    new = make_event(29, text_bytes=490)
    item_size = item_bytes(event_item(new, 1_800_000_000))
    assert 900 <= item_size <= 1024, item_size  # an honest ~1 KB event
    store.meter.reset()
    result = record(store, [new], "d-new")
    assert result.accepted == [new.event_id]
    assert 0 < store.meter.write_units <= 2
    (state,) = store.get_shipments("acme", "EZ1000000001", NOW)
    assert state.event_count == 30


def test_a_retried_delivery_costs_zero_write_units(store: DynamoStore) -> None:
    events = [make_event(i) for i in range(5)]
    record(store, events, "d-1")
    store.meter.reset()
    result = record(store, events, "d-1")
    assert store.meter.write_units == 0
    assert result.accepted == [] and len(result.duplicates) == 5
    assert result.duplicate_delivery


@pytest.mark.parametrize("known", [1, 10, 29])
@pytest.mark.parametrize("new", [0, 1, 3])
def test_full_history_resend_costs_at_most_k_plus_two(
    store: DynamoStore, known: int, new: int
) -> None:
    history = [make_event(i) for i in range(known)]
    record(store, history, "d-first")
    resend = history + [make_event(known + j) for j in range(new)]
    store.meter.reset()
    result = record(store, resend, "d-resend")
    assert len(result.accepted) == new and len(result.duplicates) == known
    assert store.meter.write_units <= new + 2
    if new == 0:
        assert store.meter.write_units == 0


def test_concurrent_identical_deliveries_store_each_event_once(
    store: DynamoStore, client: Any
) -> None:
    events = [make_event(i) for i in range(5)]
    results: list[Any] = []
    barrier = threading.Barrier(20)

    def deliver() -> None:
        own = DynamoStore(client, store.table, CapacityMeter())
        barrier.wait(timeout=10)
        results.append(record(own, events, "d-same"))

    threads = [threading.Thread(target=deliver) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(results) == 20
    accepted = [event_id for r in results for event_id in r.accepted]
    assert sorted(accepted) == sorted(e.event_id for e in events)
    stored, _ = store.list_events("acme", "EZ1000000001", now=NOW)
    assert sorted(e.event_id for e in stored) == sorted(e.event_id for e in events)
    (state,) = store.get_shipments("acme", "EZ1000000001", NOW)
    assert state.event_count == 5 and state.last_event.event_id == events[-1].event_id


def test_an_older_event_arriving_late_leaves_the_status_alone(store: DynamoStore) -> None:
    delivered = make_event(5, status=Status.DELIVERED)
    late = make_event(2, status=Status.IN_TRANSIT)
    record(store, [delivered], "d-1")
    record(store, [late], "d-2")
    (state,) = store.get_shipments("acme", "EZ1000000001", NOW)
    assert state.status is Status.DELIVERED
    assert state.event_count == 2
    history, _ = store.list_events("acme", "EZ1000000001", now=NOW)
    assert [e.event_id for e in history] == [late.event_id, delivered.event_id]


@pytest.mark.parametrize("delivered_first", [True, False], ids=["delivered-first", "out-first"])
def test_same_instant_ties_break_by_fixed_precedence(
    store: DynamoStore, delivered_first: bool
) -> None:
    """Whichever arrives first, the later stage wins a tie (neither first nor last write)."""
    delivered = make_event(3, status=Status.DELIVERED)
    out = make_event(3, status=Status.OUT_FOR_DELIVERY, at=delivered.occurred_at)
    for index, event in enumerate([delivered, out] if delivered_first else [out, delivered]):
        record(store, [event], f"d-{index}")
    (state,) = store.get_shipments("acme", "EZ1000000001", NOW)
    assert state.status is Status.DELIVERED


def test_a_crash_between_event_write_and_state_update_heals_on_retry(
    store: DynamoStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    record(store, [make_event(0)], "d-0")
    events = [make_event(0), make_event(1, status=Status.OUT_FOR_DELIVERY)]
    original = store._update_state

    def crash(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("power cut")

    monkeypatch.setattr(store, "_update_state", crash)
    with pytest.raises(RuntimeError):
        record(store, events, "d-1")
    (state,) = store.get_shipments("acme", "EZ1000000001", NOW)
    assert state.status is Status.IN_TRANSIT and state.event_count == 1  # the crash is real

    monkeypatch.setattr(store, "_update_state", original)
    store.record(  # the carrier retries, once the crashed writer is long gone
        events, delivery_key="d-1", now=NOW + timedelta(minutes=1), retention_days=TENANT_RETENTION
    )
    (state,) = store.get_shipments("acme", "EZ1000000001", NOW)
    assert state.status is Status.OUT_FOR_DELIVERY
    assert state.event_count == 2
    history, _ = store.list_events("acme", "EZ1000000001", now=NOW)
    assert len(history) == 2


def test_expired_items_are_filtered_on_read(store: DynamoStore) -> None:
    record(store, [make_event(0)], "d-0")
    later = NOW + timedelta(days=TENANT_RETENTION + 1)
    assert store.get_shipments("acme", "EZ1000000001", later) == []
    assert store.list_events("acme", "EZ1000000001", now=later)[0] == []


def test_tenants_never_share_a_partition(store: DynamoStore) -> None:
    record(store, [make_event(0, tenant="acme")], "d-a")
    assert store.get_shipments("globex", "EZ1000000001", NOW) == []
    assert store.list_events("globex", "EZ1000000001", now=NOW)[0] == []


def test_a_put_retried_after_a_lost_response_still_counts_as_ours(store: DynamoStore) -> None:
    """An SDK retry of a put that succeeded server-side meets its own write, not a rival's."""
    item = event_item(make_event(0), int(NOW.timestamp()) + 86_400)
    ours, theirs = write_id(NOW.timestamp()), write_id(NOW.timestamp())
    assert store._put_new(item, ours) is None  # stored by this call
    assert store._put_new(item, ours) is None  # the retry: same write id, still ours
    assert store._put_new(item, theirs) == ours  # another delivery: the writer found
