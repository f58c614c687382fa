"""Parking and replay: an authentic delivery the adapter cannot read is kept, then replayed."""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from adapters import standard_webhooks
from gateway.carriers.adapter import Delivery, ParseResult
from gateway.errors import ParseError
from gateway.testkit.harness import Harness, moto_harness

NOW = datetime(2024, 6, 3, 17, 0, tzinfo=UTC)
SECRET = "whsec_" + base64.b64encode(b"replay-test-secret-of-32-bytes!!").decode()
BODY = json.dumps(
    {
        "type": "tracking.updated",
        "data": {
            "tracking_number": "1ZREPLAY",
            "events": [{"status": "delivered", "occurred_at": "2024-06-02T10:00:00Z"}],
        },
    }
).encode()


def broken_parse(delivery: Delivery) -> ParseResult:
    raise ParseError("adapter bug: cannot read this yet")


@pytest.fixture
def gw() -> Iterator[Harness]:
    with moto_harness(lambda: NOW) as harness:
        harness.secrets.values[("acme", "standard_webhooks")] = [SECRET]
        yield harness


def deliver(gw: Harness) -> int:
    headers = standard_webhooks.ADAPTER.sign(BODY, SECRET, NOW.timestamp())
    headers |= {"content-type": "application/json", "authorization": "Basic c2VjcmV0"}
    return gw.call("POST", "/webhooks/acme/standard_webhooks", body=BODY, headers=headers).status


def test_parked_then_replayed_after_the_adapter_is_fixed(gw: Harness) -> None:
    registry = gw.services.pipeline.adapters
    fixed = registry.adapters["standard_webhooks"]
    registry.adapters["standard_webhooks"] = dataclasses.replace(fixed, parse=broken_parse)
    assert deliver(gw) == 202
    (parked,) = gw.services.pipeline.parking.list("acme")
    assert parked.body == BODY and "adapter bug" in parked.reason
    assert not {"webhook-signature", "authorization"} & {h.lower() for h in parked.headers}
    assert gw.call("GET", "/v1/shipments/1ZREPLAY", tenant="acme").status == 404

    with pytest.raises(ParseError):  # still broken: it stays parked
        gw.services.pipeline.replay(parked)
    assert len(gw.services.pipeline.parking.list("acme")) == 1

    registry.adapters["standard_webhooks"] = fixed
    outcome = gw.services.pipeline.replay(parked)
    assert outcome.status == 200 and outcome.body.model_dump()["accepted"] == 1
    assert gw.services.pipeline.parking.list("acme") == []
    state = gw.call("GET", "/v1/shipments/1ZREPLAY", tenant="acme").body["shipments"][0]
    assert state["status"] == "delivered"
    assert deliver(gw) == 200  # the carrier's late retry is now a plain duplicate
