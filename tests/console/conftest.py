"""The ops console behind the real local edge, on DynamoDB Local, with real data: a few
deliveries through the webhook route (one parked), an endpoint registered through
``/v1/endpoints`` whose receiver fails, a tracker polled from the loopback carrier API.

Every DynamoDB call the gateway makes is recorded (``Served.calls``), and a Scan fails.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters import standard_webhooks
from gateway.cli import main
from gateway.console.app import Console, ConsoleConfig
from gateway.console.credential import reset_credential
from gateway.local.server import build_asgi_app, make_server
from gateway.local.wiring import background, build_local_gateway
from gateway.testkit.carrier_api import CarrierApi, SimEvent
from gateway.testkit.receiver import Receiver, always

TENANT = "shop"
SECRET = "whsec_" + base64.b64encode(b"console-test-secret-of-32-bytes!").decode()
NUMBER = "1ZCONSOLE1"
TRACKED = "1Z999AA10123456784"
HOSTILE = (
    '<script>alert(1)</script> "><img src=x onerror=alert(2)> javascript:alert(3) \u202egnp.exe'
)


@dataclass
class Served:
    """A served gateway with its console, and what a test needs to drive it."""

    url: str
    state: Path
    tenants: Path
    key: str
    credential: str
    gateway: Any
    receiver: Receiver
    api: CarrierApi
    calls: list[str] = field(default_factory=list)

    def client(self) -> httpx.Client:
        """An HTTP client that keeps cookies, does not follow redirects."""
        return httpx.Client(base_url=self.url, timeout=20, follow_redirects=False)

    def login(self, http: httpx.Client) -> str:
        """Log in; the CSRF token of the session's forms."""
        page = http.get("/console/login")
        form = {"csrf": csrf_of(page.text), "credential": self.credential}
        answer = http.post("/console/login", data=form)
        assert answer.status_code == 303, answer.text
        return csrf_of(http.get("/console/").text)

    def deliver(self, body: dict[str, Any]) -> httpx.Response:
        """A signed Standard Webhooks delivery to the tenant's route."""
        raw = json.dumps(body).encode()
        delivery = f"msg_{uuid.uuid4().hex}"
        headers = standard_webhooks.ADAPTER.sign(raw, SECRET, time.time(), delivery_id=delivery)
        headers |= {"content-type": "application/json"}
        return httpx.post(
            f"{self.url}/webhooks/{TENANT}/standard_webhooks", content=raw, headers=headers
        )


def csrf_of(text: str) -> str:
    """The CSRF token in a page's first form."""
    found = re.search(r'name="csrf" value="([^"]+)"', text)
    assert found, text[:500]
    return found[1]


def tracking_body(number: str, description: str, minutes_ago: int = 60) -> dict[str, Any]:
    """A Standard Webhooks tracking message with one in-transit event."""
    at = (datetime.now(UTC) - timedelta(minutes=minutes_ago)).isoformat()
    event = {
        "status": "in_transit",
        "occurred_at": at,
        "description": description,
        "code": "IT",
        "location": {"city": "Reno", "country": "US"},
    }
    return {"type": "tracking.updated", "data": {"tracking_number": number, "events": [event]}}


@pytest.fixture
def served(
    dynamodb_local_endpoint: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Iterator[Served]:
    with CarrierApi() as api, Receiver(always(500)) as receiver:
        tenants = tmp_path / "tenants"
        tenants.mkdir()
        (tenants / f"{TENANT}.toml").write_text(
            'name = "Shop"\n[carriers.standard_webhooks]\nenabled = true\n'
            f'[carriers.ups.polling]\ndaily_budget = 100\napi_base_url = "{api.base_url("ups")}"\n'
        )
        state = tmp_path / "state"
        common = ["--state-dir", str(state), "--tenants-dir", str(tenants)]
        assert (
            main(["secrets", "set", TENANT, "standard_webhooks", "--value", SECRET, *common]) == 0
        )
        assert (
            main(["secrets", "set", TENANT, "ups.api", "--value", api.slot_value("ups"), *common])
            == 0
        )
        assert main(["keys", "issue", TENANT, *common]) == 0
        key = capsys.readouterr().out.strip().splitlines()[-1]
        gateway = build_local_gateway(
            state_dir=state,
            endpoint_url=dynamodb_local_endpoint,
            tenants_dir=tenants,
            table_name=f"console-{uuid.uuid4().hex[:8]}",
            retry_scale=0.001,
        )
        client = gateway.services.store.client
        calls: list[str] = []
        real = client._make_api_call

        def recorded(operation: str, params: dict[str, Any]) -> Any:
            calls.append(operation)
            if operation == "Scan":
                raise AssertionError(f"a Scan of {params.get('TableName')}")
            return real(operation, params)

        monkeypatch.setattr(client, "_make_api_call", recorded)
        credential = reset_credential(state)
        console = Console(gateway.services, ConsoleConfig(state, tenants))
        app = build_asgi_app(gateway.handler, gateway.resolve_api_key, console=console)
        server = make_server(app, "127.0.0.1", 0)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.02)
        workers = background(gateway, dynamodb_local_endpoint, state, poll_every=0.2)
        workers.start()
        url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
        try:
            yield Served(url, state, tenants, key, credential, gateway, receiver, api, calls)
        finally:
            workers.stop()
            server.should_exit = True
            thread.join(10)


def wait_for(fetch: Any, done: Any, seconds: float = 20.0) -> Any:
    """Poll ``fetch`` until ``done(result)`` or the time is up."""
    deadline = time.monotonic() + seconds
    while True:
        found = fetch()
        if done(found) or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


@dataclass(frozen=True)
class Driven:
    """What :func:`drive` made."""

    endpoint: str
    parked: str


def broken_parse(delivery: Any) -> Any:
    """An adapter bug whose message quotes what the carrier sent (hostile text)."""
    from gateway.errors import ParseError

    raise ParseError(f"cannot read {HOSTILE}")


def drive(served: Served) -> Driven:
    """Real traffic: two deliveries, one parked, an endpoint that fails, a polled tracker."""
    import dataclasses

    keyed = {"x-api-key": served.key}
    hostile_url = served.receiver.url + '?q="><img/src=x/onerror=alert(4)>'
    created = httpx.post(
        f"{served.url}/v1/endpoints",
        headers=keyed,
        json={"url": hostile_url, "description": HOSTILE, "types": ["shipment.event_added"]},
    )
    assert created.status_code == 201, created.text
    assert served.deliver(tracking_body(NUMBER, HOSTILE, 90)).status_code == 200
    assert served.deliver(tracking_body(NUMBER, "Arrived at hub", 30)).status_code == 200
    registry = served.gateway.services.pipeline.adapters.adapters
    fixed = registry["standard_webhooks"]
    registry["standard_webhooks"] = dataclasses.replace(fixed, parse=broken_parse)
    try:
        assert served.deliver(tracking_body("1ZPARKED", "late", 10)).status_code == 202
    finally:
        registry["standard_webhooks"] = fixed
    (parked,) = served.gateway.services.pipeline.parking.list(TENANT)
    now = datetime.now(UTC)
    served.api.add("ups", TRACKED, [SimEvent("in_transit", now - timedelta(hours=2), city="Reno")])
    added = httpx.post(
        f"{served.url}/v1/trackers",
        headers=keyed,
        json={"tracking_number": TRACKED, "carrier": "ups"},
    )
    assert added.status_code == 201, added.text
    path = f"{served.url}/v1/trackers/{TRACKED}"
    wait_for(
        lambda: httpx.get(path, headers=keyed, params={"carrier": "ups"}).json(),
        lambda t: t["checks"] >= 1,
    )
    endpoint = created.json()["id"]
    notifications = served.gateway.services.notifications
    wait_for(
        lambda: notifications.messages(TENANT, endpoint, state=None, limit=5, before=None),
        lambda found: len(found) >= 2 and all(m.attempts for m in found),
    )
    served.gateway.services.pipeline.audit.flush(final=True)
    return Driven(endpoint=endpoint, parked=parked.body_sha256)
