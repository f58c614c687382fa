"""Faults in DynamoDB and the secrets backend while carriers retry on their real schedules.

The real handler runs on DynamoDB Local. The carriers with a published retry schedule
(``carrier_retry.SCHEDULES``, declared next to their history fixture: EasyPost, AfterShip,
Standard Webhooks partners) send real fixture histories as a stream of deliveries
(full-history resends, or deltas), some twice, some authentic but unparseable (parked),
interleaved on one simulated timeline. Then:

- every 2xx is checked at once: the delivery's events are stored and in the shipment's
  state (200), or the delivery is parked (202) — DESIGN.md invariant 6;
- every failure is a 503 (or no response, for a crash), so the carrier retries;
- no carrier gives up (at these fault rates its schedule suffices);
- each shipment ends holding every event once, in the state of its latest event.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.retries.standard import ExponentialBackoff

from gateway.local.wiring import local_dynamodb
from gateway.models import CanonicalEvent
from gateway.store.dynamo import DynamoStore, fingerprint_prefix
from gateway.store.keys import parked_pk, shipment_pk, state_sk
from gateway.store.parked import ParkingLot
from gateway.testkit.harness import Harness
from tests.reliability.carrier_retry import (
    NO_RESPONSE,
    SCHEDULES,
    SHAPES,
    TENANT,
    History,
    Outbound,
    SimClock,
    deliver,
    expected_events,
    post,
    simulate,
)
from tests.reliability.faults import (
    Fault,
    FaultPlan,
    FaultyDynamoDB,
    FaultySecrets,
    LostResponses,
    SimulatedCrash,
)
from tests.support.scale import scaled

pytestmark = pytest.mark.integration

SHIPMENTS_PER_CARRIER = scaled(fast=2, soak=50)
REDELIVERED = 0.15  # share of deliveries a carrier sends twice (at-least-once delivery)
PARKABLE_EVERY = 2  # one unparseable delivery per this many shipments of a carrier
FAULT_SEEDS = (7, 8, 9, 10)  # a run that drew no fault of some kind is repeated (bounded)


@dataclass
class Traffic:
    """What the carriers send: each shipment's history, and every delivery."""

    histories: list[History]
    outbound: list[Outbound]
    parkable: set[bytes]

    def events_of(self, history: History) -> list[CanonicalEvent]:
        """Every event the deliveries for ``history`` carry (all are expected stored)."""
        return [
            event
            for o in self.outbound
            if o.body not in self.parkable and o.carrier == history.shape.carrier
            for event in expected_events(o.carrier, o.body)
            if event.tracking_number == history.number
        ]


def traffic(seed: int, start: datetime) -> Traffic:
    """Deliveries for ``SHIPMENTS_PER_CARRIER`` shipments of each carrier with a schedule."""
    rng = random.Random(seed)
    histories, outbound, parkable = [], [], set()
    for carrier in SCHEDULES:
        for n in range(SHIPMENTS_PER_CARRIER):
            history = History.of(carrier)
            histories.append(history)
            at = start + timedelta(minutes=rng.randint(0, 240))
            for j in range(len(history.items)):
                at += timedelta(minutes=rng.randint(1, 90))
                indices = range(j + 1) if history.shape.full_history else [j]
                delivery_id = uuid.uuid4().hex
                body = history.body(indices, delivery_id)
                copies = 2 if rng.random() < REDELIVERED else 1
                for k in range(copies):
                    later = at + timedelta(minutes=rng.randint(0, 600) * k)
                    outbound.append(Outbound(carrier, body, later, delivery_id))
            if n % PARKABLE_EVERY == 0:
                body = history.unreadable_body(uuid.uuid4().hex)
                parkable.add(body)
                outbound.append(Outbound(carrier, body, at, uuid.uuid4().hex))
    return Traffic(histories, outbound, parkable)


class Durability:
    """Checks DESIGN.md invariant 6 the moment a 2xx is answered, on a fault-free client."""

    def __init__(self, client: Any, table: str) -> None:
        self.client = client
        self.store = DynamoStore(client, table)

    def stored(self, carrier: str, body: bytes, reply_events: list[str], now: datetime) -> None:
        """A 200: every event of the body is stored and known to the shipment's state."""
        events = expected_events(carrier, body)
        assert set(reply_events) == {e.event_id for e in events}
        (number,) = {e.tracking_number for e in events}
        stored, _ = self.store.list_events(TENANT, number, now=now, limit=500)
        missing = {e.event_id for e in events} - {e.event_id for e in stored}
        assert not missing, f"acknowledged events are not stored: {missing}"
        key = {"pk": {"S": shipment_pk(TENANT, number)}, "sk": {"S": state_sk(carrier)}}
        read = self.client.get_item(TableName=self.store.table, Key=key, ConsistentRead=True)
        state = read.get("Item", {"fps": {"BS": []}, "order_key": {"S": ""}})
        known = {bytes(b) for b in state["fps"]["BS"]}
        assert {fingerprint_prefix(e) for e in events} <= known, "acknowledged, not in state"
        assert state["order_key"]["S"] >= max(e.ordering_key() for e in events)

    def parked(self, carrier: str, body: bytes) -> None:
        """A 202: the raw delivery is parked."""
        sha = hashlib.sha256(body).hexdigest()
        key = {"pk": {"S": parked_pk(TENANT, sha)}, "sk": {"S": f"{sha}#{carrier}"}}
        item = self.client.get_item(TableName=self.store.table, Key=key, ConsistentRead=True)
        assert bytes(item["Item"]["body"]["B"]) == body


def sender(
    gw: Harness, check: Durability, parkable: set[bytes], accepted: Counter[str]
) -> Callable[..., int]:
    """The carriers' side of one attempt: post, check any 2xx at once, count accepts."""

    def send(delivery: Outbound, now: datetime) -> int:
        try:
            reply = deliver(gw, delivery, now)
        except SimulatedCrash:
            return NO_RESPONSE  # the process died: API Gateway answers 502, the carrier retries
        if delivery.body in parkable:
            assert reply.status in (202, 503), reply
            if reply.status == 202:
                check.parked(delivery.carrier, delivery.body)
        else:
            assert reply.status in (200, 503), reply
            if reply.status == 200:
                check.stored(delivery.carrier, delivery.body, reply.body["events"], now)
                accepted["events"] += reply.body["accepted"]
        return reply.status

    return send


def assert_outcome(
    gw: Harness, traffic_: Traffic, converged: Callable[..., None], ddb: Any, table: str
) -> None:
    """No carrier gave up; every shipment converged; every parkable delivery parked once."""
    gave_up = [o for o in traffic_.outbound if not o.acknowledged]
    assert not gave_up, f"{len(gave_up)} deliveries lost by their carrier after only failures"
    for history in traffic_.histories:
        converged(gw, history.number, traffic_.events_of(history))
    shas = {hashlib.sha256(body).hexdigest() for body in traffic_.parkable}
    parked = ParkingLot(ddb, table, gw.services.store.meter).list(TENANT)
    assert sorted(p.body_sha256 for p in parked if p.body_sha256 in shas) == sorted(shas)


def test_store_and_secrets_faults_lose_nothing_while_carriers_retry(
    local_gateway: Callable[..., Harness],
    ddb: Any,
    reliability_table: str,
    converged: Callable[..., None],
) -> None:
    """Faults are drawn at random per call (crashes per event put): a run whose traffic
    drew no fault of some kind is repeated with the next seed (fresh shipments, every
    check again), so every kind happens whichever carriers publish a schedule."""
    seen: Counter[Fault] = Counter()
    for seed in FAULT_SEEDS:
        start = datetime.now(UTC).replace(microsecond=0)  # TTL is real on DynamoDB Local
        clock = SimClock(start)
        plan = FaultPlan(seed=seed, rate=0.06, crash_rate=0.04, secrets_rate=0.03)
        gw = local_gateway(
            clock=clock,
            wrap_client=lambda client, plan=plan: FaultyDynamoDB(client, plan),
            wrap_secrets=lambda secrets, plan=plan: FaultySecrets(secrets, plan),
        )
        sent = traffic(seed=11, start=start)
        accepted: Counter[str] = Counter()
        send = sender(gw, Durability(ddb, reliability_table), sent.parkable, accepted)
        simulate(sent.outbound, send, clock)
        plan.enabled = False
        assert_outcome(gw, sent, converged, ddb, reliability_table)
        distinct = {e.event_id for h in sent.histories for e in sent.events_of(h)}
        assert accepted["events"] <= len(distinct), "an event was accepted twice"
        seen.update(plan.injected)
        if set(plan.injected) == set(Fault):
            break
    assert set(plan.injected) == set(Fault), seen  # every kind of fault happened in one run


def test_responses_lost_below_the_sdk_are_recognised_as_our_own_writes(
    local_gateway: Callable[..., Harness],
    dynamodb_local_endpoint: str,
    ddb: Any,
    reliability_table: str,
    converged: Callable[..., None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A write applied whose response is lost is resent by the SDK's own retry: the put
    finds its own write (not another delivery's) and reports the event accepted, once."""
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0.0)
    client = local_dynamodb(dynamodb_local_endpoint)  # its own: the hooks stay on it
    # botocore's retry quota (500) takes 14 per retry and gives nothing back when the retry
    # ends in a 4xx, as our own write's condition failure does: at much higher loss rates
    # the SDK stops retrying, answers 503, and the carrier's retry heals (the test above).
    plan = FaultPlan(seed=3, rate=0.05, kinds=(Fault.TIMEOUT_AFTER,))
    wire = LostResponses(client, plan, ("GetItem", "PutItem", "UpdateItem"))
    start = datetime.now(UTC).replace(microsecond=0)
    clock = SimClock(start)
    gw = local_gateway(clock=clock, client=client)
    sent = traffic(seed=5, start=start)
    seen: set[str] = set()

    def send(delivery: Outbound, now: datetime) -> int:
        reply = deliver(gw, delivery, now)
        if delivery.body in sent.parkable:
            assert reply.status == 202, reply
            assert reply.body["already_parked"] is False, "parked by this very delivery"
            return reply.status
        assert reply.status == 200, reply
        new = {e.event_id for e in expected_events(delivery.carrier, delivery.body)} - seen
        assert reply.body["accepted"] == len(new), (reply.body, len(new))
        seen.update(new)
        return reply.status

    simulate(sent.outbound, send, clock)
    assert all(len(o.attempts) == 1 for o in sent.outbound)  # the SDK absorbed every loss
    assert wire.lost["PutItem"] > 0 and wire.lost["UpdateItem"] > 0, wire.lost
    assert_outcome(gw, sent, converged, ddb, reliability_table)


def test_every_write_whose_first_response_is_lost_still_counts_as_ours(
    local_gateway: Callable[..., Harness],
    dynamodb_local_endpoint: str,
    converged: Callable[..., None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each carrier's whole history, then an unreadable one, with the first response of
    every write lost: all events accepted (not "duplicates"), the delivery newly parked."""
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0.0)
    now = datetime.now(UTC)
    for carrier in SHAPES:
        client = local_dynamodb(dynamodb_local_endpoint)  # a full SDK retry quota each
        every = FaultPlan(seed=0, rate=1.0, kinds=(Fault.TIMEOUT_AFTER,))
        wire = LostResponses(client, every, ("PutItem", "UpdateItem"))
        gw = local_gateway(client=client)
        history = History.of(carrier)
        delivery_id = uuid.uuid4().hex
        body = history.body(range(len(history.items)), delivery_id)
        reply = post(gw, carrier, body, now=now, delivery_id=delivery_id)
        new = len({e.event_id for e in history.events})
        assert reply.status == 200 and reply.body["accepted"] == new, (carrier, reply)
        converged(gw, history.number, history.events)
        reply = post(gw, carrier, history.unreadable_body(delivery_id), now=now)
        assert reply.status in (200, 202) and reply.body["parked"] is True, reply
        assert reply.body["already_parked"] is False, "parked by this very delivery"
        assert wire.lost["PutItem"] == new + 1, wire.lost  # the events, the parked copy
