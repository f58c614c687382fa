"""UPS type U revises the ETA only: a later U never moves the status; an older one is history."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from adapters import ups
from gateway.testkit.harness import Harness, moto_harness

NOW = datetime(2024, 4, 24, tzinfo=UTC)
NUMBER = "1Z204W4R0308071865"
OUT_FOR_DELIVERY = Path(__file__).resolve().parents[1] / "fixtures/ups/v1_out_for_delivery_OT.json"


def eta_update(gmt_time: str, eta: str) -> bytes:
    status = {"type": "U", "description": "Delivery date updated"}
    return json.dumps(
        {
            "trackingNumber": NUMBER,
            "activityStatus": status,
            "gmtActivityDate": "20240423",
            "gmtActivityTime": gmt_time,
            "scheduledDeliveryDate": eta,
        }
    ).encode()


def post(gw: Harness, body: bytes) -> int:
    headers = ups.ADAPTER.sign(body, "cred", NOW.timestamp()) | {"Content-Type": "application/json"}
    return gw.call("POST", "/webhooks/upsco/ups", body=body, headers=headers).status


def state(gw: Harness) -> dict[str, str]:
    reply = gw.call("GET", f"/v1/shipments/{NUMBER}", tenant="upsco").body
    shipment: dict[str, str] = reply["shipments"][0]
    return shipment


def test_u_moves_the_eta_but_never_the_status() -> None:
    with moto_harness(lambda: NOW) as gw:
        gw.secrets.values[("upsco", "ups")] = ["cred"]
        assert post(gw, eta_update("120000", "20240424")) == 200  # first: creates the state
        assert post(gw, OUT_FOR_DELIVERY.read_bytes()) == 200  # 13:15:19
        assert post(gw, eta_update("140000", "20240425")) == 200  # newer U
        current = state(gw)
        assert current["status"] == "out_for_delivery"
        assert "2024-04-25" in str(current["estimated_delivery"])
        assert post(gw, eta_update("130000", "20240426")) == 200  # older U: history only
        assert "2024-04-25" in str(state(gw)["estimated_delivery"])
        history = gw.call("GET", f"/v1/shipments/{NUMBER}/events", tenant="upsco").body
        assert len(history["events"]) == 4 and "eta_only" not in json.dumps(history)
