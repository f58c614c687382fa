"""Out-of-order and duplicated replays of real histories never move a status backwards.

Hypothesis takes a carrier's fixture history (every webhook carrier whose fixtures hold
one, ``carrier_retry.SHAPES``: EasyPost ``tracking_details``, AfterShip ``checkpoints``,
17TRACK provider ``events`` …), shuffles it, repeats some events, splits the
stream into deliveries, and mixes in full-history resends of prefixes (what the carrier
held at some earlier time) and identical retries. Each example posts them in order
through the handler on DynamoDB Local, under a fresh tracking number (one table).

After every delivery: the status is that of the latest event seen so far
(``occurred_at``, then status precedence: DESIGN.md invariant 4), the event count is
the number of distinct events seen, and the answer accepts exactly the new ones. At the
end the history, read through the query API, is every distinct event once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.models import CanonicalEvent
from gateway.testkit.harness import Harness
from tests.reliability.carrier_retry import (
    SHAPES,
    TENANT,
    History,
    expected_events,
    ordering,
    post,
)
from tests.support.scale import scaled

pytestmark = pytest.mark.integration

SIZES = {carrier: len(History.of(carrier, "SIZE").items) for carrier in SHAPES}
MAX_CUTS = 4


@dataclass(frozen=True)
class Step:
    """One delivery: history items by index; ``retry``: the previous delivery's exact bytes."""

    indices: tuple[int, ...]
    retry: bool = False


@st.composite
def replays(draw: st.DrawFn) -> tuple[str, list[Step]]:
    """A carrier, and its history replayed: shuffled, with repeats, resends and retries."""
    carrier = draw(st.sampled_from(sorted(SHAPES)))
    k = SIZES[carrier]
    stream = list(draw(st.permutations(range(k))))
    for index in draw(st.lists(st.integers(0, k - 1), max_size=k)):
        stream.insert(draw(st.integers(0, len(stream))), index)
    cuts = draw(st.sets(st.integers(1, len(stream) - 1), max_size=MAX_CUTS))
    bounds = [0, *sorted(cuts), len(stream)]
    steps: list[Step] = []
    for start, end in pairwise(bounds):
        steps.append(Step(tuple(stream[start:end])))
        extra = draw(st.sampled_from(("none", "prefix", "retry")))
        if extra == "prefix":
            steps.append(Step(tuple(range(draw(st.integers(1, k))))))
        elif extra == "retry":
            steps.append(Step(steps[-1].indices, retry=True))
    return carrier, steps


@pytest.fixture(scope="module")
def gw(local_gateway: Callable[..., Harness]) -> Harness:
    return local_gateway()


@settings(
    max_examples=scaled(fast=12, soak=500),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(replay=replays())
def test_replays_never_regress_the_status_and_keep_the_whole_history(
    gw: Harness, converged: Callable[..., None], replay: tuple[str, list[Step]]
) -> None:
    carrier, steps = replay
    history = History.of(carrier)  # a fresh tracking number: examples share the table
    seen: dict[str, CanonicalEvent] = {}
    body, delivery_id, accepted_before = b"", "", 0
    for step in steps:
        if not step.retry:
            delivery_id = f"msg_{uuid.uuid4().hex}"
            body = history.body(step.indices, delivery_id)
        reply = post(gw, carrier, body, now=datetime.now(UTC), delivery_id=delivery_id)
        assert reply.status == 200, reply
        events = {e.event_id: e for e in expected_events(carrier, body)}
        new = events.keys() - seen.keys()
        assert reply.body["accepted"] == len(new), (step, reply.body)
        assert reply.body["duplicates"] == len(events) - len(new)
        if step.retry and accepted_before:  # recognised as a retry, cheaply
            assert reply.body["duplicate_delivery"] is True, (step, reply.body)
        accepted_before = reply.body["accepted"]
        seen.update(events)
        latest = max(seen.values(), key=ordering)
        state = gw.call("GET", f"/v1/shipments/{history.number}", tenant=TENANT)
        (current,) = state.body["shipments"]
        assert current["status"] == latest.status.value, (step, current, latest)
        assert current["event_count"] == len(seen)
    converged(gw, history.number, seen.values())
