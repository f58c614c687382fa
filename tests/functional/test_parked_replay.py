"""Parking and replay: an authentic delivery the adapter cannot read is kept, then replayed."""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters import standard_webhooks
from gateway.audit.changes import FileChangeLog
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


@pytest.mark.parametrize(
    ("ids", "said"),
    [
        (["deadbeef"], "no parked delivery of acme has an id starting 'deadbeef'"),
        (["xyz!"], "'xyz!' is not a parked delivery's id (4 to 64 hex digits)"),
    ],
)
def test_replaying_an_id_that_names_no_parked_delivery_is_an_error(
    gw: Harness,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    ids: list[str],
    said: str,
) -> None:
    from gateway.cli import main, parked_cmd
    from gateway.testkit.harness import TENANTS_DIR

    registry = gw.services.pipeline.adapters
    fixed = registry.adapters["standard_webhooks"]
    registry.adapters["standard_webhooks"] = dataclasses.replace(fixed, parse=broken_parse)
    assert deliver(gw) == 202
    registry.adapters["standard_webhooks"] = fixed
    monkeypatch.setattr(parked_cmd, "_services", lambda args: gw.services)
    tenants = ["--tenants-dir", str(TENANTS_DIR), "--state-dir", str(tmp_path)]
    assert main(["parked", "replay", "acme", *ids, *tenants]) == 2
    out, err = capsys.readouterr()
    assert said in err and "replayed" not in out
    assert len(gw.services.pipeline.parking.list("acme")) == 1  # nothing was replayed
    (parked,) = gw.services.pipeline.parking.list("acme")
    assert main(["parked", "replay", "acme", parked.body_sha256[:12], *tenants]) == 0
    assert "1 replayed, 0 still parked" in capsys.readouterr().out
    (change,) = FileChangeLog(tmp_path).read("acme", since=datetime(2000, 1, 1, tzinfo=UTC))
    assert (change.action, change.target) == ("parked.replay", parked.body_sha256[:12])
    assert change.detail == {"replayed": 1, "still_parked": 0}
    assert main(["parked", "replay", "acme", *tenants]) == 0
    assert "no parked deliveries for acme: nothing to replay" in capsys.readouterr().out
