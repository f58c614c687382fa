"""schemathesis against the real local gateway: no 5xx, and every answer as documented.

The OpenAPI document is the one the code generates (:func:`gateway.api.openapi.document`);
the server is the local edge in front of the Lambda handler, on DynamoDB Local, on a
loopback port. A few shipments are seeded first (canonical submits over HTTP, a signed
EasyPost delivery), so the documented example tracking number answers 200.

Bounded: ``MAX_EXAMPLES`` per operation and phase, derandomised (the same cases each run);
``WAYBILL_SCHEMATHESIS_EXAMPLES=300`` makes a deeper run.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis

from gateway.api.models import WebhookResult
from gateway.api.openapi import document
from gateway.cli import main
from gateway.ingest.answers import WebhookParked, WebhookStored
from gateway.local.server import build_asgi_app, make_server
from gateway.local.wiring import build_local_gateway
from gateway.services import utc_now
from gateway.tenancy.apikeys import LocalApiKeyStore

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
MAX_EXAMPLES = int(os.environ.get("WAYBILL_SCHEMATHESIS_EXAMPLES", "25"))  # more: a deeper run
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
)
CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 20241,
        "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
        "phases": {"stateful": {"enabled": False}},
        "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
    }
)
schema = schemathesis.openapi.from_dict(document(), config=CONFIG)
EXAMPLE_NUMBER = "1Z999AA10123456784"  # the documented example of {tracking_number}
EASYPOST_FIXTURE = REPO / "tests/fixtures/easypost/event_tracker_updated_full_history.json"
THROTTLED = "throttled-tenant"  # the edge refuses this tenant's requests with 429
OAUTH_CLIENT = ("demo-ups-track-alert", "st-oauth-client-secret")  # tenants/demo.toml's client


@dataclass(frozen=True)
class LiveGateway:
    """A running local gateway, a valid API key of tenant ``demo`` and its state dir."""

    url: str
    api_key: str
    state: Path

    def headers(self, case: schemathesis.Case) -> dict[str, str]:
        """The tenant's API key; the OAuth client's credentials for the token endpoint."""
        if not case.path.startswith("/oauth/"):
            return {"x-api-key": self.api_key}
        basic = base64.b64encode(":".join(OAUTH_CLIENT).encode()).decode()
        return {"Authorization": f"Basic {basic}"}

    def send(self, body: Path) -> tuple[int, Any]:
        """Post ``body`` signed as EasyPost signs (``waybill send``): status and JSON body."""
        capture = self.state.parent / "send.out"
        args = ["send", "easypost", str(body), "--tenant", "demo", "--url", self.url]
        with capture.open("w") as out, contextlib.redirect_stdout(out):
            assert main([*args, "--state-dir", str(self.state)]) == 0
        status, text = capture.read_text().strip().splitlines()[-1].split(" ", 1)
        return int(status), json.loads(text)


def _seed(live: LiveGateway) -> None:
    """Shipments for the documented example number (canonical) and an EasyPost one."""
    items: list[dict[str, Any]] = [
        {
            "tracking_number": EXAMPLE_NUMBER,
            "status": status,
            "timestamp": f"2024-06-0{day}T10:00:00-05:00",
            "location": {"city": "Houston", "region": "TX", "country": "US"},
            "lat": 29.76,
            "lon": -95.37,
            "description": f"scan {day}",
        }
        for day, status in enumerate(("info_received", "in_transit", "delivered"), start=1)
    ]
    reply = httpx.post(
        f"{live.url}/v1/events", json={"events": items}, headers={"x-api-key": live.api_key}
    )
    assert reply.status_code == 200 and reply.json()["accepted"] == 3, reply.text
    common = ["--state-dir", str(live.state)]
    assert main(["secrets", "set", "demo", "easypost", "--generate", *common]) == 0
    assert main(["secrets", "set", "demo", "ups.oauth", "--value", OAUTH_CLIENT[1], *common]) == 0
    status, body = live.send(EASYPOST_FIXTURE)
    assert status == 200 and body["accepted"] > 0


def _admit(tenant: str) -> float | None:
    """No plan throttling (it would only cut the cases short), except for one tenant."""
    return 30.0 if tenant == THROTTLED else None


@pytest.fixture(scope="module")
def live_gateway(
    dynamodb_local_endpoint: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveGateway]:
    state = tmp_path_factory.mktemp("schemathesis") / "state"
    gateway = build_local_gateway(
        state_dir=state,
        endpoint_url=dynamodb_local_endpoint,
        tenants_dir=REPO / "tenants",
        table_name=f"st-{uuid.uuid4().hex[:8]}",
    )
    api_key = LocalApiKeyStore(state).issue("demo", now=utc_now()).plaintext
    app = build_asgi_app(gateway.handler, gateway.resolve_api_key, admit=_admit, admit_route=_admit)
    server = make_server(app, "127.0.0.1", 0)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        threading.Event().wait(0.05)
    assert server.started
    url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    try:
        live = LiveGateway(url, api_key, state)
        _seed(live)
        yield live
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _call(live: LiveGateway, path: str, **parts: Any) -> schemathesis.Response:
    """A hand-made request, checked exactly as the generated ones are."""
    case = schema[path]["GET"].Case(**parts)
    return case.call_and_validate(base_url=live.url, headers=live.headers(case), timeout=10)


def _walk(live: LiveGateway, path: str, key: str, **parts: Any) -> list[Any]:
    """Every item of a paginated read, one per page, following ``next_cursor``."""
    items: list[Any] = []
    fixed = {**parts.pop("query", {}), "limit": 1}
    query = fixed
    for _ in range(20):
        page = _call(live, path, query=query, **parts).json()
        items += page[key]
        if page["next_cursor"] is None:
            return items
        query = {**fixed, "cursor": page["next_cursor"]}
    raise AssertionError(f"{path} did not end")


def test_conditional_and_paginated_reads_answer_as_documented(live_gateway: LiveGateway) -> None:
    """What random cases rarely reach: a matching ETag, and pages walked to their end."""
    number = {"tracking_number": EXAMPLE_NUMBER.lower()}
    first = _call(live_gateway, "/v1/shipments/{tracking_number}", path_parameters=number)
    assert first.status_code == 200
    (etag,) = first.headers["etag"]
    again = _call(
        live_gateway,
        "/v1/shipments/{tracking_number}",
        path_parameters=number,
        headers={"If-None-Match": etag},
    )
    assert again.status_code == 304 and not again.content
    history = _walk(
        live_gateway, "/v1/shipments/{tracking_number}/events", "events", path_parameters=number
    )
    assert [e["status"] for e in history] == ["info_received", "in_transit", "delivered"]
    trail = _walk(
        live_gateway,
        "/v1/shipments/{tracking_number}/locations",
        "locations",
        path_parameters=number,
    )
    assert [(p["city"], p["lat"]) for p in trail] == [("Houston", 29.76)] * 3
    easypost = _walk(live_gateway, "/v1/shipments", "shipments", query={"carrier": "easypost"})
    assert [s["tracking_number"] for s in easypost] == ["EZ1000000001"]
    query = {"carrier": "easypost", "status": easypost[0]["status"]}
    assert _call(live_gateway, "/v1/shipments", query=query).json()["shipments"] == easypost


def test_edge_refusals_answer_as_documented(live_gateway: LiveGateway) -> None:
    """Throttled (429 with Retry-After), too large (413), wrong type (415), no key (401)."""
    webhook = schema["/webhooks/{tenant}/{carrier}"]["POST"]
    submit = schema["/v1/events"]["POST"]
    cases = {
        429: webhook.Case(path_parameters={"tenant": THROTTLED, "carrier": "easypost"}, body={}),
        413: submit.Case(body={"events": [{"description": "x" * 300_000}]}),
        415: submit.Case(body="{}", media_type="text/plain"),
    }
    for status, case in cases.items():
        answer = case.call_and_validate(
            base_url=live_gateway.url, headers=live_gateway.headers(case)
        )
        assert answer.status_code == status, answer.text
    anonymous = schema["/v1/shipments"]["GET"].Case()
    assert anonymous.call_and_validate(base_url=live_gateway.url).status_code == 401


def test_the_served_document_is_the_generated_one(live_gateway: LiveGateway) -> None:
    reply = httpx.get(f"{live_gateway.url}/openapi.json", timeout=10)
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("application/json")
    assert reply.json() == document()


def test_signed_deliveries_answer_as_documented(live_gateway: LiveGateway) -> None:
    """What schemathesis cannot sign: stored (200), repeated, and parked (202) deliveries."""
    status, body = live_gateway.send(EASYPOST_FIXTURE)  # the seed's delivery, again
    assert status == 200
    stored = WebhookResult.model_validate(body).root
    assert isinstance(stored, WebhookStored) and stored.duplicate_delivery
    unreadable = live_gateway.state.parent / "unreadable.json"
    unreadable.write_text('{"object": "Event", "description": "tracker.updated", "result": 7}')
    status, body = live_gateway.send(unreadable)
    assert status == 202 and WebhookParked.model_validate(body).parked


@schema.parametrize()
def test_every_answer_is_documented(case: schemathesis.Case, live_gateway: LiveGateway) -> None:
    case.call_and_validate(
        base_url=live_gateway.url, headers=live_gateway.headers(case), timeout=10
    )
