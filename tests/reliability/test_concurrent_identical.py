"""50 deliveries at once through the handler on DynamoDB Local: stored once, latest wins.

``tests/integration/test_store_dynamodb_local.py`` races 20 identical ``record`` calls on
the store. Here the whole ingest path races (one handler per thread, as one Lambda
container per request): signature, parse, store and audit, 50 threads released by a
barrier, and the answers are checked too: exactly one accept per event across the 50,
every other sighting a duplicate, no 5xx. For every carrier with a fixture history
(``carrier_retry.SHAPES``), whatever identifies its deliveries (an id in the body, a
header, or nothing).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

import pytest

from gateway.api.app import make_handler
from gateway.testkit.harness import Harness, Reply
from tests.reliability.carrier_retry import SHAPES, History, expected_events, post
from tests.support.scale import scaled

pytestmark = pytest.mark.integration

THREADS = 50
ROUNDS = scaled(fast=1, soak=12)  # each round: a fresh shipment
CARRIERS = sorted(SHAPES)  # every carrier with a fixture history: id in body, header, none
JOIN_SECONDS = 120


def race(gw: Harness, bodies: Sequence[bytes], carrier: str, ids: Sequence[str]) -> list[Reply]:
    """Post ``bodies[i]`` from thread ``i``, all released together; every answer, in order."""
    now = datetime.now(UTC)
    barrier = threading.Barrier(len(bodies))
    replies: list[Reply | BaseException | None] = [None] * len(bodies)

    def run(i: int) -> None:
        own = Harness(make_handler(gw.services), gw.services, gw.secrets, gw.counts)
        try:
            barrier.wait(timeout=JOIN_SECONDS)
            replies[i] = post(own, carrier, bodies[i], now=now, delivery_id=ids[i])
        except BaseException as exc:  # reported below, with the thread's index
            replies[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=JOIN_SECONDS)
    assert not any(t.is_alive() for t in threads), "a delivery hung"
    failed = [(i, r) for i, r in enumerate(replies) if not isinstance(r, Reply)]
    assert not failed, failed[:3]
    return [r for r in replies if isinstance(r, Reply)]


@pytest.mark.parametrize("carrier", CARRIERS)
def test_50_identical_deliveries_store_each_event_once(
    local_gateway: Callable[..., Harness], converged: Callable[..., None], carrier: str
) -> None:
    gw = local_gateway()
    for _ in range(ROUNDS):
        history = History.of(carrier)
        body = history.body(range(len(history.items)), "same-delivery")
        replies = race(gw, [body] * THREADS, carrier, ["msg_same-delivery"] * THREADS)
        assert [r.status for r in replies] == [200] * THREADS, {r.status for r in replies}
        raced = sum(not r.body["duplicate_delivery"] for r in replies)
        assert raced >= 2, "the threads did not overlap: nothing raced"  # ~all 50 do
        ids = {e.event_id for e in history.events}
        assert all(set(r.body["events"]) == ids for r in replies)
        assert sum(r.body["accepted"] for r in replies) == len(ids), "each event accepted once"
        assert sum(r.body["duplicates"] for r in replies) == (THREADS - 1) * len(ids)
        converged(gw, history.number, history.events)


@pytest.mark.parametrize("carrier", CARRIERS)
def test_50_different_deliveries_for_one_shipment_end_in_the_latest_state(
    local_gateway: Callable[..., Harness], converged: Callable[..., None], carrier: str
) -> None:
    """Each delivery carries its own scan and its neighbour's (50 scans, each sent twice),
    at shuffled times: one accept per scan, and the state of the latest scan."""
    gw = local_gateway()
    rng = random.Random(50)
    for _ in range(ROUNDS):
        history = History.of(carrier)
        start = history.events[0].occurred_at.astimezone(UTC)
        minutes = rng.sample(range(THREADS * 10), THREADS)  # interleaved, all distinct
        scans = []
        for i, minute in enumerate(minutes):
            at = start + timedelta(minutes=minute)
            scans.append(history.with_time(i % len(history.items), f"{at:%Y-%m-%dT%H:%M:%SZ}"))
        bodies = [
            history.body([], f"d{i}", items=[scans[i], scans[(i + 1) % THREADS]])
            for i in range(THREADS)
        ]
        ids = [f"d{i}" for i in range(THREADS)]
        replies = race(gw, bodies, carrier, ids)
        assert [r.status for r in replies] == [200] * THREADS, {r.status for r in replies}
        events = {e.event_id: e for body in bodies for e in expected_events(carrier, body)}
        assert len(events) == THREADS, "each scan is its own event"
        assert sum(r.body["accepted"] for r in replies) == THREADS, "each scan accepted once"
        assert sum(r.body["duplicates"] for r in replies) == THREADS
        converged(gw, history.number, events.values())
