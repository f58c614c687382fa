"""The whole loop on the real engine: HTTP → edge → handler → DynamoDB Local → query.

Also drives the CLI the way the README's tour does (`secrets set`, `keys issue`,
`send`), against a real uvicorn server on a loopback port.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.cli import main
from gateway.local.wiring import build_local_gateway
from gateway.testkit.edge import edge_on_thread

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def server(
    dynamodb_local_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, Path]]:
    monkeypatch.chdir(REPO)  # `waybill send` finds fixtures by name from the repo root
    state = tmp_path / "state"
    gateway = build_local_gateway(
        state_dir=state,
        endpoint_url=dynamodb_local_endpoint,
        tenants_dir=REPO / "tenants",
        table_name=f"e2e-{uuid.uuid4().hex[:8]}",
    )
    with edge_on_thread(gateway) as url:
        yield url, state


def test_the_readme_tour(server: tuple[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    url, state = server
    common = ["--state-dir", str(state)]
    for carrier in ("easypost", "aftership", "standard_webhooks"):
        assert main(["secrets", "set", "demo", carrier, "--generate", *common]) == 0
    assert main(["keys", "issue", "demo", *common]) == 0
    api_key = capsys.readouterr().out.strip().splitlines()[-1]
    assert api_key.startswith("wb_")

    sends = [
        ("easypost", "event_tracker_updated_full_history"),
        ("aftership", "tracking_update_in_transit_docs_trimmed"),
        ("standard_webhooks", "tracking_updated_waybill_format"),
    ]
    for carrier, fixture in sends:
        assert main(["send", carrier, fixture, "--tenant", "demo", "--url", url, *common]) == 0
        status, body = capsys.readouterr().out.strip().splitlines()[-1].split(" ", 1)
        assert status == "200" and json.loads(body)["accepted"] > 0
        assert main(["send", carrier, fixture, "--tenant", "demo", "--url", url, *common]) == 0
        status, body = capsys.readouterr().out.strip().splitlines()[-1].split(" ", 1)
        again = json.loads(body)
        assert again["accepted"] == 0 and again["duplicate_delivery"] is True

    easypost_body = json.loads(
        (REPO / "tests/fixtures/easypost/event_tracker_updated_full_history.json").read_bytes()
    )
    number = easypost_body["result"]["tracking_code"]
    with httpx.Client(base_url=url, timeout=10) as client:
        assert client.get(f"/v1/shipments/{number}").status_code == 401
        reply = client.get(f"/v1/shipments/{number}", headers={"x-api-key": api_key})
        assert reply.status_code == 200
        assert reply.json()["shipments"][0]["carrier"] == "easypost"
        events = client.get(f"/v1/shipments/{number}/events", headers={"x-api-key": api_key})
        history = events.json()["events"]
        assert len(history) == len(easypost_body["result"]["tracking_details"])
        assert [e["occurred_at"] for e in history] == sorted(e["occurred_at"] for e in history)
        _the_query_api(client, {"x-api-key": api_key}, number, reply, history)
        tampered = client.post(
            "/webhooks/demo/easypost",
            content=b'{"id": "evt_x"}',
            headers={"content-type": "application/json", "x-hmac-signature": "hmac-sha256-hex=00"},
        )
        assert tampered.status_code == 401
        assert client.get("/healthz").json() == {"status": "ok"}


def _the_query_api(
    client: httpx.Client,
    auth: dict[str, str],
    number: str,
    shipment: httpx.Response,
    history: list[dict[str, Any]],
) -> None:
    """ETag and 304, history and trail pages, and the search, through the real server."""
    tag = shipment.headers["etag"]
    assert shipment.headers["cache-control"] == "private, max-age=5"
    unchanged = client.get(f"/v1/shipments/{number}", headers=auth | {"If-None-Match": tag})
    assert unchanged.status_code == 304 and unchanged.content == b""
    paged: list[dict[str, Any]] = []
    cursor = ""
    while True:
        page = client.get(f"/v1/shipments/{number}/events?limit=2{cursor}", headers=auth).json()
        paged += page["events"]
        if page["next_cursor"] is None:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert paged == history
    trail = client.get(f"/v1/shipments/{number}/locations", headers=auth).json()
    located = [e for e in history if e.get("location")]
    assert 0 < len(located) < len(history)  # the fixture's first scan has no place
    assert [p["occurred_at"][:19] for p in trail["locations"]] == [
        e["occurred_at"][:19] for e in located
    ]
    status = shipment.json()["shipments"][0]["status"]
    found = client.get(f"/v1/shipments?status={status}&carrier=easypost", headers=auth).json()
    assert number in [s["tracking_number"] for s in found["shipments"]]


def _tracking_fixtures() -> list[tuple[str, str]]:
    """(adapter id, fixture name) of the first fixture with events, for every webhook adapter."""
    from gateway.carriers.discovery import load_adapters

    found = []
    for adapter_id in sorted(load_adapters().adapters):
        for expected in sorted((REPO / "tests/fixtures" / adapter_id).glob("*.expected.json")):
            if json.loads(expected.read_text()).get("events"):
                found.append((adapter_id, expected.name.removesuffix(".expected.json")))
                break
    return found


@pytest.mark.parametrize(("carrier", "fixture"), _tracking_fixtures())
def test_every_carrier_signed_as_it_signs_is_accepted_through_serve(
    server: tuple[str, Path], capsys: pytest.CaptureFixture[str], carrier: str, fixture: str
) -> None:
    url, state = server
    common = ["--state-dir", str(state)]
    assert main(["secrets", "set", "demo", carrier, "--generate", *common]) == 0
    assert main(["send", carrier, fixture, "--tenant", "demo", "--url", url, *common]) == 0
    status, body = capsys.readouterr().out.strip().splitlines()[-1].split(" ", 1)
    assert status == "200" and json.loads(body)["accepted"] > 0
    raw = (REPO / "tests/fixtures" / carrier / f"{fixture}.json").read_bytes()
    with httpx.Client(base_url=url, timeout=10) as client:
        unsigned = client.post(
            f"/webhooks/demo/{carrier}", content=raw, headers={"content-type": "application/json"}
        )
        assert unsigned.status_code == 401
