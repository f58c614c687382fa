"""The write path's cost at any history length and under races, on Amazon DynamoDB Local.

Units are what AWS would bill: the units DynamoDB Local reports, plus the conditional
writes that failed (DynamoDB Local reports nothing for them; AWS bills them), counted by
the store's :class:`~gateway.store.capacity.CapacityMeter`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from gateway.models import CanonicalEvent, Status
from gateway.store.capacity import CapacityMeter, item_bytes
from gateway.store.codec import event_item
from gateway.store.dynamo import DynamoStore
from gateway.store.shipment import fingerprint_prefix, read_shipment
from gateway.store.state import compose
from gateway.testkit.events import make_event
from gateway.testkit.writes import EVENT_TEXT_BYTES, billed, build_history, events_of, race

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0)


def record(store: DynamoStore, events: list[CanonicalEvent], key: str) -> float:
    return billed(store, events, key, NOW)


@pytest.fixture
def store(client: Any, table: str) -> DynamoStore:
    return DynamoStore(client, table, CapacityMeter())


@pytest.mark.parametrize("size", [10, 100, 300, 1000])
def test_cost_does_not_grow_with_the_history(store: DynamoStore, size: int) -> None:
    number = f"LONG{size:06d}"
    build_history(store, number, size, NOW)
    known = events_of(number, range(size))
    new = events_of(number, range(size, size + 20))
    assert 900 <= item_bytes(event_item(new[0], 1_900_000_000, body_sha256="00" * 32)) <= 1024
    costs = [record(store, [event], f"new-{i}") for i, event in enumerate(new)]
    assert set(costs) <= {2.0, 3.0}, costs  # event + state; + 1 page when the state spills
    assert costs.count(3.0) <= 1, costs  # a spill is one delivery in a few dozen
    assert record(store, [new[-1]], f"new-{len(new) - 1}") == 0  # the carrier's retry
    fresh = events_of(number, range(size + 100, size + 103))
    resend = known + new + fresh  # the full history with k = 3 new events
    assert record(store, resend, "resend") <= len(fresh) + 2
    store.meter.reset()
    (state,) = store.get_shipments("acme", number, NOW)
    assert store.meter.read_units == 1  # the state item stays bounded
    assert state.event_count == size + len(new) + len(fresh)


def test_a_status_change_moves_the_index_entry(store: DynamoStore) -> None:
    number = "STATUS0001"
    record(store, events_of(number, range(5)), "build")
    moved = make_event(
        5, tracking_number=number, text_bytes=EVENT_TEXT_BYTES, status=Status.OUT_FOR_DELIVERY
    )
    assert record(store, [moved], "move") == 4  # event, state, index entry deleted and put
    (state,) = store.get_shipments("acme", number, NOW)
    assert state.status is Status.OUT_FOR_DELIVERY


@pytest.mark.parametrize("events", [1, 10], ids=["one-event", "ten-events"])
def test_a_50_way_race_costs_about_one_delivery_plus_a_failed_write_per_loser(
    client: Any, table: str, events: int
) -> None:
    number = f"RACE50X{events}"
    delivery = events_of(number, range(events))
    alone = DynamoStore(client, table, CapacityMeter())
    one = record(alone, events_of("ALONE" + number, range(events)), "a")
    meters = race(client, table, delivery, 50, NOW)
    billed = sum(m.billed_write_units for m in meters)
    assert billed <= 1.2 * (one + 49), (billed, one)
    stored = DynamoStore(client, table, CapacityMeter())
    (state,) = stored.get_shipments("acme", number, NOW)
    assert state.event_count == events  # every event counted once
    listed, _ = stored.list_events("acme", number, now=NOW)
    assert len(listed) == events


def test_a_crash_before_the_state_update_heals_on_an_immediate_retry(
    store: DynamoStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The retry finds the events stored by a writer it cannot tell from a racing copy: it
    gives that writer a moment, sees the state still does not know them, and teaches it."""
    number = "HEAL000001"
    events = events_of(number, range(3))

    def crash(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("power cut")

    original = store._update_state
    monkeypatch.setattr(store, "_update_state", crash)
    with pytest.raises(RuntimeError):
        store.record(events, delivery_key="d", now=NOW, retention_days=30)
    monkeypatch.setattr(store, "_update_state", original)
    pauses: list[float] = []
    store.sleep = pauses.append
    result = store.record(events, delivery_key="d", now=NOW, retention_days=30)
    assert result.accepted == [] and len(result.duplicates) == 3
    assert pauses  # it waited for the writer that never came
    (state,) = store.get_shipments("acme", number, NOW)
    assert state.event_count == 3 and state.last_event.event_id == events[-1].event_id


def test_a_spill_that_lost_its_page_number_to_a_racing_spill_is_composed_again(
    client: Any, table: str
) -> None:
    """A racing copy wrote page n (its own snapshot of the recent prints) and has not
    updated the state yet: this copy's put of page n fails, and its state update, which
    assumed its own page n, must not be made (the prints only it spilled would be lost,
    then counted again)."""

    class RacedSpill(DynamoStore):
        raced = False

        def _put_page(self, page: dict[str, Any]) -> bool:
            if not self.raced:  # the racing copy's page lands first, with one print only
                self.raced = True
                other = {**page, "fps": {"BS": page["fps"]["BS"][:1]}}
                self.client.put_item(TableName=self.table, Item=other)
            return super()._put_page(page)

    store = RacedSpill(client, table, CapacityMeter())
    number = "SPILL00001"
    events = events_of(number, range(60))
    for index, event in enumerate(events):
        store.record([event], delivery_key=f"d{index}", now=NOW, retention_days=30)
    assert store.raced  # the history spilled at least once
    read = read_shipment(client, table, ("acme", number, events[0].carrier), CapacityMeter())
    assert read.known == {fingerprint_prefix(e) for e in events}  # every print kept
    (state,) = store.get_shipments("acme", number, NOW)
    assert state.event_count == len(events)
    again = store.record(events, delivery_key="resend", now=NOW, retention_days=30)
    assert again.accepted == [] and len(again.duplicates) == len(events)


def test_a_print_moved_to_a_page_after_the_read_is_not_counted_twice(
    client: Any, table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Copy A read the state, a racing copy taught the same event and then spilled it to a
    page; A's guard ``NOT contains(fps, …)`` cannot see it there: the page count guards."""
    store = DynamoStore(client, table, CapacityMeter())
    number = "SPILL00002"
    events = events_of(number, range(60))
    shared = events[-1]
    key = ("acme", number, shared.carrier)
    for index, event in enumerate(events[:-1]):
        store.record([event], delivery_key=f"d{index}", now=NOW, retention_days=30)
    stale = read_shipment(client, table, key, CapacityMeter())  # A's read: `shared` is new
    other = DynamoStore(client, table, CapacityMeter())
    other.record([shared], delivery_key="b", now=NOW, retention_days=30)
    fresh = read_shipment(client, table, key, CapacityMeter())
    spill = compose(fresh, [], [], b"x" * 8, 4, NOW, 1_900_000_000)
    assert spill is None  # B taught it: nothing new for a fresh read
    recent = sorted(fresh.recent)  # B (or a third copy) spills every recent print
    client.put_item(
        TableName=table,
        Item={**fresh.page_key(fresh.page_count + 1), "fps": {"BS": recent}},
    )
    client.update_item(
        TableName=table,
        Key=fresh.state_key(),
        UpdateExpression="REMOVE fps SET pg = :pg",
        ExpressionAttributeValues={":pg": {"N": str(fresh.page_count + 1)}},
    )
    store._update_state(stale, [], [shared], b"y" * 8, NOW, 1_900_000_000)
    (state,) = store.get_shipments("acme", number, NOW)
    assert state.event_count == len(events)  # counted once
