"""Trackers, leases, the daily budget and a push counting as a check, on DynamoDB Local,
with a clock the test moves (no carrier is called here: see test_polling_dynamodb_local)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gateway.api import queries
from gateway.models import Status, utc_text
from gateway.poll.budget import Allowance, Budget, next_day
from gateway.poll.schedule import INTERVALS
from gateway.poll.trackers import LEASE, TrackerStore
from gateway.services import Services, build_services
from gateway.store.capacity import CapacityMeter
from gateway.store.due_index import DUE_SHARDS
from gateway.testkit.events import make_event

pytestmark = pytest.mark.integration

START = datetime(2026, 3, 2, 8, tzinfo=UTC)
TENANT = """name = "Acme"
[carriers.ups.polling]
daily_budget = 15
"""


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def services(client: Any, table: str, tmp_path: Path, clock: Clock) -> Services:
    tenants = tmp_path / "tenants"
    tenants.mkdir()
    (tenants / "acme.toml").write_text(TENANT)
    (tenants / "other.toml").write_text(TENANT.replace("Acme", "Other"))
    return build_services(
        dynamodb=client,
        table_name=table,
        tenants_dir=tenants,
        secrets=None,  # type: ignore[arg-type]  # nothing is verified or polled here
        count=lambda name, value=1: None,
        clock=clock,
    )


def store_of(services: Services) -> TrackerStore:
    return services.trackers.store


def all_due(store: TrackerStore, now: datetime) -> list[str]:
    return [k["pk"]["S"] for shard in range(DUE_SHARDS) for k in store.due(shard, now)]


def test_adding_a_tracker_twice_gives_the_same_tracker(services: Services) -> None:
    first, created = services.trackers.add("acme", " 1z999aa10123456784 ", "ups")
    again, created_again = services.trackers.add("acme", "1Z999AA10123456784", "ups")
    assert (created, created_again) == (True, False)
    assert again == first
    assert first.tracking_number == "1Z999AA10123456784"
    assert (first.state, first.next_check_at) == ("active", START)


def test_only_one_poller_holds_a_tracker_and_a_dead_one_lets_go_when_its_lease_ends(
    services: Services, clock: Clock
) -> None:
    tracker, _ = services.trackers.add("acme", "1Z1", "ups")
    store = store_of(services)
    results: list[Any] = []
    barrier = threading.Barrier(8)

    def claim(owner: str) -> None:
        barrier.wait()
        results.append(store.claim(tracker.key, owner, clock.now))

    threads = [threading.Thread(target=claim, args=(f"p{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    held = [r for r in results if r is not None]
    assert len(held) == 1  # the conditional write lets exactly one in
    assert all_due(store, clock.now) == []  # claimed: not due while the lease runs
    clock.now += LEASE - timedelta(seconds=1)
    assert store.claim(tracker.key, "late", clock.now) is None
    clock.now += timedelta(seconds=2)  # the holder died: its lease has ended
    assert all_due(store, clock.now) == [tracker.key["pk"]["S"]]
    assert store.claim(tracker.key, "next", clock.now) is not None


def test_the_budget_is_never_exceeded_by_racing_spenders(services: Services) -> None:
    budget = services.trackers.budget
    granted: list[bool] = []
    barrier = threading.Barrier(20)

    def spend() -> None:
        barrier.wait()
        granted.append(budget.spend("acme", "ups", 1, 15, START))

    threads = [threading.Thread(target=spend) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert granted.count(True) == 15
    assert budget.used("acme", "ups", START) == 15
    assert budget.used("acme", "ups", next_day(START)) == 0  # a new UTC day starts afresh
    assert budget.used("other", "ups", START) == 0  # per tenant


def test_allowances_reserve_in_blocks_and_give_back_what_they_did_not_use(
    client: Any, table: str
) -> None:
    meter = CapacityMeter()
    budget = Budget(client, table, meter)
    first = Allowance(budget, "acme", "ups", 15, START, block=10)
    second = Allowance(budget, "acme", "ups", 15, START, block=10)
    taken = [first() for _ in range(3)] + [second() for _ in range(20)]
    assert taken.count(True) == 3 + 5  # the first holds 10; the second gets what is left
    assert budget.used("acme", "ups", START) == 15
    first.release()  # 7 reserved and never used come back
    assert budget.used("acme", "ups", START) == 8
    assert second() is False  # it learnt the budget was spent; it does not ask again
    assert meter.write_units + meter.failed_write_units <= 8  # blocks, not one per request


def test_a_push_with_news_counts_as_a_check_and_moves_the_next_one(
    services: Services, clock: Clock
) -> None:
    services.trackers.add("acme", "1Z2", "ups")
    clock.now += timedelta(minutes=10)
    event = make_event(0, tenant="acme", tracking_number="1Z2", carrier="ups")
    event = event.model_copy(update={"status": Status.IN_TRANSIT, "occurred_at": clock.now})
    services.store.record([event], delivery_key="push-1", now=clock.now, retention_days=30)
    tracker = services.trackers.get("acme", "1Z2", "ups")
    assert tracker.last_source == "push"
    assert tracker.last_checked_at == clock.now
    assert tracker.status is Status.IN_TRANSIT
    expected = clock.now + timedelta(seconds=INTERVALS[Status.IN_TRANSIT])
    assert tracker.next_check_at == expected
    assert all_due(store_of(services), expected - timedelta(seconds=1)) == []
    answer = queries.shipment(services, "acme", "1Z2")
    assert answer["shipments"][0]["freshness"] == {
        "last_checked_at": utc_text(clock.now),
        "source": "push",
        "next_check_at": utc_text(expected),
    }


def test_a_delivered_push_retires_the_tracker(services: Services, clock: Clock) -> None:
    services.trackers.add("acme", "1Z3", "ups")
    event = make_event(0, tenant="acme", tracking_number="1Z3", carrier="ups")
    event = event.model_copy(update={"status": Status.DELIVERED, "occurred_at": clock.now})
    services.store.record([event], delivery_key="push-2", now=clock.now, retention_days=30)
    tracker = services.trackers.get("acme", "1Z3", "ups")
    assert (tracker.state, tracker.retired_reason) == ("retired", "delivered")
    assert all_due(store_of(services), clock.now + timedelta(days=365)) == []
    freshness = queries.shipment(services, "acme", "1Z3")["shipments"][0]["freshness"]
    assert freshness["next_check_at"] is None


def test_removing_stops_polling_and_adding_again_starts_it(
    services: Services, clock: Clock
) -> None:
    services.trackers.add("acme", "1Z4", "ups")
    removed = services.trackers.remove("acme", "1Z4", "ups")
    assert (removed.state, removed.retired_reason) == ("retired", "removed")
    assert all_due(store_of(services), clock.now + timedelta(days=1)) == []
    page, _ = services.trackers.page("acme", "retired", None, 10, None)
    assert [t.tracking_number for t in page] == ["1Z4"]
    again, created = services.trackers.add("acme", "1Z4", "ups")
    assert created and again.state == "active"
    assert services.trackers.page("acme", "retired", None, 10, None)[0] == []


def test_queued_first_goes_ahead_of_everything_due(services: Services, clock: Clock) -> None:
    store = store_of(services)
    for number in ("1Z5", "1Z6", "1Z7"):
        services.trackers.add("acme", number, "ups")
    clock.now += timedelta(hours=1)
    late, _ = services.trackers.add("acme", "1Z8", "ups")
    queued = services.trackers.queue_first(late)
    assert queued.next_check_at == clock.now
    firsts = [store.due(shard, clock.now, limit=1) for shard in range(DUE_SHARDS)]
    assert late.key["pk"] in [keys[0]["pk"] for keys in firsts if keys]


def test_lists_are_per_tenant_and_per_state(services: Services) -> None:
    for number in ("1ZA", "1ZB", "1ZC"):
        services.trackers.add("acme", number, "ups")
    services.trackers.add("other", "1ZD", "ups")
    first, position = services.trackers.page("acme", "active", "ups", 2, None)
    rest, end = services.trackers.page("acme", "active", "ups", 2, position)
    assert [t.tracking_number for t in first + rest] == ["1ZA", "1ZB", "1ZC"]
    assert end is None
    assert [
        t.tracking_number for t in services.trackers.page("other", "active", None, 9, None)[0]
    ] == ["1ZD"]
    assert services.trackers.page("acme", "failing", None, 9, None)[0] == []
