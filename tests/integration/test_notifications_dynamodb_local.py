"""Notifications end to end on the real engine: HTTP → DynamoDB Local → its stream →
the stream reader of ``waybill serve`` → a loopback receiver, verified with the official
``standardwebhooks`` package; retries swept from the due index.

The retry schedule runs at 1/1000 of its speed (5 min → 0.3 s), the sweeper ticks every
50 ms, and an attempt times out after 1 s: the code paths are the production ones.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from gateway.cli import main
from gateway.local.dynamodb_local import DynamoDBLocal
from gateway.local.runtime import read_runtime
from gateway.local.streams import Background
from gateway.local.wiring import LocalGateway, background, build_local_gateway
from gateway.models import CanonicalEvent, Status
from gateway.notify.endpoints import EVENT_ADDED, STATUS_CHANGED, Endpoint
from gateway.notify.service import EndpointSpec, Notifications
from gateway.testkit.edge import edge_on_thread
from gateway.testkit.events import make_event
from gateway.testkit.receiver import Answer, Received, Receiver, always, fail_first, slow_first

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
NOW = datetime.now(UTC).replace(microsecond=0)
SCALE = 0.001


@dataclass
class Running:
    gateway: LocalGateway
    workers: Background
    url: str
    state: Path

    @property
    def notifications(self) -> Notifications:
        return self.gateway.services.notifications

    def store(self, *events: CanonicalEvent, key: str | None = None) -> None:
        self.gateway.services.store.record(
            list(events), delivery_key=key or uuid.uuid4().hex, now=NOW, retention_days=30
        )


@pytest.fixture
def running(
    dynamodb_local_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Running]:
    monkeypatch.chdir(REPO)  # `waybill send` finds fixtures by name from the repo root
    state = tmp_path / "state"
    gateway = build_local_gateway(
        state_dir=state,
        endpoint_url=dynamodb_local_endpoint,
        tenants_dir=REPO / "tenants",
        table_name=f"notify-{uuid.uuid4().hex[:8]}",
        retry_scale=SCALE,
    )
    gateway.services.notifications.notifier.timeout = 1.0
    workers = background(gateway, dynamodb_local_endpoint, state, sweep_every=0.05)
    workers.start()
    with edge_on_thread(gateway) as url:
        yield Running(gateway, workers, url, state)
    workers.stop()


def endpoint(
    running: Running, receiver: Receiver, *types: str, tenant: str = "demo"
) -> tuple[Endpoint, str]:
    spec = EndpointSpec(url=receiver.url, types=types or (STATUS_CHANGED,))
    return running.notifications.create_endpoint(tenant, spec)


def verified(received: Received, secret: str) -> dict[str, object]:
    """The message, verified as a receiver using the official package would."""
    payload: dict[str, object] = Webhook(secret).verify(received.body, received.headers)
    return payload


def quiet(receiver: Receiver, seconds: float = 0.8) -> int:
    """How many requests arrived, after giving the stream and the sweeper time."""
    time.sleep(seconds)
    return len(receiver.received)


def test_a_webhook_notifies_its_status_change_once_and_duplicates_notify_nothing(
    running: Running, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["--state-dir", str(running.state)]
    assert main(["secrets", "set", "demo", "easypost", "--generate", *common]) == 0
    fixture = ["send", "easypost", "event_tracker_updated_full_history", "--tenant", "demo"]
    with Receiver() as receiver:
        _, secret = endpoint(running, receiver)
        assert main([*fixture, "--url", running.url, *common]) == 0
        assert capsys.readouterr().out.strip().splitlines()[-1].startswith("200")
        (first,) = receiver.wait_for(1)
        message = verified(first, secret)
        assert message["type"] == STATUS_CHANGED
        data = message["data"]
        assert isinstance(data, dict) and data["status"] == "delivered"
        assert data["event"]["status"] == "delivered" and data["previous_status"] is None
        assert main([*fixture, "--url", running.url, *common]) == 0  # the carrier's retry
        assert quiet(receiver) == 1  # a duplicate delivery notifies nothing


def test_each_new_event_and_each_status_move_is_one_message_with_a_stable_id(
    running: Running,
) -> None:
    with Receiver() as receiver:
        _, secret = endpoint(running, receiver, STATUS_CHANGED, EVENT_ADDED)
        running.store(make_event(0, tenant="demo", tracking_number="N1"))
        running.store(make_event(1, tenant="demo", tracking_number="N1"))  # status kept
        moved = make_event(2, tenant="demo", tracking_number="N1", status=Status.OUT_FOR_DELIVERY)
        running.store(moved)
        arrived = receiver.wait_for(5)
        kinds = sorted((verified(r, secret)["type"], r.headers["webhook-id"]) for r in arrived)
        assert [k for k, _ in kinds].count(EVENT_ADDED) == 3
        assert [k for k, _ in kinds].count(STATUS_CHANGED) == 2
        assert len({i for _, i in kinds}) == 5  # one id per (event, type)
        running.store(*(make_event(i, tenant="demo", tracking_number="N1") for i in range(2)))
        assert quiet(receiver) == 5  # a resend of known events notifies nothing
        last = max(arrived, key=lambda r: r.at)
        change = [
            verified(r, secret) for r in arrived if verified(r, secret)["type"] == STATUS_CHANGED
        ]
        newest = max(change, key=lambda m: str(m["data"]["event"]["occurred_at"]))  # type: ignore[index]
        assert newest["data"]["status"] == "out_for_delivery"  # type: ignore[index]
        assert newest["data"]["previous_status"] == "in_transit"  # type: ignore[index]
        assert last.headers["webhook-id"].startswith("msg_")


def test_failed_attempts_are_retried_with_the_same_id_until_one_succeeds(running: Running) -> None:
    with Receiver(fail_first(2, status=500)) as receiver:
        ep, secret = endpoint(running, receiver)
        running.store(make_event(0, tenant="demo", tracking_number="R1"))
        arrived = receiver.wait_for(3)
        assert [r.headers["webhook-id"] for r in arrived] == [arrived[0].headers["webhook-id"]] * 3
        assert arrived[1].at - arrived[0].at >= 5 * SCALE
        assert arrived[2].at - arrived[1].at >= 300 * SCALE  # 5 minutes, scaled
        assert {verified(r, secret)["type"] for r in arrived} == {STATUS_CHANGED}
        assert quiet(receiver, 0.5) == 3
        (message,) = running.notifications.messages("demo", ep.id, state=None, limit=5, before=None)
        assert message.state == "delivered"
        assert [a.status for a in message.attempts] == [500, 500, 200]
        assert [a.trigger for a in message.attempts] == ["stream", "retry", "retry"]


def test_retry_after_lengthens_the_wait(running: Running) -> None:
    behaviour = fail_first(1, status=503, headers={"Retry-After": "900"})  # 15 min > 5 s
    with Receiver(behaviour) as receiver:
        endpoint(running, receiver)
        running.store(make_event(0, tenant="demo", tracking_number="RA1"))
        first, second = receiver.wait_for(2)
        assert second.at - first.at >= 900 * SCALE


def test_a_slow_answer_is_a_failed_attempt(running: Running) -> None:
    with Receiver(slow_first(1, delay=1.5)) as receiver:
        ep, _ = endpoint(running, receiver)
        running.store(make_event(0, tenant="demo", tracking_number="SLOW1"))
        assert len(receiver.wait_for(2)) == 2
        time.sleep(0.3)
        (message,) = running.notifications.messages("demo", ep.id, state=None, limit=5, before=None)
        assert [(a.status, a.error) for a in message.attempts] == [(None, "timeout"), (200, None)]


def test_410_disables_the_endpoint_and_its_messages_wait_for_enable(running: Running) -> None:
    gone = {"flag": True}

    def behaviour(index: int, request: Received) -> Answer:
        return Answer(410 if gone["flag"] else 200)

    with Receiver(behaviour) as receiver:
        ep, secret = endpoint(running, receiver)
        running.store(make_event(0, tenant="demo", tracking_number="G1"))
        receiver.wait_for(1)
        assert quiet(receiver, 0.5) == 1  # a 410 is not retried
        disabled = running.notifications.endpoint("demo", ep.id)
        assert (disabled.enabled, disabled.disabled_reason) == (False, "gone")
        running.store(make_event(0, tenant="demo", tracking_number="G2"))
        assert quiet(receiver) == 1  # paused, not sent
        states = {
            m.tracking_number: m.state
            for m in running.notifications.messages("demo", ep.id, state=None, limit=5, before=None)
        }
        assert states == {"G1": "failed", "G2": "paused"}
        gone["flag"] = False
        running.notifications.set_enabled("demo", ep.id, True)
        second = receiver.wait_for(2)[1]
        assert verified(second, secret)["data"]["tracking_number"] == "G2"  # type: ignore[index]


def test_during_a_rotation_both_secrets_verify(running: Running) -> None:
    with Receiver() as receiver:
        ep, old = endpoint(running, receiver)
        _, new = running.notifications.rotate_secret("demo", ep.id, grace_seconds=3600)
        running.store(make_event(0, tenant="demo", tracking_number="ROT1"))
        (message,) = receiver.wait_for(1)
        assert len(message.headers["webhook-signature"].split(" ")) == 2
        assert verified(message, old) == verified(message, new)
        _, newest = running.notifications.rotate_secret("demo", ep.id, grace_seconds=0)
        running.store(make_event(0, tenant="demo", tracking_number="ROT2"))
        second = receiver.wait_for(2)[1]
        assert len(second.headers["webhook-signature"].split(" ")) == 2  # newest, old (in grace)
        assert verified(second, newest) == verified(second, old)
        with pytest.raises(WebhookVerificationError):
            verified(second, new)  # rotated out with no grace


def test_another_tenants_shipments_never_reach_an_endpoint(running: Running) -> None:
    with Receiver() as receiver:
        endpoint(running, receiver, tenant="demo")
        running.store(make_event(0, tenant="hooli", tracking_number="OTHER1"))
        assert quiet(receiver) == 0


def test_a_notification_costs_nothing_on_ingest_and_two_write_units_when_it_succeeds(
    running: Running,
) -> None:
    services = running.gateway.services
    meter, notify_meter = services.store.meter, running.notifications.notifier.messages.meter
    with Receiver(always(200)) as receiver:
        meter.reset()
        running.store(make_event(0, tenant="demo", tracking_number="COST0"))
        without = (meter.write_units, meter.read_units)
        endpoint(running, receiver)
        time.sleep(0.3)
        notify_meter.reset()
        meter.reset()
        running.store(make_event(0, tenant="demo", tracking_number="COST1"))
        assert (meter.write_units, meter.read_units) == without  # nothing added on ingest
        receiver.wait_for(1)
        time.sleep(0.3)
        assert notify_meter.billed_write_units == 2  # the message's put and its outcome
        body = json.loads(receiver.received[0].body)
        assert set(body) == {"type", "timestamp", "data"}


def test_an_unreachable_endpoint_fails_its_attempts_without_blocking_others(
    running: Running,
) -> None:
    with Receiver() as good:
        dead = EndpointSpec(url="http://127.0.0.1:9/hook")  # discard port: refused
        bad, _ = running.notifications.create_endpoint("demo", dead)
        endpoint(running, good)
        running.store(make_event(0, tenant="demo", tracking_number="DEAD1"))
        assert len(good.wait_for(1)) == 1
        time.sleep(0.3)
        (message,) = running.notifications.messages(
            "demo", bad.id, state=None, limit=5, before=None
        )
        assert message.attempts[0].error == "connect_failed"
        assert message.state in ("pending", "failed")


def _serve(state: Path) -> subprocess.Popen[str]:
    """``waybill serve`` on its own data, retries at 1/100 speed; returns once it listens."""
    command = [str(Path(sys.executable).parent / "waybill"), "serve", "--port", "0"]
    command += ["--state-dir", str(state), "--retry-scale", "0.01"]
    process = subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert process.stdout is not None
    for line in process.stdout:
        if "listening on" in line:
            return process
    raise AssertionError(f"waybill serve did not start (exit {process.wait()})")


def _kill(process: subprocess.Popen[str], data_dir: Path) -> None:
    """SIGKILL the server and the DynamoDB Local it started (no clean shutdown at all)."""
    process.kill()
    process.wait(timeout=10)
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if str(data_dir).encode() in cmdline.read_bytes():
                os.kill(int(cmdline.parent.name), signal.SIGKILL)
        except (OSError, ValueError):
            continue
    time.sleep(0.5)


def test_a_killed_server_sends_its_pending_attempts_and_unread_records_after_a_restart(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    up = {"flag": False}

    def behaviour(index: int, request: Received) -> Answer:
        return Answer(200 if up["flag"] else 500)

    server = _serve(state)
    try:
        with Receiver(behaviour) as receiver:
            endpoint_url = read_runtime(state)["dynamodb_endpoint"]  # type: ignore[index]
            gateway = build_local_gateway(
                state_dir=state, endpoint_url=endpoint_url, tenants_dir=REPO / "tenants"
            )
            notifications = gateway.services.notifications
            ep, secret = notifications.create_endpoint("demo", EndpointSpec(url=receiver.url))
            record = gateway.services.store.record
            record(
                [make_event(0, tenant="demo", tracking_number="K1")],
                delivery_key="k1",
                now=NOW,
                retention_days=30,
            )
            first, _ = receiver.wait_for(2)  # immediately, then 5 s x 0.01: both failed
            for _ in range(100):  # until the second failure is recorded: a retry is pending
                (message,) = notifications.messages("demo", ep.id, state=None, limit=1, before=None)
                if message.attempt_count == 2:
                    break
                time.sleep(0.05)
            assert (message.state, message.attempt_count) == ("pending", 2)
            _kill(server, state / "dynamodb")
            with DynamoDBLocal(data_dir=state / "dynamodb") as ddb:  # nothing reads the stream
                offline = build_local_gateway(
                    state_dir=state, endpoint_url=ddb.endpoint_url, tenants_dir=REPO / "tenants"
                )
                offline.services.store.record(
                    [make_event(0, tenant="demo", tracking_number="K2")],
                    delivery_key="k2",
                    now=NOW,
                    retention_days=30,
                )
            up["flag"] = True
            server = _serve(state)
            after = receiver.wait_for(4, timeout=20)[2:]
            ids = {r.headers["webhook-id"] for r in after}
            assert first.headers["webhook-id"] in ids  # the pending retry, after the restart
            numbers = {verified(r, secret)["data"]["tracking_number"] for r in after}  # type: ignore[index]
            assert numbers == {"K1", "K2"}  # and the record written while nobody read the stream
            assert quiet(receiver, 1.5) == 4
    finally:
        server.terminate()
        server.wait(timeout=30)
