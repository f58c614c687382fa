"""What each attempt's outcome does to its message and endpoint, on DynamoDB Local, with a
loopback receiver and a clock the test moves (no threads: the sweeper is called)."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gateway.audit.outcomes import AuditEvent
from gateway.local.wiring import local_dynamodb
from gateway.notify.addresses import AddressPolicy
from gateway.notify.endpoints import Endpoint
from gateway.notify.messages import Message
from gateway.notify.schedule import ATTEMPTS
from gateway.notify.service import EndpointSpec, Notifications
from gateway.services import build_services
from gateway.store.keys import endpoint_pk
from gateway.store.table import ensure_table
from gateway.testkit.events import make_event
from gateway.testkit.receiver import Answer, Received, Receiver, always

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
START = datetime(2026, 3, 1, 12, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


class Audit:
    def __init__(self) -> None:
        self.events: list[AuditEvent] = []

    def record(self, event: AuditEvent) -> None:
        self.events.append(event)

    def flush(self, *, final: bool = False) -> None:
        return None


class Setup:
    def __init__(self, endpoint_url: str) -> None:
        self.client = local_dynamodb(endpoint_url)
        self.table = f"outcomes-{uuid.uuid4().hex[:8]}"
        ensure_table(self.client, self.table)
        self.clock, self.audit, self.metrics = Clock(), Audit(), []
        services = build_services(
            dynamodb=self.client,
            table_name=self.table,
            tenants_dir=REPO / "tenants",
            secrets=None,  # type: ignore[arg-type]  # no webhook is verified here
            count=lambda name, value=1: self.metrics.append(name),
            clock=self.clock,
            address_policy=AddressPolicy(allow_insecure=True),
        )
        self.store = services.store
        self.notifications: Notifications = services.notifications
        self.notifications.notifier.audit = self.audit
        self.notifications.notifier.timeout = 1.0

    def endpoint(self, receiver: Receiver) -> Endpoint:
        return self.notifications.create_endpoint("demo", EndpointSpec(url=receiver.url))[0]

    def deliver(self, number: str, deadline: float | None = None) -> list[Message]:
        """Store a new shipment's first event and run the stream handler on its records."""
        self.store.record(
            [make_event(0, tenant="demo", tracking_number=number)],
            delivery_key=number,
            now=self.clock.now,
            retention_days=30,
        )
        self.notifications.handle_stream(self._records(number), deadline)
        return self.messages()

    def _records(self, number: str) -> list[dict[str, Any]]:
        """The stream records of that write, as the stream would carry them."""
        items = self.client.query(
            TableName=self.table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": f"S#demo#{number}"}},
        )["Items"]
        return [{"eventName": "INSERT", "dynamodb": {"NewImage": item}} for item in items]

    def messages(self) -> list[Message]:
        found: list[Message] = []
        for ep in self.notifications.endpoints("demo"):
            found += self.notifications.messages("demo", ep.id, state=None, limit=100, before=None)
        return found

    def later(self, **delta: float) -> None:
        self.clock.now += timedelta(**delta)


@pytest.fixture
def setup(dynamodb_local_endpoint: str) -> Setup:
    return Setup(dynamodb_local_endpoint)


def test_every_attempt_fails_until_the_schedule_ends_then_the_message_has_failed(
    setup: Setup,
) -> None:
    with Receiver(always(500)) as receiver:
        setup.endpoint(receiver)
        (message,) = setup.deliver("F1")
        gaps = []
        while message.state == "pending":
            assert message.next_at is not None
            gaps.append((message.next_at - setup.clock.now).total_seconds())
            setup.clock.now = message.next_at
            assert setup.notifications.sweep() == 1
            (message,) = setup.messages()
        assert gaps == [5, 300, 1800, 7200, 18000, 36000, 36000]
        assert (message.state, message.attempt_count) == ("failed", ATTEMPTS)
        assert len(receiver.received) == ATTEMPTS
        assert setup.notifications.sweep() == 0  # nothing is due any more


def test_retry_after_is_honoured_up_to_the_longest_delay(setup: Setup) -> None:
    behaviour = lambda i, r: Answer(429, {"Retry-After": str(10**7)})  # noqa: E731
    with Receiver(behaviour) as receiver:
        setup.endpoint(receiver)
        (message,) = setup.deliver("RA1")
        assert message.next_at == START + timedelta(hours=10)


def test_an_endpoint_failing_for_five_days_is_disabled_and_its_messages_wait(
    setup: Setup,
) -> None:
    with Receiver(always(503)) as receiver:
        ep = setup.endpoint(receiver)
        setup.deliver("D1")
        assert setup.notifications.endpoint("demo", ep.id).failing_since == START
        setup.later(days=5)
        (late,) = [m for m in setup.deliver("D2") if m.tracking_number == "D2"]
        disabled = setup.notifications.endpoint("demo", ep.id)
        assert (disabled.enabled, disabled.disabled_reason) == (False, "failing")
        assert late.state == "paused" and "EndpointsDisabled" in setup.metrics
        assert [e.code for e in setup.audit.events][-1] == f"disabled.failing.{ep.id}"


def test_a_success_ends_the_failure_streak(setup: Setup) -> None:
    with Receiver(lambda i, r: Answer(500 if i == 0 else 200)) as receiver:
        ep = setup.endpoint(receiver)
        (message,) = setup.deliver("S1")
        assert setup.notifications.endpoint("demo", ep.id).failing_since == START
        setup.clock.now = message.next_at or START
        setup.notifications.sweep()
        assert setup.notifications.endpoint("demo", ep.id).failing_since is None
        assert [m.state for m in setup.messages()] == ["delivered"]


def test_deleting_an_endpoint_drops_what_it_had_not_received(setup: Setup) -> None:
    with Receiver(always(500)) as receiver:
        ep = setup.endpoint(receiver)
        (message,) = setup.deliver("X1")
        assert setup.notifications.delete_endpoint("demo", ep.id) == 1
        dropped = setup.notifications.notifier.messages.get("demo", ep.id, message.id)
        assert dropped.state == "dropped" and dropped.next_at is None
        setup.clock.now = message.next_at or START
        assert setup.notifications.sweep() == 0  # off the due index
        assert (
            setup.client.query(
                TableName=setup.table,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": endpoint_pk("demo")}},
            )["Items"]
            == []
        )


def test_recover_queues_failed_messages_since_a_time_and_resend_sends_one_now(
    setup: Setup,
) -> None:
    healthy = {"up": False}

    def behaviour(index: int, request: Received) -> Answer:
        return Answer(200 if healthy["up"] else 410)

    with Receiver(behaviour) as receiver:
        ep = setup.endpoint(receiver)
        (message,) = setup.deliver("RC1")
        assert message.state == "failed"  # 410: failed, and the endpoint disabled
        setup.notifications.set_enabled("demo", ep.id, True)
        healthy["up"] = True
        assert setup.notifications.recover("demo", ep.id, START + timedelta(days=1)) == 0
        assert setup.notifications.recover("demo", ep.id, START - timedelta(days=1)) == 1
        assert setup.notifications.sweep() == 1
        (recovered,) = setup.messages()
        assert recovered.state == "delivered"
        again = setup.notifications.resend("demo", ep.id, message.id)
        assert [a.trigger for a in again.attempts] == ["stream", "retry", "resend"]
        ids = {r.headers["webhook-id"] for r in receiver.received}
        assert ids == {message.id} and len(receiver.received) == 3


def test_two_sweepers_at_once_send_each_due_message_once(setup: Setup) -> None:
    with Receiver(lambda i, r: Answer(500 if i < 5 else 200)) as receiver:
        setup.endpoint(receiver)
        for n in range(5):
            setup.deliver(f"TW{n}")
        setup.later(seconds=5)
        counts: list[int] = []
        barrier = threading.Barrier(2)

        def sweep() -> None:
            barrier.wait()
            counts.append(setup.notifications.sweep())

        threads = [threading.Thread(target=sweep) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sum(counts) == 5 and len(receiver.received) == 10
        assert {m.state for m in setup.messages()} == {"delivered"}


def test_no_secret_is_stored_in_plaintext(setup: Setup) -> None:
    with Receiver() as receiver:
        _, secret = setup.notifications.create_endpoint("demo", EndpointSpec(url=receiver.url))
        ep = setup.notifications.endpoints("demo")[0]
        _, rotated = setup.notifications.rotate_secret("demo", ep.id)
        stored = setup.client.get_item(
            TableName=setup.table,
            Key={"pk": {"S": endpoint_pk("demo")}, "sk": {"S": f"N#{ep.id}"}},
        )["Item"]
        text = repr(stored)
        for plain in (secret, rotated, secret.removeprefix("whsec_")):
            assert plain not in text
        assert len(stored["secrets"]["L"]) == 2


def test_a_batch_short_of_time_leaves_its_attempts_to_the_sweeper(setup: Setup) -> None:
    with Receiver() as receiver:
        setup.endpoint(receiver)
        (message,) = setup.deliver("T1", deadline=time.monotonic() + 2)  # < 1 s + margin
        assert (message.state, message.attempt_count, message.next_at) == ("pending", 0, START)
        assert receiver.received == []
        assert setup.notifications.sweep(deadline=time.monotonic() + 2) == 1  # claimed only
        assert receiver.received == []
        assert setup.notifications.sweep() == 0  # its lease holds it for a minute
        setup.later(seconds=61)
        assert setup.notifications.sweep() == 1
        (delivered,) = setup.messages()
        assert delivered.state == "delivered" and len(receiver.received) == 1
