"""Throttling end to end: the local edge (ASGI app) and the handler's hard cap (AWS path).

The edge's token buckets stand in for API Gateway's rate and burst: a ``/v1`` key's
bucket, and a webhook route's own bucket in front of the signature check (fake handler,
fake clock). The quota and the daily hard cap are counted in code, locally as on AWS, by
``UsageLimits`` in the table: ``/v1`` calls by the API key's tenant (the handler's
middleware), webhook deliveries once their signature is verified (ingest). Locally that
is the gateway ``waybill serve`` builds (``build_local_gateway``), on DynamoDB Local,
flushing every request, so the console's usage is exact. Every refusal is a 429 with
``Retry-After`` and a body naming the limit.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters import easypost
from gateway.api.app import make_handler
from gateway.audit.query import read_audit
from gateway.carriers.discovery import load_adapters
from gateway.cli import main
from gateway.console.reads import COUNTER_SHARDS, Reads
from gateway.console.usage import Usage
from gateway.local.server import build_asgi_app
from gateway.local.streams import Periodic
from gateway.local.throttle import EdgeThrottle
from gateway.local.wiring import LocalGateway, background, build_local_gateway
from gateway.notify.sealing import Sealer, local_key
from gateway.store.capacity import CapacityMeter
from gateway.tenancy.directory import TenantDirectory
from gateway.tenancy.limits import MONTH, UsageLimits, counter_key, day_attribute
from gateway.tenancy.plans import Plan, day_window, month_window, plan_of
from gateway.testkit.fixtures import FIXTURES
from gateway.testkit.harness import TENANTS_DIR, Harness, moto_harness

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
TO_MIDNIGHT = 14 * 3600
KEYS = {"key-acme": "acme", "key-globex": "globex"}
JSON = {"content-type": "application/json"}
OK = {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": "{}"}


class Clock:
    def __init__(self) -> None:
        self.now = NOW.timestamp()

    def __call__(self) -> float:
        return self.now


class Handler:
    """A fake Lambda handler that counts the calls it gets."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.calls.append(event["path"])
        return OK


def tier(**overrides: Any) -> Plan:
    values = {"rate": 1, "burst": 3, "quota": 1000, "quota_period": "day", "hard_cap": 2000}
    return Plan.model_validate(values | overrides)


def send(app: Any, method: str, url: str, key: str | None = None) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw.test") as client:
            headers = {"x-api-key": key} if key else {}
            return await client.request(method, url, headers=headers, content=b"{}")

    return asyncio.run(go())


def refused_with(response: httpx.Response, code: str) -> int:
    """Assert a 429 naming ``code``; returns its Retry-After."""
    assert response.status_code == 429, response.text
    assert response.json()["error"]["code"] == code
    assert set(response.json()) == {"error"} and response.json()["error"]["message"]
    return int(response.headers["retry-after"])


def edge(plans: dict[str, Plan], clock: Clock) -> tuple[Any, Handler]:
    handler = Handler()
    throttle = EdgeThrottle(plans.get, clock=clock)
    app = build_asgi_app(handler, KEYS.get, admit=throttle.admit, admit_route=throttle.admit_route)
    return app, handler


def test_a_throttled_webhook_route_does_not_affect_another_tenant() -> None:
    clock = Clock()
    app, handler = edge({"acme": tier(), "globex": tier()}, clock)
    for _ in range(3):
        assert send(app, "POST", "/webhooks/acme/easypost").status_code == 200
    assert refused_with(send(app, "POST", "/webhooks/acme/ups"), "rate_limited") == 1
    for _ in range(3):  # globex has its own bucket
        assert send(app, "POST", "/webhooks/globex/easypost").status_code == 200
    assert send(app, "GET", "/healthz").status_code == 200  # no tenant, never throttled
    assert len(handler.calls) == 7  # the refused request never reached the handler
    clock.now += 1
    assert send(app, "POST", "/webhooks/acme/easypost").status_code == 200


def test_a_flooded_webhook_route_leaves_the_tenants_v1_bucket_alone() -> None:
    clock = Clock()
    app, _ = edge({"acme": tier(), "globex": tier()}, clock)
    for _ in range(3):
        assert send(app, "POST", "/webhooks/acme/easypost").status_code == 200
    refused_with(send(app, "POST", "/webhooks/acme/easypost"), "rate_limited")
    for _ in range(3):  # the key's bucket is its own: the route's flood cost it nothing
        assert send(app, "GET", "/v1/shipments/1Z1", key="key-acme").status_code == 200
    refused_with(send(app, "GET", "/v1/shipments/1Z1", key="key-acme"), "rate_limited")
    assert send(app, "GET", "/v1/shipments/1Z1", key="key-globex").status_code == 200
    assert send(app, "GET", "/v1/shipments/1Z1", key="unknown").status_code == 401  # not 429


@pytest.fixture
def tiny_plans(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every tier of the test tenants shrunk to a burst of 2."""
    tier_text = 'rate = 1\nburst = 2\nquota = 50\nquota_period = "day"\nhard_cap = 60\n'
    plans = tmp_path / "plans.toml"
    plans.write_text("".join(f"[{name}]\n{tier_text}" for name in ("free", "standard", "pro")))
    monkeypatch.setenv("WAYBILL_PLANS_FILE", str(plans))


def test_the_plans_come_from_the_tenant_files_and_plans_toml(tiny_plans: None) -> None:
    clock = Clock()
    throttle = EdgeThrottle(plan_of(TenantDirectory(TENANTS_DIR)), clock=clock)
    app = build_asgi_app(Handler(), KEYS.get, admit_route=throttle.admit_route)
    for _ in range(2):
        assert send(app, "POST", "/webhooks/acme/easypost").status_code == 200
    refused_with(send(app, "POST", "/webhooks/acme/easypost"), "rate_limited")
    for _ in range(5):  # no tenant file: not throttled here, the handler answers 404
        assert send(app, "POST", "/webhooks/nobody/easypost").status_code == 200


# --- the local gateway: quota and hard cap counted in DynamoDB Local --------------


EASYPOST_SECRET = "easypost-metering-secret"
BODY = (FIXTURES / "easypost" / "event_tracker_updated_full_history.json").read_bytes()
LOCAL_PLANS = {  # a burst far above what a test sends: only the quota and the cap refuse
    "daily": 'rate = 10000\nburst = 4\nquota = 4\nquota_period = "day"\nhard_cap = 8\n',
    "capped": 'rate = 10000\nburst = 4\nquota = 100\nquota_period = "month"\nhard_cap = 4\n',
    "roomy": 'rate = 10000\nburst = 50\nquota = 1000\nquota_period = "day"\nhard_cap = 2000\n',
}
LOCAL_TENANTS = {"acme": "daily", "globex": "capped", "initech": "roomy"}


def signed(body: bytes = BODY, at: float | None = None) -> dict[str, str]:
    stamp = NOW.timestamp() if at is None else at
    return easypost.ADAPTER.sign(body, EASYPOST_SECRET, stamp) | JSON


def junk() -> dict[str, str]:
    return {"x-hmac-signature": "hmac-sha256-hex=" + "0" * 64} | JSON


@dataclass
class Local:
    """The app ``waybill serve`` serves (edge buckets, handler, UsageLimits), its API keys."""

    app: Any
    gateway: LocalGateway
    keys: dict[str, str]
    state: Path
    endpoint: str

    def jobs(self) -> list[Periodic]:
        """The periodic jobs ``waybill serve``'s background runs (not started here)."""
        return background(self.gateway, self.endpoint, None).jobs

    def hook(self, tenant: str, headers: dict[str, str]) -> httpx.Response:
        return post(self.app, headers, tenant=tenant)

    def deliver(self, tenant: str) -> httpx.Response:
        """A delivery signed now (real time: the local gateway's clock)."""
        return self.hook(tenant, signed(at=time.time()))

    def v1(self, tenant: str, url: str = "/v1/shipments") -> httpx.Response:
        return send(self.app, "GET", url, key=self.keys[tenant])

    def throttled(self, tenant: str) -> list[tuple[str, int]]:
        """The codes and counts of ``tenant``'s audited ``throttled`` refusals today."""
        audit, now = self.gateway.services.pipeline.audit, datetime.now(UTC)
        audit.flush(final=True)
        store = self.gateway.services.store
        since = now - timedelta(days=1)
        found = read_audit(store.client, store.table, tenant, since=since, now=now)
        return [(r.code, r.count) for r in found if r.outcome == "throttled"]

    def usage(self, tenant: str) -> Usage:
        """What the console's tenants pages show for ``tenant`` (its ``L#`` counters)."""
        store = self.gateway.services.store
        reads = Reads(store.client, store.table, Sealer(local_key(self.state)), CapacityMeter())
        return reads.usage([tenant], datetime.now(UTC))[tenant]


@pytest.fixture
def local(
    dynamodb_local_endpoint: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Local:
    """The local gateway on DynamoDB Local (a table of its own), wired as ``waybill serve``
    wires it, with small plans: acme a quota of 4 a day, globex a hard cap of 4 a day."""
    plans = tmp_path / "plans.toml"
    plans.write_text("".join(f"[{name}]\n{text}" for name, text in LOCAL_PLANS.items()))
    monkeypatch.setenv("WAYBILL_PLANS_FILE", str(plans))
    tenants, state = tmp_path / "tenants", tmp_path / "state"
    tenants.mkdir()
    for tenant, tier in LOCAL_TENANTS.items():
        text = f'name = "{tenant}"\nplan = "{tier}"\n[carriers.easypost]\n'
        (tenants / f"{tenant}.toml").write_text(text)
    common = ["--state-dir", str(state), "--tenants-dir", str(tenants)]
    keys = {}
    for tenant in LOCAL_TENANTS:
        secret = ["secrets", "set", tenant, "easypost", "--value", EASYPOST_SECRET]
        assert main([*secret, *common]) == 0
        assert main(["keys", "issue", tenant, *common]) == 0
        keys[tenant] = capsys.readouterr().out.strip().splitlines()[-1]
    gateway = build_local_gateway(
        state_dir=state,
        endpoint_url=dynamodb_local_endpoint,
        tenants_dir=tenants,
        table_name=f"edge-{uuid.uuid4().hex[:8]}",
    )
    app = build_asgi_app(  # as serve_cmd builds it
        gateway.handler,
        gateway.resolve_api_key,
        admit=gateway.admit,
        admit_route=gateway.admit_route,
    )
    return Local(app, gateway, keys, state, dynamodb_local_endpoint)


def post(app: Any, headers: dict[str, str], body: bytes = BODY, tenant: str = "acme") -> Any:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw.test") as client:
            return await client.post(f"/webhooks/{tenant}/easypost", headers=headers, content=body)

    return asyncio.run(go())


def seconds_to_midnight() -> float:
    now = time.time()
    return day_window(now)[1] - now


@pytest.mark.integration
def test_quota_and_hard_cap_bodies_name_the_limit_with_retry_after_to_the_window_end(
    local: Local,
) -> None:
    for _ in range(4):
        assert local.v1("acme").status_code == 200
        assert local.v1("globex").status_code == 200
    before = seconds_to_midnight()
    quota = local.v1("acme")
    capped = local.v1("globex")
    after = seconds_to_midnight()
    for answer in (refused_with(quota, "quota_exceeded"), refused_with(capped, "hard_cap_reached")):
        assert after <= answer <= before + 1  # the seconds to the end of the UTC day
    assert quota.json()["error"]["message"] == "quota of 4 requests per day exceeded"
    assert capped.json()["error"]["message"] == "daily hard cap of 4 requests reached"
    for _ in range(4):  # an unverified webhook is refused by the handler, never counted
        assert local.hook("acme", junk()).status_code == 401
    assert local.usage("acme") == local.usage("globex") == Usage(4, 4)  # refusals: nothing
    assert local.throttled("acme") == [("quota_exceeded", 1)]  # the edge audits its refusals
    assert local.throttled("globex") == [("hard_cap_reached", 1)]


@pytest.mark.integration
def test_unsigned_junk_never_spends_the_quota_of_the_tenant_it_names(local: Local) -> None:
    for _ in range(50):  # far past the quota of 4: each is a 401, none is counted
        assert local.hook("acme", junk()).status_code == 401
    assert local.v1("acme").status_code == 200  # 1 of 4
    for _ in range(3):  # verified deliveries count: 2, 3, 4 of 4
        assert local.deliver("acme").status_code == 200
    refused_with(local.deliver("acme"), "quota_exceeded")
    refused_with(local.v1("acme"), "quota_exceeded")
    assert local.hook("acme", junk()).status_code == 401  # junk is still only refused
    assert local.usage("acme") == Usage(4, 4)


@pytest.mark.integration
def test_the_consoles_usage_is_every_keyed_call_and_verified_delivery_exactly(
    local: Local,
) -> None:
    """What ``waybill serve`` counts is what the tenants pages show once its background
    writes what it holds (every second)."""
    assert local.usage("initech") == Usage(0, 0)
    for url in ("/v1/shipments", "/v1/shipments/1Z1", "/v1/endpoints"):  # 200, 404, 200
        assert local.v1("initech", url).status_code in (200, 404)
    for _ in range(2):  # the second is a duplicate: verified, so counted all the same
        assert local.deliver("initech").status_code == 200
    assert send(local.app, "GET", "/v1/shipments").status_code == 401  # no key: not counted
    for _ in range(5):
        assert local.hook("initech", junk()).status_code == 401
    (job,) = [j for j in local.jobs() if j.name == "waybill-usage"]
    assert job.every == 1.0
    job.run()  # what serve's background does every second
    assert local.usage("initech") == Usage(5, 5)
    now = time.time()
    month, day = month_window(now)[0], day_attribute(day_window(now)[0])
    store = local.gateway.services.store
    keys = [counter_key("initech", month, shard) for shard in range(COUNTER_SHARDS)]
    found = store.client.batch_get_item(
        RequestItems={store.table: {"Keys": keys, "ConsistentRead": True}}
    )["Responses"][store.table]
    assert sum(int(item[MONTH]["N"]) for item in found) == 5  # nothing held back once written
    assert sum(int(item[day]["N"]) for item in found) == 5
    assert local.gateway.services.limits is not None  # what serve flushes at shutdown
    assert local.usage("acme") == Usage(0, 0)  # another tenant's counter is its own


# --- AWS: the handler's daily hard cap --------------------------------------------


@pytest.fixture(params=[3, 10])
def capped(request: pytest.FixtureRequest) -> Iterator[tuple[Harness, UsageLimits]]:
    """A quota of 3 a day under a hard cap of ``param``: whichever is reached refuses."""
    with moto_harness(lambda: NOW) as harness:
        harness.secrets.values[("acme", "easypost")] = [EASYPOST_SECRET]
        store = harness.services.store
        limit = tier(quota=3, hard_cap=request.param)
        plans = dict.fromkeys(("acme", "globex", "hooli"), limit)
        limits = UsageLimits(store.client, store.table, plans.get, flush_every=2, clock=Clock())
        pipeline = replace(harness.services.pipeline, usage=limits.admit)
        services = replace(harness.services, pipeline=pipeline, limits=limits)
        harness.handler = make_handler(services)
        yield harness, limits


def test_the_handler_counts_verified_deliveries_only_up_to_the_hard_cap(
    capped: tuple[Harness, UsageLimits],
) -> None:
    gw, limits = capped
    for _ in range(20):  # unsigned: 401, and never counted
        assert gw.call("POST", "/webhooks/acme/easypost", body=BODY, headers=junk()).status == 401
    assert limits._windows == {}
    for _ in range(3):
        assert gw.call("POST", "/webhooks/acme/easypost", body=BODY, headers=signed()).status == 200
    reply = gw.call("POST", "/webhooks/acme/easypost", body=BODY, headers=signed())
    plan = limits.plan_of("acme")
    code = "hard_cap_reached" if plan and plan.hard_cap == 3 else "quota_exceeded"
    assert reply.status == 429
    assert reply.body["error"]["code"] == code  # on AWS no usage plan meters webhooks
    assert reply.headers["Retry-After"] == str(TO_MIDNIGHT)
    query = gw.call("GET", "/v1/shipments/1Z1", tenant="acme")  # the authorizer's tenant
    assert (query.status, query.body["error"]["code"]) == (429, code)
    assert gw.call("GET", "/v1/shipments/1Z1", tenant="globex").status == 404  # globex is fine
    assert gw.call("GET", "/healthz").status == 200


def test_the_handler_counts_the_authorizer_tenant_on_v1(
    capped: tuple[Harness, UsageLimits],
) -> None:
    gw, limits = capped
    for _ in range(3):
        assert gw.call("GET", "/v1/shipments/1Z1", tenant="globex").status == 404
    assert gw.call("GET", "/v1/shipments/1Z1", tenant="globex").status == 429
    assert gw.call("GET", "/v1/shipments/1Z1", tenant="acme").status == 404
    unknown = gw.call("POST", "/webhooks/nobody/easypost", body=b"{}", headers=JSON)
    assert unknown.status == 404
    assert set(limits._windows) == {"acme", "globex"}  # an unknown tenant is never counted


WEBHOOK_ADAPTERS = sorted(a.id for a in load_adapters().adapters.values() if a.webhook)


@pytest.mark.parametrize("carrier", WEBHOOK_ADAPTERS)
def test_no_unauthenticated_refusal_is_counted_for_any_carrier(
    capped: tuple[Harness, UsageLimits], carrier: str
) -> None:
    gw, limits = capped
    for body in (b"{}", b"junk", BODY):
        for headers in (JSON, junk(), {"authorization": "Bearer forged"} | JSON):
            reply = gw.call("POST", f"/webhooks/hooli/{carrier}", body=body, headers=headers)
            assert reply.status == 401, reply
    limits.flush()
    assert limits._windows == {}
