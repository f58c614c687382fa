"""The poller against the loopback carrier API, on DynamoDB Local, under a clock the test
moves: every carrier polled and stored through the webhooks' write path, the schedule
followed, the budget never exceeded, leases with two pollers, a poller that died, a
carrier answering 429, 5xx, slowly or with an expired token, manual refresh."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gateway.api import queries
from gateway.models import Status, utc_text
from gateway.notify.addresses import AddressPolicy
from gateway.poll.budget import next_day
from gateway.poll.poller import Poller
from gateway.poll.schedule import INTERVALS
from gateway.poll.trackers import LEASE
from gateway.services import Services, build_services
from gateway.tenancy.local_secrets import LocalSecretStore
from gateway.testkit.carrier_api import CarrierApi, SimEvent

pytestmark = pytest.mark.integration

START = datetime(2026, 3, 2, 8, tzinfo=UTC)
CARRIERS = ("ups", "fedex", "easypost", "seventeentrack", "ship24")
NUMBERS = {
    "ups": "1Z999AA10123456784",
    "fedex": "794843185271",
    "easypost": "EZ2000000002",
    "seventeentrack": "RR123456789CN",
    "ship24": "S24000000000001",
}


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def epoch(self) -> float:
        return self.now.timestamp()


class World:
    """A tenant polling all five carriers against one loopback carrier API."""

    def __init__(self, services: Services, api: CarrierApi, clock: Clock) -> None:
        self.services, self.api, self.clock = services, api, clock
        self.metrics: list[tuple[str, float]] = []

    @property
    def poller(self) -> Poller:
        return self.services.trackers.poller

    def shipment(self, number: str) -> dict[str, Any]:
        answer = queries.shipment(self.services, "acme", number)
        return dict(answer["shipments"][0])

    def events(self, number: str) -> int:
        return len(self.services.store.list_events("acme", number, now=self.clock.now)[0])


@pytest.fixture
def world(client: Any, table: str, tmp_path: Path) -> Iterator[World]:
    clock = Clock()
    with CarrierApi(clock=clock.epoch) as api:
        tenants = tmp_path / "tenants"
        tenants.mkdir()
        lines = ['name = "Acme"', "retention_days = 30"]
        for carrier in CARRIERS:
            lines += [
                f"[carriers.{carrier}.polling]",
                "daily_budget = 50",
                f'api_base_url = "{api.base_url(carrier)}"',
                "concurrency = 2",
            ]
        (tenants / "acme.toml").write_text("\n".join(lines) + "\n")
        secrets = LocalSecretStore(tmp_path / "state")
        for carrier in CARRIERS:
            secrets.set("acme", f"{carrier}.api", api.slot_value(carrier), now=START)
        metrics: list[tuple[str, float]] = []
        services = build_services(
            dynamodb=client,
            table_name=table,
            tenants_dir=tenants,
            secrets=secrets,
            count=lambda name, value=1: metrics.append((name, value)),
            clock=clock,
            address_policy=AddressPolicy(allow_insecure=True),
        )
        found = World(services, api, clock)
        found.metrics = metrics
        yield found


def at(clock: Clock, hours: float = 0) -> datetime:
    return clock.now + timedelta(hours=hours)


@pytest.mark.parametrize("carrier", CARRIERS)
def test_each_carrier_is_polled_on_its_schedule_until_delivered(world: World, carrier: str) -> None:
    api, clock, number = world.api, world.clock, NUMBERS[carrier]
    api.add(
        carrier,
        number,
        [
            SimEvent("info_received", at(clock, -30), city="Louisville", region="KY"),
            SimEvent("in_transit", at(clock, -5), city="Atlanta", region="GA"),
        ],
    )
    _, created = world.services.trackers.add("acme", number, carrier)
    assert created
    assert world.poller.run_once() == 1
    shipment = world.shipment(number)
    assert shipment["status"] == "in_transit"
    assert world.events(number) == 2
    expected = clock.now + timedelta(seconds=INTERVALS[Status.IN_TRANSIT])
    assert shipment["freshness"] == {
        "last_checked_at": utc_text(clock.now),
        "source": "poll",
        "next_check_at": utc_text(expected),
    }
    assert world.poller.run_once() == 0  # nothing is due before the schedule says so
    clock.now = expected
    assert world.poller.run_once() == 1  # checked again: nothing new
    assert world.events(number) == 2
    api.advance(carrier, number, SimEvent("delivered", clock.now, city="Atlanta", region="GA"))
    clock.now += timedelta(seconds=INTERVALS[Status.IN_TRANSIT])
    assert world.poller.run_once() == 1
    done = world.services.trackers.get("acme", number, carrier)
    assert (done.state, done.retired_reason, done.status) == (
        "retired",
        "delivered",
        Status.DELIVERED,
    )
    checks = world.services.trackers.recent_checks(done)
    assert [c.events_added for c in checks] == [1, 0, 2]
    assert [c.status_changed for c in checks] == [True, False, True]
    clock.now += timedelta(days=2)
    assert world.poller.run_once() == 0  # retired: never polled again


def test_a_number_the_carrier_does_not_know_waits_on_the_pre_transit_pace(world: World) -> None:
    world.services.trackers.add("acme", "1ZUNKNOWN0000001", "ups")
    world.poller.run_once()
    tracker = world.services.trackers.get("acme", "1ZUNKNOWN0000001", "ups")
    assert (tracker.state, tracker.failures, tracker.status) == ("active", 0, Status.UNKNOWN)
    assert tracker.next_check_at == world.clock.now + timedelta(seconds=INTERVALS[Status.UNKNOWN])


def test_the_budget_is_never_exceeded_and_spent_trackers_wait_for_the_next_day(
    world: World, tmp_path: Path
) -> None:
    toml = tmp_path / "tenants" / "acme.toml"
    toml.write_text(toml.read_text().replace("daily_budget = 50", "daily_budget = 3", 1))
    numbers = [f"1Z999AA1012345678{i}" for i in range(5)]
    for number in numbers:
        world.api.add("ups", number, [SimEvent("in_transit", at(world.clock, -1), city="Reno")])
        world.services.trackers.add("acme", number, "ups")
    world.poller.run_once()
    assert world.api.count("ups") == 3  # the token, then two trackers: the budget of 3
    assert world.services.trackers.budget.used("acme", "ups", world.clock.now) == 3
    waiting = [world.services.trackers.get("acme", n, "ups") for n in numbers]
    spent = [t for t in waiting if t.last_error == "budget_spent"]
    assert len(spent) == 3
    assert {t.next_check_at for t in spent} == {next_day(world.clock.now)}
    assert ("PollBudgetExhausted", 1) in world.metrics
    usage = {u.carrier: u for u in world.services.trackers.usage("acme")}
    assert (usage["ups"].requests_today, usage["ups"].daily_budget) == (3, 3)


def test_two_pollers_never_check_one_tracker_twice(world: World, client: Any) -> None:
    numbers = [f"1Z999AA10123456{i:03d}" for i in range(12)]
    for number in numbers:
        world.api.add("ups", number, [SimEvent("in_transit", at(world.clock, -1), city="Reno")])
        world.services.trackers.add("acme", number, "ups")
    other = Poller(
        trackers=world.poller.trackers,
        budget=world.poller.budget,
        checks=world.poller.checks,
        client=world.poller.client,
        pipeline=world.poller.pipeline,
        clock=world.clock,
        count=lambda name, value=1: None,
    )
    counts: list[int] = []
    barrier = threading.Barrier(2)

    def run(poller: Poller) -> None:
        barrier.wait()
        counts.append(poller.run_once())

    threads = [threading.Thread(target=run, args=(p,)) for p in (world.poller, other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(counts) == 12
    details = [r.path for r in world.api.requests if "/details/" in r.path]
    assert sorted(p.rsplit("/", 1)[1].split("?")[0] for p in details) == sorted(numbers)
    assert world.api.max_in_flight("ups") <= 2  # concurrency = 2 for the carrier


def test_a_poller_that_died_mid_check_lets_the_next_one_check_after_the_lease(
    world: World,
) -> None:
    number = NUMBERS["ups"]
    world.api.add("ups", number, [SimEvent("in_transit", at(world.clock, -1), city="Reno")])
    tracker, _ = world.services.trackers.add("acme", number, "ups")
    assert world.poller.trackers.claim(tracker.key, "crashed", world.clock.now) is not None
    assert world.poller.run_once() == 0  # held by the dead poller's lease
    world.clock.now += LEASE + timedelta(seconds=1)
    assert world.poller.run_once() == 1
    assert world.shipment(number)["status"] == "in_transit"


def test_a_carrier_answering_429_is_slowed_and_the_tracker_backs_off(world: World) -> None:
    number = NUMBERS["fedex"]
    world.api.add("fedex", number, [SimEvent("in_transit", at(world.clock, -1), city="Memphis")])
    world.services.trackers.add("acme", number, "fedex")
    world.api.fail_next("fedex", status=429, retry_after=120)
    world.poller.run_once()
    tracker = world.services.trackers.get("acme", number, "fedex")
    assert (tracker.failures, tracker.last_error) == (1, "rate_limited")
    assert tracker.next_check_at == world.clock.now + 2 * timedelta(
        seconds=INTERVALS[Status.UNKNOWN]
    )
    asked = world.api.count("fedex")
    world.services.trackers.add("acme", "794843185272", "fedex")
    world.poller.run_once()  # within Retry-After: the carrier is not called at all
    assert world.api.count("fedex") == asked
    slowed = world.services.trackers.get("acme", "794843185272", "fedex")
    assert (slowed.last_error, slowed.failures) == ("slowed", 0)


def test_a_failing_carrier_makes_trackers_failing_after_three_checks(world: World) -> None:
    number = NUMBERS["ship24"]
    world.services.trackers.add("acme", number, "ship24")
    for _ in range(3):
        world.api.fail_next("ship24", status=500)
        world.poller.client.gate("ship24").not_before = 0  # do not wait out the slowdown
        world.poller.run_once()
        tracker = world.services.trackers.get("acme", number, "ship24")
        world.clock.now = tracker.next_check_at or world.clock.now
    assert (tracker.state, tracker.failures, tracker.last_error) == ("failing", 3, "carrier_error")
    assert [
        t.tracking_number for t in world.services.trackers.page("acme", "failing", None, 5, None)[0]
    ] == [number]


def test_an_expired_token_is_fetched_again_once(world: World) -> None:
    number = NUMBERS["ups"]
    world.api.add("ups", number, [SimEvent("in_transit", at(world.clock, -1), city="Reno")])
    world.services.trackers.add("acme", number, "ups")
    world.poller.run_once()
    world.api.advance("ups", number, SimEvent("out_for_delivery", world.clock.now, city="Reno"))
    world.api.expire_tokens("ups")
    world.clock.now += timedelta(hours=2)
    world.poller.run_once()
    assert world.shipment(number)["status"] == "out_for_delivery"
    tokens = [r for r in world.api.requests if r.path.endswith("/oauth/token")]
    assert len(tokens) == 2


def test_a_manual_refresh_checks_now_and_counts_against_the_budget(world: World) -> None:
    number = NUMBERS["easypost"]
    world.api.add("easypost", number, [SimEvent("in_transit", at(world.clock, -1), city="Reno")])
    world.services.trackers.add("acme", number, "easypost")
    world.poller.run_once()
    world.api.advance(
        "easypost", number, SimEvent("out_for_delivery", world.clock.now, city="Reno")
    )
    refreshed = world.services.trackers.refresh("acme", number, "easypost")
    assert refreshed.check is not None
    assert (refreshed.check.events_added, refreshed.check.trigger) == (1, "refresh")
    assert refreshed.tracker.status is Status.OUT_FOR_DELIVERY
    assert world.services.trackers.budget.used("acme", "easypost", world.clock.now) == 2
    world.api.slow("easypost", 0.0)
    world.api.fail_next("easypost", status=503)
    queued = world.services.trackers.refresh("acme", number, "easypost")
    assert queued.check is None  # the carrier could not answer: queued first instead
    assert queued.tracker.next_check_at == world.clock.now


def test_a_pass_that_died_holding_its_lease_lets_go_when_the_lease_ends(world: World) -> None:
    number = NUMBERS["ups"]
    world.api.add("ups", number, [SimEvent("in_transit", at(world.clock, -1), city="Reno")])
    world.services.trackers.add("acme", number, "ups")
    store = world.poller.trackers
    assert store.lease_pass("crashed", world.clock.now)
    assert world.poller.run_once() == 0  # the pass that died still holds the lease
    assert world.api.count("ups") == 0
    world.clock.now += LEASE + timedelta(seconds=1)
    assert world.poller.run_once() == 1
    assert world.shipment(number)["status"] == "in_transit"
