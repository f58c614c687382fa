"""Notifications: latency from a webhook's 200 to the tenant's endpoint, rate, units, cost.

Run: ``.venv/bin/python -m bench.notifications``. Section ``notify``.

* **Latency** (``waybill serve --in-memory`` in a subprocess, its stream reader and
  sweeper as they run for everyone): signed EasyPost webhooks, each a new shipment, one
  at a time at a steady pace; for each, the time from the client reading the 200 to the
  loopback receiver (a real HTTP server in this process) having the message. Target:
  p50 ≤ 1 s.
* **Rate**: 1,000 new events waiting on the stream, drained to one endpoint by the
  local stream reader (the notifier's own pace, not the webhooks').
* **Units** (in process, on DynamoDB Local): what the webhook's write costs with and
  without an endpoint registered (target: 0 extra), and what one notification costs
  the notifier when its first attempt succeeds (target ≤ 2 write units, failed
  conditional writes counted).
* **Cost per million notifications on AWS**, from those units, ``bench/prices.toml`` and
  the stated assumptions of :class:`NotifyAssumptions`.
"""

from __future__ import annotations

import contextlib
import io
import json
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bench.load import percentile
from bench.peer_bodies import single_events
from bench.pricing import load_prices
from bench.report import Measure, print_rows
from bench.served import REPO, ServedGateway
from gateway.local.dynamodb_local import DynamoDBLocal
from gateway.local.wiring import background, build_local_gateway
from gateway.notify.endpoints import EVENT_ADDED, STATUS_CHANGED
from gateway.notify.service import EndpointSpec
from gateway.notify.stream import PARALLEL_SENDS
from gateway.testkit.events import make_event
from gateway.testkit.receiver import Receiver

SECTION = "notify"
LATENCY_COUNT, PACE_S = 150, 0.05
BACKLOG = 1000
UNITS_COUNT = 40


@dataclass(frozen=True)
class NotifyAssumptions:
    """What the cost model does not measure here, each with its reason."""

    batch_records: float = 100.0  # the event source mapping's batch size (infra)
    records_per_message: float = 2.0  # an event INSERT and the state MODIFY of a status change
    endpoint_ms: float = 250.0  # a tenant endpoint's answer time, typical of a small app
    parallel_sends: float = 8.0  # gateway/notify/stream.py PARALLEL_SENDS
    memory_gb: float = 0.5
    body_bytes: float = 1500.0  # a message with its canonical event, plus headers
    log_bytes_per_batch: float = 400.0  # one INFO line and the EMF blob per invocation
    message_bytes: float = 700.0  # a delivered message item, with one attempt
    message_months: float = 1.0  # messages are kept 30 days (gateway/notify/stream.py)
    item_overhead: float = 100.0


def _latency_and_rate() -> list[Measure]:
    with tempfile.TemporaryDirectory() as root, ServedGateway(Path(root)) as served:
        gateway = build_local_gateway(
            state_dir=served.state_dir,
            endpoint_url=served.endpoint,
            tenants_dir=Path(root) / "tenants",
        )
        with Receiver() as receiver:
            spec = EndpointSpec(url=receiver.url, types=(STATUS_CHANGED,))
            gateway.services.notifications.create_endpoint(served.tenant, spec)
            url = f"{served.url}/webhooks/{served.tenant}/{served.carrier}"
            answered: dict[str, float] = {}
            with httpx.Client() as client:
                for body, headers in single_events(served.secret, "L", LATENCY_COUNT):
                    response = client.post(url, content=body, headers=headers)
                    answered[json.loads(body)["result"]["tracking_code"]] = time.monotonic()
                    response.raise_for_status()
                    time.sleep(PACE_S)
            arrived = receiver.wait_for(LATENCY_COUNT, timeout=30)
            lags = [
                (r.at - answered[json.loads(r.body)["data"]["tracking_number"]]) * 1000
                for r in arrived
            ]
            rows = [
                Measure(
                    SECTION,
                    "webhook 200 -> endpoint, p50",
                    statistics.median(lags),
                    "ms",
                    1000.0,
                    f"n={len(lags)} of {LATENCY_COUNT}, one at a time",
                ),
                Measure(SECTION, "webhook 200 -> endpoint, p99", percentile(lags, 99), "ms"),
            ]
    return rows


def _backlog_rate() -> Measure:
    """A backlog of new events on the stream, drained to one endpoint as fast as it goes."""
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as state, DynamoDBLocal(in_memory=True) as ddb:
        gateway = build_local_gateway(
            state_dir=Path(state), endpoint_url=ddb.endpoint_url, tenants_dir=REPO / "tenants"
        )
        with Receiver() as receiver:
            spec = EndpointSpec(url=receiver.url, types=(STATUS_CHANGED,))
            gateway.services.notifications.create_endpoint("demo", spec)
            for i in range(BACKLOG):
                event = make_event(0, tenant="demo", tracking_number=f"Q{i:05d}")
                gateway.services.store.record(
                    [event], delivery_key=f"q{i}", now=now, retention_days=30
                )
            workers = background(gateway, ddb.endpoint_url, None)
            started = time.monotonic()
            workers.start()
            try:
                arrived = receiver.wait_for(BACKLOG, timeout=120)
            finally:
                workers.stop()
    span = arrived[-1].at - started if arrived else float("nan")
    note = f"{len(arrived)} of {BACKLOG} from a stream backlog, {PARALLEL_SENDS} sends in parallel"
    return Measure(
        SECTION, "notifications/s to one endpoint", len(arrived) / span, "/s", None, note
    )


def _units() -> list[Measure]:
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as state, DynamoDBLocal(in_memory=True) as ddb:
        gateway = build_local_gateway(
            state_dir=Path(state), endpoint_url=ddb.endpoint_url, tenants_dir=REPO / "tenants"
        )
        workers = background(gateway, ddb.endpoint_url, None, sweep_every=0.1)
        workers.start()
        store, notifications = gateway.services.store, gateway.services.notifications
        meter, notify = store.meter, notifications.notifier.messages.meter

        def ingest(tag: str) -> float:
            meter.reset()
            for i in range(UNITS_COUNT):
                event = make_event(0, tenant="demo", tracking_number=f"U{tag}{i:04d}")
                store.record([event], delivery_key=uuid.uuid4().hex, now=now, retention_days=30)
            return meter.billed_write_units / UNITS_COUNT

        try:
            without = ingest("A")
            with Receiver() as receiver:
                spec = EndpointSpec(url=receiver.url, types=(STATUS_CHANGED, EVENT_ADDED))
                time.sleep(2)  # the stream reader is past the records written without one
                notifications.create_endpoint("demo", spec)
                notify.reset()
                with_endpoint = ingest("B")
                receiver.wait_for(2 * UNITS_COUNT, timeout=30)
                time.sleep(0.5)
                messages = len(receiver.received)
                written, read = notify.billed_write_units, notify.read_units
        finally:
            workers.stop()
    per_message = written / messages
    return [
        Measure(
            SECTION,
            "ingest WU per new event, with an endpoint",
            with_endpoint - without,
            "WU",
            0.0,
            f"{with_endpoint:g} with, {without:g} without",
        ),
        Measure(
            SECTION,
            "notifier WU per first-attempt success",
            per_message,
            "WU",
            2.0,
            f"{messages} messages, failed writes counted",
        ),
        Measure(
            SECTION,
            "notifier RCU per message",
            read / messages,
            "RCU",
            None,
            "endpoints once per batch, the state for an event_added",
        ),
        *_cost(per_message, read / messages),
    ]


def _cost(wru: float, rru: float, a: NotifyAssumptions | None = None) -> list[Measure]:
    """Dollars per million notifications delivered on their first attempt (AWS model)."""
    a = a or NotifyAssumptions()
    prices = load_prices()
    dynamodb, aws_lambda = prices["dynamodb"], prices["lambda"]
    batches = 1e6 / (a.batch_records / a.records_per_message)  # invocations per 1M messages
    invocation_s = (a.batch_records / a.records_per_message) * a.endpoint_ms / 1000
    invocation_s /= a.parallel_sends
    stored_gb_months = 1e6 * (a.message_bytes + a.item_overhead) / 1e9 * a.message_months
    per_million = {
        "DynamoDB writes": wru * dynamodb["wru_per_million"],
        "DynamoDB reads": rru * dynamodb["rru_per_million"],
        "DynamoDB storage + PITR": stored_gb_months
        * (dynamodb["storage_gb_month"] + dynamodb["pitr_gb_month"]),
        "Lambda requests": batches * aws_lambda["per_million_requests"] / 1e6,
        "Lambda duration": batches * invocation_s * a.memory_gb * aws_lambda["arm_gb_second"],
        "data transfer out": 1e6 * a.body_bytes / 1e9 * prices["data_transfer"]["out_gb"],
        "CloudWatch Logs": batches
        * a.log_bytes_per_batch
        / 1e9
        * prices["cloudwatch"]["logs_ingest_gb"],
    }
    total = sum(per_million.values())
    top = max(per_million, key=lambda k: per_million[k])
    rows = [
        Measure("notify_cost", f"$/1M notifications: {k}", v, "$") for k, v in per_million.items()
    ]
    note = f"{top} {per_million[top] / total:.0%}; Lambda's stream reads are free"
    rows.append(Measure("notify_cost", "$/1M notifications: total", total, "$", None, note))
    return rows


def measure() -> list[Measure]:
    """Units and cost in process, then latency and rate through ``waybill serve``.

    The in-process notifier's EMF metrics (printed as Powertools flushes them) are
    dropped: they are not the bench's output.
    """
    with contextlib.redirect_stdout(io.StringIO()):
        in_process = [*_units(), _backlog_rate()]
    return [*in_process, *_latency_and_rate()]


def main() -> None:
    """Print the rows."""
    print_rows(measure())


if __name__ == "__main__":
    main()
