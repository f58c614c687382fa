"""Throttling end to end: the local edge (ASGI app) and the handler's hard cap (AWS path).

The edge counts carrier webhooks against the tenant in the path and ``/v1`` calls
against the API key's tenant; every refusal is a 429 with ``Retry-After`` and a body
naming the limit. On AWS the handler enforces the daily hard cap itself.
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

from gateway.handler import make_handler
from gateway.limits import HardCap
from gateway.local.server import build_asgi_app
from gateway.local.throttle import EdgeThrottle
from gateway.plans import Plan, plan_of
from gateway.tenant_directory import TenantDirectory
from tests.support.gateway import TENANTS_DIR, Harness, moto_harness

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
    return build_asgi_app(handler, KEYS.get, admit=throttle.admit), handler


def test_a_throttled_webhook_tenant_does_not_affect_another_tenant() -> None:
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


def test_v1_is_throttled_by_the_key_tenant_and_shares_the_bucket_with_its_webhooks() -> None:
    clock = Clock()
    app, _ = edge({"acme": tier(), "globex": tier()}, clock)
    for _ in range(3):
        assert send(app, "GET", "/v1/shipments/1Z1", key="key-acme").status_code == 200
    refused_with(send(app, "GET", "/v1/shipments/1Z1", key="key-acme"), "rate_limited")
    refused_with(send(app, "POST", "/webhooks/acme/easypost"), "rate_limited")  # same tenant
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
        assert send(app, "POST", "/webhooks/acme/ups").status_code == 200
        assert send(app, "GET", "/v1/shipments", key="key-globex").status_code == 200
        clock.now += 1
    quota = send(app, "POST", "/webhooks/acme/ups")
    assert refused_with(quota, "quota_exceeded") == TO_MIDNIGHT - 4
    capped = send(app, "GET", "/v1/shipments", key="key-globex")
    assert refused_with(capped, "hard_cap_reached") == TO_MIDNIGHT - 4
    assert capped.json()["error"]["message"] == "daily hard cap of 4 requests reached"
    clock.now += TO_MIDNIGHT - 4
    assert send(app, "POST", "/webhooks/acme/ups").status_code == 200
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
    app = build_asgi_app(Handler(), KEYS.get, admit=throttle.admit)
    for _ in range(2):
        assert send(app, "POST", "/webhooks/acme/easypost").status_code == 200
    refused_with(send(app, "POST", "/webhooks/acme/easypost"), "rate_limited")
    for _ in range(5):  # no tenant file: not throttled here, the handler answers 404
        assert send(app, "POST", "/webhooks/nobody/easypost").status_code == 200


# --- AWS: the handler's daily hard cap --------------------------------------------


@pytest.fixture
def capped() -> Iterator[tuple[Harness, HardCap]]:
    with moto_harness(lambda: NOW) as harness:
        store = harness.services.store
        plans = {"acme": tier(quota=3, hard_cap=3), "globex": tier(quota=3, hard_cap=3)}
        limits = HardCap(store.client, store.table, plans.get, flush_every=2, clock=Clock())
        harness.handler = make_handler(replace(harness.services, limits=limits))
        yield harness, limits


def test_the_handler_refuses_past_the_hard_cap_with_retry_after_to_utc_midnight(
    capped: tuple[Harness, HardCap],
) -> None:
    gw, _ = capped
    for _ in range(3):  # unsigned: 401, but every tenant-attributed request counts
        assert gw.call("POST", "/webhooks/acme/easypost", body=b"{}", headers=JSON).status == 401
    reply = gw.call("POST", "/webhooks/acme/easypost", body=b"{}", headers=JSON)
    assert reply.status == 429
    assert reply.body["error"]["code"] == "hard_cap_reached"
    assert reply.headers["Retry-After"] == str(TO_MIDNIGHT)
    query = gw.call("GET", "/v1/shipments/1Z1", tenant="acme")  # the authorizer's tenant
    assert (query.status, query.body["error"]["code"]) == (429, "hard_cap_reached")
    assert gw.call("GET", "/v1/shipments/1Z1", tenant="globex").status == 404  # globex is fine
    assert gw.call("GET", "/healthz").status == 200


def test_the_handler_counts_the_authorizer_tenant_on_v1(capped: tuple[Harness, HardCap]) -> None:
    gw, limits = capped
    for _ in range(3):
        assert gw.call("GET", "/v1/shipments/1Z1", tenant="globex").status == 404
    assert gw.call("GET", "/v1/shipments/1Z1", tenant="globex").status == 429
    assert gw.call("POST", "/webhooks/globex/easypost", body=b"{}", headers=JSON).status == 429
    assert gw.call("GET", "/v1/shipments/1Z1", tenant="acme").status == 404
    unknown = gw.call("POST", "/webhooks/nobody/easypost", body=b"{}", headers=JSON)
    assert unknown.status == 404
    assert set(limits._days) == {"acme", "globex"}  # an unknown tenant is never counted
