"""What one request of each kind costs, measured through the real Lambda handler.

The handler (with the daily hard cap and the DynamoDB audit, as on AWS) runs in process
against Amazon DynamoDB Local; EasyPost deliveries are signed as EasyPost signs them.
Per request kind, averaged over ``REPEAT`` shipments: write and read units as DynamoDB
reports them (table and index, audit included; the hard cap counts in process but never
flushes, its 1 WRU per 50 requests is modeled by :mod:`bench.pricing`), DynamoDB calls, CPU and
wall milliseconds of this process, bytes the handler logs (Powertools lines and the EMF
metrics blob) and the response's bytes. Stored bytes per item type come from reading the
table back at the end. Used by :mod:`bench.cost_model`.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import time
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from adapters.easypost import ADAPTER
from bench.pricing import Profile
from gateway.api.app import make_handler
from gateway.audit.outcomes import OutcomeLog
from gateway.local.dynamodb_local import DynamoDBLocal
from gateway.local.wiring import local_dynamodb
from gateway.observability import count, logger
from gateway.services import build_services
from gateway.signing.spec import split_signed
from gateway.store.capacity import item_bytes
from gateway.store.table import ensure_table
from gateway.tenancy.limits import UsageLimits
from gateway.tenancy.plans import plan_of
from gateway.testkit.capacity import IndexCapacity
from gateway.testkit.harness import TENANTS_DIR, DictSecrets, Harness

TABLE = "bench-profile"
SECRET = "bench-secret-not-real"  # noqa: S105 - a throwaway key for local signing
REPEAT = 20
FIXTURE = Path(__file__).resolve().parents[1] / "tests/fixtures/easypost"
T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
WEBHOOK = "/webhooks/acme/easypost"
HISTORY = 5  # events a shipment has before the measured delivery
KINDS = ("first", "new", "change", "one_event", "resend", "retry", "parked")
READS = ("get_shipment", "get_events", "search")
SEARCH = "/v1/shipments?status=in_transit&limit=20"


@functools.cache
def _tracker() -> dict[str, Any]:
    """The EasyPost fixture every body is made from (not mutated)."""
    return dict(json.loads((FIXTURE / "event_tracker_updated_full_history.json").read_bytes()))


def _detail(i: int, status: str) -> dict[str, Any]:
    base = dict(_tracker()["result"]["tracking_details"][3])
    stamp = (T0 + timedelta(hours=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return base | {"datetime": stamp, "status": status, "message": f"Scan {i} {status}"}


def _body(number: str, details: list[dict[str, Any]], event_id: str) -> bytes:
    tracker = _tracker()
    result = tracker["result"] | {"tracking_code": number, "tracking_details": details}
    result["status"] = details[-1]["status"] if details else "unknown"
    return json.dumps(tracker | {"id": event_id, "result": result}, separators=(",", ":")).encode()


def _history() -> list[dict[str, Any]]:
    return [_detail(0, "pre_transit")] + [_detail(i, "in_transit") for i in range(1, HISTORY)]


def _bodies(kind: str, number: str) -> tuple[bytes, bytes]:
    """(the seed delivery, the measured delivery) of one shipment; empty seed: none."""
    seed = _body(number, _history(), f"evt_seed_{number}")
    new_status = "out_for_delivery" if kind == "change" else "in_transit"
    new = _detail(HISTORY, new_status)
    measured = {
        "first": _body(number, [_detail(0, "pre_transit")], f"evt_{number}"),
        "new": _body(number, [*_history(), new], f"evt_{number}"),
        "change": _body(number, [*_history(), new], f"evt_{number}"),
        "one_event": _body(number, [new], f"evt_{number}"),
        "resend": _body(number, _history(), f"evt_again_{number}"),
        "retry": seed,
        "parked": json.dumps({"id": f"evt_{number}", "result": {"object": "Tracker",
                              "tracking_code": number, "tracking_details": [{}]}}).encode(),
    }[kind]  # fmt: skip
    return (b"" if kind in ("first", "parked") else seed), measured


class _Run:
    """The handler over DynamoDB Local with a metering client; one request at a time."""

    def __init__(self, client: Any) -> None:
        self.meter = IndexCapacity(client)
        secrets = DictSecrets({("acme", "easypost"): [SECRET]})
        services = build_services(
            dynamodb=self.meter, table_name=TABLE, tenants_dir=TENANTS_DIR, secrets=secrets,
            count=count,
        )  # fmt: skip
        plans = plan_of(services.pipeline.tenants)
        never = 10**9  # counted in process (its CPU is measured), never flushed: its units
        cap = UsageLimits(self.meter, TABLE, plans, flush_every=never, flush_seconds=never)
        # as gateway/aws/handler.py: verified deliveries counted, one outcome line logged
        audit = OutcomeLog(services.pipeline.audit)
        pipeline = replace(services.pipeline, usage=cap.admit, audit=audit)
        services = replace(services, limits=cap, pipeline=pipeline)  # units modeled: 1/50
        self.gw = Harness(make_handler(services), services, secrets, {})
        self.logs = io.StringIO()

    def post(self, body: bytes) -> Any:
        signed = ADAPTER.sign(body, SECRET, time.time())
        headers = split_signed(signed)[0] | {"Content-Type": "application/json"}
        return self.gw.call("POST", WEBHOOK, body=body, headers=headers, tenant="acme")

    def timed(self, call: Any) -> tuple[dict[str, float], Any]:
        """Run ``call()`` once; what it cost."""
        self.meter.reset()
        self.logs.seek(0)
        self.logs.truncate()
        cpu, wall = time.process_time(), time.perf_counter()
        with contextlib.redirect_stdout(self.logs):
            reply = call()
        cost = {
            "cpu_ms": (time.process_time() - cpu) * 1000,
            "wall_ms": (time.perf_counter() - wall) * 1000,
            "wru": self.meter.units["write", "table"] + self.meter.units["write", "index"],
            "rru": self.meter.units["read", "table"] + self.meter.units["read", "index"],
            "calls": float(len(self.meter.operations)),
            "log_bytes": float(len(self.logs.getvalue().encode())),
            "response_bytes": float(len(json.dumps(reply.body or "").encode())),
            "accepted": float((reply.body or {}).get("accepted", 0) or 0),
        }
        return cost, reply


def _average(samples: list[dict[str, float]]) -> Profile:
    return Profile(**{k: sum(s[k] for s in samples) / len(samples) for k in samples[0]})


def _profiles(run: _Run) -> dict[str, Profile]:
    samples: dict[str, list[dict[str, float]]] = defaultdict(list)
    for r in range(REPEAT + 1):  # round 0 warms the connection pool and caches, not counted
        for kind in KINDS:
            number = f"EZ{kind[:3].upper()}{r:04d}"
            seed, body = _bodies(kind, number)
            if seed:
                run.post(seed)
            cost, reply = run.timed(lambda body=body: run.post(body))
            assert reply.status in (200, 202), (kind, reply.status, reply.body)
            if r:
                samples[kind].append(cost)
        number = f"EZNEW{r:04d}"  # the "new" kind's shipment: 6 events
        urls = (f"/v1/shipments/{number}", f"/v1/shipments/{number}/events", SEARCH)
        for kind, url in zip(READS, urls, strict=True):
            cost, reply = run.timed(lambda url=url: run.gw.call("GET", url, tenant="acme"))
            assert reply.status == 200, (kind, reply.status)
            if r:
                samples[kind].append(cost)
    return {kind: _average(values) for kind, values in samples.items()}


def stored_bytes(client: Any) -> dict[str, float]:
    """Average bytes per item type in the table (events, states, audit, parked, counters)."""
    sizes: dict[str, list[int]] = defaultdict(list)
    kinds = {"A#": "audit", "P#": "parked", "L#": "counter"}
    for page in client.get_paginator("scan").paginate(TableName=TABLE):
        for item in page["Items"]:
            pk, sk = item["pk"]["S"], item["sk"]["S"]
            kind = kinds.get(pk[:2]) or {"E#": "event", "C#": "state"}.get(sk[:2], "other")
            sizes[kind].append(item_bytes(item))
    return {kind: sum(values) / len(values) for kind, values in sizes.items()}


def profile() -> tuple[dict[str, Profile], dict[str, float]]:
    """Every kind's :class:`Profile`, and the average stored bytes per item type."""
    with DynamoDBLocal(in_memory=True) as ddb:
        client = local_dynamodb(ddb.endpoint_url)
        ensure_table(client, TABLE)
        run = _Run(client)
        previous = logger.registered_handler.setStream(run.logs)  # type: ignore[attr-defined]
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # the seeds' EMF lines
                profiles = _profiles(run)
        finally:
            logger.registered_handler.setStream(previous)  # type: ignore[attr-defined]
        return profiles, stored_bytes(client)
