"""Trackers through what `waybill serve` runs: the HTTP edge with API keys, the poller
thread, DynamoDB Local, and the loopback carrier API; the README's trackers tour."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.cli import main
from gateway.local.ownership import own_state_dir
from gateway.local.runtime import write_runtime
from gateway.local.wiring import background, build_local_gateway
from gateway.testkit.carrier_api import CarrierApi, SimEvent
from gateway.testkit.edge import edge_on_thread

pytestmark = pytest.mark.integration

NUMBER = "1Z999AA10123456784"


def wait_for(fetch: Any, done: Any, seconds: float = 15.0) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        found = fetch()
        if done(found) or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


@pytest.fixture
def served(
    dynamodb_local_endpoint: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> Iterator[tuple[str, Path, str, CarrierApi]]:
    with CarrierApi() as api:
        tenants = tmp_path / "tenants"
        tenants.mkdir()
        (tenants / "shop.toml").write_text(
            'name = "Shop"\n[carriers.ups.polling]\ndaily_budget = 100\n'
            f'api_base_url = "{api.base_url("ups")}"\n'
        )
        state = tmp_path / "state"
        common = ["--state-dir", str(state), "--tenants-dir", str(tenants)]
        slot = ["secrets", "set", "shop", "ups.api", "--value", api.slot_value("ups")]
        assert main([*slot, *common]) == 0
        assert main(["keys", "issue", "shop", *common]) == 0
        key = capsys.readouterr().out.strip().splitlines()[-1]
        table = f"served-{uuid.uuid4().hex[:8]}"
        gateway = build_local_gateway(
            state_dir=state,
            endpoint_url=dynamodb_local_endpoint,
            tenants_dir=tenants,
            table_name=table,
        )
        owner = own_state_dir(state)  # as `waybill serve` owns its state dir
        write_runtime(owner, dynamodb_endpoint=dynamodb_local_endpoint, table_name=table)
        workers = background(gateway, dynamodb_local_endpoint, state, poll_every=0.2)
        workers.start()
        try:
            with edge_on_thread(gateway) as url:
                yield url, state, key, api
        finally:
            workers.stop()
            owner.release()


def test_a_tracker_fills_the_shipment_in_and_a_refresh_brings_what_is_new(
    served: tuple[str, Path, str, CarrierApi],
) -> None:
    url, _, key, api = served
    now = datetime.now(UTC)
    api.add("ups", NUMBER, [SimEvent("in_transit", now - timedelta(hours=3), city="Reno")])
    headers = {"x-api-key": key}
    with httpx.Client(base_url=url, headers=headers, timeout=10) as http:
        added = http.post("/v1/trackers", json={"tracking_number": NUMBER, "carrier": "ups"})
        assert added.status_code == 201, added.text
        again = http.post("/v1/trackers", json={"tracking_number": NUMBER, "carrier": "ups"})
        assert again.status_code == 200  # idempotent
        tracker = wait_for(
            lambda: http.get(f"/v1/trackers/{NUMBER}", params={"carrier": "ups"}).json(),
            lambda t: t["checks"] >= 1,
        )
        assert tracker["checks"] == 1  # the poller thread checked it, once
        shipment = http.get(f"/v1/shipments/{NUMBER}")
        assert shipment.status_code == 200, shipment.text
        (entry,) = shipment.json()["shipments"]
        assert entry["status"] == "in_transit"
        assert entry["freshness"]["source"] == "poll"
        next_check = datetime.fromisoformat(entry["freshness"]["next_check_at"])
        assert next_check > now + timedelta(hours=1, minutes=50)  # in transit: about 2 h
        api.advance("ups", NUMBER, SimEvent("out_for_delivery", datetime.now(UTC), city="Reno"))
        refreshed = http.post(f"/v1/trackers/{NUMBER}/refresh", params={"carrier": "ups"})
        assert refreshed.status_code == 200, refreshed.text
        assert (refreshed.json()["events_added"], refreshed.json()["status"]) == (
            1,
            "out_for_delivery",
        )
        usage = http.get("/v1/trackers/usage").json()
        (ups,) = [c for c in usage["carriers"] if c["carrier"] == "ups"]
        assert ups["requests_today"] == api.count("ups")  # the token call counts too
        assert ups["daily_budget"] == 100
    keyless = httpx.get(f"{url}/v1/trackers/{NUMBER}", params={"carrier": "ups"}, timeout=10)
    assert keyless.status_code in (401, 403)


def test_the_operator_sees_the_pollers(
    served: tuple[str, Path, str, CarrierApi], capsys: pytest.CaptureFixture[str]
) -> None:
    url, state, key, api = served
    api.add("ups", NUMBER, [SimEvent("in_transit", datetime.now(UTC), city="Reno")])
    common = ["--state-dir", str(state), "--tenants-dir", str(state.parent / "tenants")]
    assert main(["trackers", "add", "shop", NUMBER, "--carrier", "ups", *common]) == 0
    with httpx.Client(base_url=url, headers={"x-api-key": key}, timeout=10) as http:
        wait_for(
            lambda: http.get(f"/v1/trackers/{NUMBER}", params={"carrier": "ups"}).json(),
            lambda t: t["checks"] >= 1,
        )
    capsys.readouterr()
    assert main(["pollers", "status", "shop", *common]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("shop  ups") and f"budget={api.count('ups')}/100" in line
