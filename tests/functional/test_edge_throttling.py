"""Throttling end to end: the local edge (ASGI app) and the handler's hard cap (AWS path).

Only authenticated requests spend a tenant's quota and hard cap: ``/v1`` calls by the
API key's tenant (at the edge), webhook deliveries once their signature is verified (in
ingest). A webhook route has its own bucket in front of the signature check, apart from
the key's. Every refusal is a 429 with ``Retry-After`` and a body naming the limit. On
AWS the handler enforces the daily hard cap itself, by the same rule.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters import easypost
from gateway.api.app import make_handler
from gateway.carriers.discovery import load_adapters
from gateway.local.server import build_asgi_app
from gateway.local.throttle import EdgeThrottle
from gateway.tenancy.directory import TenantDirectory
from gateway.tenancy.limits import UsageLimits
from gateway.tenancy.plans import Plan, plan_of
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


def test_quota_and_hard_cap_bodies_name_the_limit_with_retry_after_to_the_window_end() -> None:
    clock = Clock()
    plans = {
        "acme": tier(rate=100, burst=2, quota=4),
        "globex": tier(rate=100, burst=2, quota=100, quota_period="month", hard_cap=4),
    }
    app, _ = edge(plans, clock)
    for _ in range(4):
        assert send(app, "GET", "/v1/shipments", key="key-acme").status_code == 200
        assert send(app, "GET", "/v1/shipments", key="key-globex").status_code == 200
        clock.now += 1
    quota = send(app, "GET", "/v1/shipments", key="key-acme")
    assert refused_with(quota, "quota_exceeded") == TO_MIDNIGHT - 4
    capped = send(app, "GET", "/v1/shipments", key="key-globex")
    assert refused_with(capped, "hard_cap_reached") == TO_MIDNIGHT - 4
    assert capped.json()["error"]["message"] == "daily hard cap of 4 requests reached"
    for _ in range(4):  # an unverified webhook is not counted at the edge
        assert send(app, "POST", "/webhooks/acme/ups").status_code == 200
        clock.now += 1
    clock.now += TO_MIDNIGHT - 8
    assert send(app, "GET", "/v1/shipments", key="key-acme").status_code == 200
    assert send(app, "GET", "/v1/shipments", key="key-globex").status_code == 200


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


# --- verified deliveries spend the budget; junk does not ------------------------------


EASYPOST_SECRET = "easypost-metering-secret"
BODY = (FIXTURES / "easypost" / "event_tracker_updated_full_history.json").read_bytes()


def signed(body: bytes = BODY) -> dict[str, str]:
    return easypost.ADAPTER.sign(body, EASYPOST_SECRET, NOW.timestamp()) | JSON


def junk() -> dict[str, str]:
    return {"x-hmac-signature": "hmac-sha256-hex=" + "0" * 64} | JSON


@pytest.fixture
def local_edge() -> Iterator[tuple[Any, Clock]]:
    """The real handler behind the local edge: quota 4 a day, a bucket that refills in 4 ms."""
    clock = Clock()
    with moto_harness(lambda: NOW) as harness:
        harness.secrets.values[("acme", "easypost")] = [EASYPOST_SECRET]
        throttle = EdgeThrottle({"acme": tier(rate=1000, burst=4, quota=4)}.get, clock=clock)
        pipeline = replace(harness.services.pipeline, usage=throttle.admit_verified)
        handler = make_handler(replace(harness.services, pipeline=pipeline))
        app = build_asgi_app(
            handler, KEYS.get, admit=throttle.admit, admit_route=throttle.admit_route
        )
        yield app, clock


def post(app: Any, headers: dict[str, str], body: bytes = BODY) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw.test") as client:
            return await client.post("/webhooks/acme/easypost", headers=headers, content=body)

    return asyncio.run(go())


def test_unsigned_junk_never_spends_the_quota_of_the_tenant_it_names(
    local_edge: tuple[Any, Clock],
) -> None:
    app, clock = local_edge
    for _ in range(50):  # far past the quota of 4: each is a 401, none is counted
        assert post(app, junk()).status_code == 401
        clock.now += 1
    assert send(app, "GET", "/v1/shipments", key="key-acme").status_code == 200  # 1 of 4
    for _ in range(3):  # verified deliveries count: 2, 3, 4 of 4
        assert post(app, signed()).status_code == 200
    refused_with(post(app, signed()), "quota_exceeded")
    refused_with(send(app, "GET", "/v1/shipments", key="key-acme"), "quota_exceeded")
    clock.now += 1  # the route's bucket refills
    assert post(app, junk()).status_code == 401  # junk is still only refused, never counted


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
