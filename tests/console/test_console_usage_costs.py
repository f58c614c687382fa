"""The tenants pages on DynamoDB Local: usage as the quota and hard cap count it (the
counters of :class:`~gateway.tenancy.limits.UsageLimits`, keyed ``/v1`` calls included),
and the month's modeled cost, read once per few minutes per process.

The gateway here is wired as on AWS (``gateway/aws/handler.py``): ``UsageLimits`` counts
``/v1`` calls in the API's middleware and verified deliveries in ingest, and flushes every
request (``flush_every=1``), so the page sees each one. The console has its own clock.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters import standard_webhooks
from gateway.api.app import make_handler
from gateway.cli import main
from gateway.console.app import Console, ConsoleConfig
from gateway.console.credential import reset_credential
from gateway.console.reads import COUNTER_SHARDS, Reads
from gateway.console.usage import CostCache
from gateway.costs.counts import month_days
from gateway.local.server import build_asgi_app, make_server
from gateway.local.wiring import build_local_gateway
from gateway.store.capacity import CapacityMeter
from gateway.store.keys import AUDIT_SHARDS
from gateway.tenancy.limits import UsageLimits, counter_key
from gateway.tenancy.plans import plan_of
from tests.console.conftest import NUMBER, SECRET, TENANT, csrf_of, tracking_body

pytestmark = pytest.mark.integration

DAILY = "daily"  # a second tenant on the free plan (a daily quota), without traffic


@dataclass
class Clock:
    """The console's clock, moved by the test."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Counted:
    """A gateway wired as on AWS, its console, and every DynamoDB call (action, params)."""

    url: str
    key: str
    credential: str
    clock: Clock
    gateway: Any
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def deliver(self) -> None:
        """One signed delivery (verified: counted by ingest), its windows flushed."""
        raw = json.dumps(tracking_body(NUMBER, "Arrived at hub", 30)).encode()
        headers = standard_webhooks.ADAPTER.sign(
            raw, SECRET, time.time(), delivery_id=f"msg_{uuid.uuid4().hex}"
        )
        headers |= {"content-type": "application/json"}
        path = f"{self.url}/webhooks/{TENANT}/standard_webhooks"
        assert httpx.post(path, content=raw, headers=headers).status_code == 200
        self.gateway.services.pipeline.audit.flush(final=True)

    def since(self, mark: int, action: str) -> list[dict[str, Any]]:
        return [params for name, params in self.calls[mark:] if name == action]


@pytest.fixture
def counted(
    dynamodb_local_endpoint: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Iterator[Counted]:
    tenants = tmp_path / "tenants"
    tenants.mkdir()
    (tenants / f"{TENANT}.toml").write_text(
        'name = "Shop"\n[carriers.standard_webhooks]\nenabled = true\n'
    )
    (tenants / f"{DAILY}.toml").write_text('name = "Daily"\nplan = "free"\n')
    state = tmp_path / "state"
    common = ["--state-dir", str(state), "--tenants-dir", str(tenants)]
    assert main(["secrets", "set", TENANT, "standard_webhooks", "--value", SECRET, *common]) == 0
    assert main(["keys", "issue", TENANT, *common]) == 0
    key = capsys.readouterr().out.strip().splitlines()[-1]
    gateway = build_local_gateway(
        state_dir=state,
        endpoint_url=dynamodb_local_endpoint,
        tenants_dir=tenants,
        table_name=f"usage-{uuid.uuid4().hex[:8]}",
    )
    services = gateway.services
    client, table = services.store.client, services.store.table
    limits = UsageLimits(client, table, plan_of(services.pipeline.tenants), flush_every=1)
    pipeline = replace(services.pipeline, usage=limits.admit)
    services = replace(services, pipeline=pipeline, limits=limits)
    gateway = replace(gateway, services=services)
    calls: list[tuple[str, dict[str, Any]]] = []
    real = client._make_api_call

    def recorded(operation: str, params: dict[str, Any]) -> Any:
        calls.append((operation, params))
        assert operation != "Scan"
        return real(operation, params)

    monkeypatch.setattr(client, "_make_api_call", recorded)
    clock = Clock(datetime.now(UTC))
    console = Console(replace(services, clock=clock), ConsoleConfig(state, tenants))
    app = build_asgi_app(make_handler(services), gateway.resolve_api_key, console=console)
    server = make_server(app, "127.0.0.1", 0)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    try:
        yield Counted(url, key, reset_credential(state), clock, gateway, calls)
    finally:
        server.should_exit = True
        thread.join(10)


@contextlib.contextmanager
def logged_in(counted: Counted) -> Iterator[httpx.Client]:
    """An HTTP client with a console session."""
    with httpx.Client(base_url=counted.url, timeout=20, follow_redirects=False) as http:
        page = http.get("/console/login").text
        form = {"csrf": csrf_of(page), "credential": counted.credential}
        assert http.post("/console/login", data=form).status_code == 303
        yield http


def read_units(page: str) -> float:
    found = re.search(r'id="read-cost">This page read (\d+\.\d) read units', page)
    assert found, page[:300]
    return float(found[1])


def window_queries(params: list[dict[str, Any]]) -> list[str]:
    """The audit partitions (``A#tenant#day#shard``) these Queries read."""
    found = [p["ExpressionAttributeValues"][":pk"]["S"] for p in params]
    return [pk for pk in found if pk.startswith("A#")]


def test_usage_counts_keyed_v1_calls_and_deliveries_as_the_quota_does(counted: Counted) -> None:
    keyed = {"x-api-key": counted.key}
    for _ in range(3):
        assert httpx.get(f"{counted.url}/v1/endpoints", headers=keyed).status_code == 200
    assert httpx.get(f"{counted.url}/v1/endpoints").status_code == 401  # unkeyed: not counted
    counted.deliver()  # verified: counted by ingest
    month = f"{counted.clock.now:%Y-%m}"
    with logged_in(counted) as http:
        mark = len(counted.calls)
        tenants = http.get("/console/tenants").text
        (batch,) = counted.since(mark, "BatchGetItem")  # every tenant's shards at once
        tenant = http.get(f"/console/tenants/{TENANT}").text
    row = re.search(rf'<tr id="tenant-{TENANT}">.*?</tr>', tenants, re.S)
    assert row, tenants
    assert '<td class="today">4</td>' in row[0] and '<td class="month">4</td>' in row[0]
    assert "<td>1000000</td>" in row[0]  # standard: a monthly quota
    quiet = re.search(rf'<tr id="tenant-{DAILY}">.*?</tr>', tenants, re.S)
    assert quiet and re.search(r'"today">0</td>\s*<td>3000</td>\s*<td>6000</td>', quiet[0])
    wanted = [counter_key(t, month, s) for t in (DAILY, TENANT) for s in range(COUNTER_SHARDS)]
    (request,) = batch["RequestItems"].values()
    assert request["Keys"] == wanted
    assert re.search(r'id="usage-today">4; hard cap \d+/day<', tenant), tenant
    assert 'id="usage-month">4 of monthly quota 1000000<' in tenant
    assert 'id="outcomes-today">accepted 1 (webhook)<' in tenant  # the audit's view, by outcome


def test_the_month_cost_is_read_once_then_kept_until_it_expires(counted: Counted) -> None:
    counted.deliver()
    start = counted.clock.now

    def month_queries() -> int:
        return len(AUDIT_SHARDS) * len(month_days(f"{counted.clock.now:%Y-%m}"))

    with logged_in(counted) as http:
        mark = len(counted.calls)
        first = http.get("/console/tenants").text
        assert len(window_queries(counted.since(mark, "Query"))) == 2 * month_queries()
        assert f'id="cost-as-of">{start:%H:%M}Z<' in first

        mark = len(counted.calls)
        tenant = http.get(f"/console/tenants/{TENANT}").text  # the cached month; today's windows
        assert len(window_queries(counted.since(mark, "Query"))) == len(AUDIT_SHARDS)
        assert f'id="cost-as-of">{start:%H:%M}Z<' in tenant and 'id="cost">$' in tenant

        counted.clock.now = start + timedelta(minutes=4, seconds=59)
        mark = len(counted.calls)
        again = http.get("/console/tenants").text
        assert window_queries(counted.since(mark, "Query")) == []
        assert [name for name, _ in counted.calls[mark:]] == ["BatchGetItem"]  # the counters
        assert read_units(again) < read_units(first)
        assert f'id="cost-as-of">{start:%H:%M}Z<' in again

        counted.clock.now = start + timedelta(minutes=5)
        mark = len(counted.calls)
        expired = http.get("/console/tenants").text
        assert len(window_queries(counted.since(mark, "Query"))) == 2 * month_queries()
        assert f'id="cost-as-of">{counted.clock.now:%H:%M}Z<' in expired


def test_one_batch_reads_a_hundred_keys_and_maps_each_counter_to_its_tenant(
    counted: Counted,
) -> None:
    services = counted.gateway.services
    client, table = services.store.client, services.store.table
    now = datetime.now(UTC)
    plans = plan_of(services.pipeline.tenants)
    other = UsageLimits(client, table, lambda t: plans(TENANT), flush_every=1)
    for _ in range(2):
        other.admit("t29")
    meter = CapacityMeter()
    reads = Reads(client, table, services.notifications.notifier.endpoints.sealer, meter)
    mark = len(counted.calls)
    usage = reads.usage([f"t{n}" for n in range(30)], now)
    batches = counted.since(mark, "BatchGetItem")
    assert [len(b["RequestItems"][table]["Keys"]) for b in batches] == [100, 20]
    assert usage["t29"].today == usage["t29"].month == 2
    assert sum(u.month for u in usage.values()) == 2
    assert meter.read_units > 0


def test_the_console_reads_as_many_counter_shards_as_usage_limits_writes() -> None:
    assert UsageLimits(None, "table", lambda _: None).shards == COUNTER_SHARDS


def test_the_cost_cache_is_keyed_by_table_month_and_tenants() -> None:
    cache, at = CostCache(seconds=60), datetime(2026, 12, 5, 9, tzinfo=UTC)
    computed: list[tuple[Any, ...]] = []

    def get(key: tuple[Any, ...], now: datetime) -> datetime:
        return cache.get(key, now, lambda: computed.append(key) or []).as_of

    assert get(("t", "2026-12", ("a",)), at) == at
    assert get(("t", "2026-12", ("a",)), at + timedelta(seconds=30)) == at
    assert get(("t", "2026-12", ("a", "b")), at + timedelta(seconds=30)) != at  # a new tenant
    assert get(("u", "2026-12", ("a",)), at + timedelta(seconds=30)) != at  # another table
    assert get(("t", "2026-12", ("a",)), at - timedelta(seconds=1)) != at  # the clock went back
    assert len(computed) == 4
