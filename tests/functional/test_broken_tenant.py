"""A tenant file broken while the server runs: strangers get the unknown route's answer.

Through the local edge (its route throttle included) and the real handler on moto: a
webhook or token request for a tenant whose file is invalid answers exactly what a path
naming no route answers (404 ``not_found``, before any signature check), the reason is
logged at warning level (file and field), an authenticated ``/v1`` caller gets a
retryable 503, and fixing the file brings the tenant back without a restart.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from moto import mock_aws

from gateway.api.app import make_handler
from gateway.local.server import build_asgi_app
from gateway.local.throttle import EdgeThrottle
from gateway.services import build_services
from gateway.store.table import ensure_table
from gateway.tenancy.plans import plan_of
from gateway.testkit.harness import DictSecrets

GOOD = 'name = "Acme"\n[carriers.standard_webhooks]\n[carriers.ups]\n'
BROKEN = 'name = "Acme"\n[carriers.standard_webhooks]\nenabld = true\n'
NO_ROUTE = {"error": {"code": "not_found", "message": "no such route"}}
KEYS = {"key-acme": "acme"}


@pytest.fixture
def tenants(tmp_path: Path) -> Path:
    (tmp_path / "acme.toml").write_text(GOOD)
    return tmp_path


@pytest.fixture
def app(tenants: Path) -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-west-2")
        ensure_table(client, "waybill-test")
        services = build_services(
            dynamodb=client,
            table_name="waybill-test",
            tenants_dir=tenants,
            secrets=DictSecrets(),
            count=lambda name, value=1: None,
            clock=lambda: datetime.now(UTC),
        )
        throttle = EdgeThrottle(plan_of(services.pipeline.tenants))
        yield build_asgi_app(
            make_handler(services),
            KEYS.get,
            admit=throttle.admit,
            admit_route=throttle.admit_route,
        )


def call(app: Any, method: str, url: str, **kwargs: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50123))
        async with httpx.AsyncClient(transport=transport, base_url="http://gw.test") as client:
            return await client.request(method, url, **kwargs)

    return asyncio.run(go())


def hook(app: Any, tenant: str) -> httpx.Response:
    json = {"content-type": "application/json"}
    return call(app, "POST", f"/webhooks/{tenant}/standard_webhooks", content=b"{}", headers=json)


def break_file(tenants: Path, text: str = BROKEN) -> None:
    """Rewrite acme.toml with a modification time the directory's cache cannot miss."""
    path = tenants / "acme.toml"
    before = path.stat().st_mtime_ns
    path.write_text(text)
    os.utime(path, ns=(before + 10**9, before + 10**9))


def test_a_broken_tenant_answers_like_an_unknown_route_and_logs_why(
    app: Any, tenants: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert hook(app, "acme").status_code == 401  # a real route: the signature is missing
    break_file(tenants)
    with caplog.at_level(logging.WARNING):
        broken = hook(app, "acme")
        token = call(app, "POST", "/oauth/acme/ups/token", content=b"grant_type=x")
    unknown = hook(app, "nobody")
    no_path = call(app, "POST", "/webhooks/acme")
    for answer in (broken, token, unknown, no_path):
        assert (answer.status_code, answer.json()) == (404, NO_ROUTE)
    reasons = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    expected = f"{tenants / 'acme.toml'}: carriers.standard_webhooks.enabld: extra inputs"
    assert any(expected in reason for reason in reasons), reasons
    break_file(tenants, GOOD)
    assert hook(app, "acme").status_code == 401  # fixed: served again, no restart


def test_an_authenticated_caller_of_a_broken_tenant_gets_a_retryable_503(
    app: Any, tenants: Path
) -> None:
    key = {"x-api-key": "key-acme"}
    assert call(app, "GET", "/v1/shipments", headers=key).status_code == 200
    break_file(tenants)
    answer = call(app, "GET", "/v1/shipments", headers=key)
    assert answer.status_code == 503 and answer.json()["error"]["code"] == "tenant_unavailable"
    assert "enabld" not in answer.text  # the reason is for ops' log, not for the caller
