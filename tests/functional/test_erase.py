"""Erasing a shipment (moto DynamoDB): nothing of it stays readable, nothing else is touched."""

from __future__ import annotations

import argparse
import base64
import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from adapters import standard_webhooks
from gateway.carriers.adapter import Delivery, ParseResult
from gateway.cli import erase_cmd, main
from gateway.errors import ParseError
from gateway.store.batch import UnprocessedItemsError, batch_write
from gateway.store.capacity import CapacityMeter
from gateway.store.erase import erase_shipment, mentions
from gateway.testkit.harness import TENANTS_DIR, Harness, moto_harness

NOW = datetime(2024, 6, 3, 17, 0, tzinfo=UTC)
SECRETS = {
    tenant: "whsec_"
    + base64.b64encode(f"{tenant}-erase-test-secret-32-bytes!!".encode()[:32]).decode()
    for tenant in ("acme", "globex")
}
NUMBER = "1ZERASE0001"


@pytest.fixture
def gw() -> Iterator[Harness]:
    with moto_harness(lambda: NOW) as harness:
        for tenant, secret in SECRETS.items():
            harness.secrets.values[(tenant, "standard_webhooks")] = [secret]
        yield harness


def tracking(number: str, *statuses: str) -> bytes:
    events = [
        {"status": s, "description": f"{s} scan", "occurred_at": f"2024-06-0{i + 1}T10:00:00Z"}
        for i, s in enumerate(statuses)
    ]
    data = {"tracking_number": number, "events": events}
    return json.dumps({"type": "tracking.updated", "data": data}).encode()


def post(gw: Harness, raw: bytes, tenant: str = "acme") -> int:
    headers = standard_webhooks.ADAPTER.sign(raw, SECRETS[tenant], NOW.timestamp())
    headers["content-type"] = "application/json"
    url = f"/webhooks/{tenant}/standard_webhooks"
    return gw.call("POST", url, body=raw, headers=headers).status


def park(gw: Harness, raw: bytes) -> None:
    """Deliver ``raw`` while the adapter cannot read it: it is parked."""

    def broken(delivery: Delivery) -> ParseResult:
        raise ParseError("cannot read yet")

    registry = gw.services.pipeline.adapters
    fixed = registry.adapters["standard_webhooks"]
    registry.adapters["standard_webhooks"] = dataclasses.replace(fixed, parse=broken)
    try:
        assert post(gw, raw) == 202
    finally:
        registry.adapters["standard_webhooks"] = fixed


def reads(gw: Harness, number: str, tenant: str = "acme") -> tuple[int, int]:
    shipment = gw.call("GET", f"/v1/shipments/{number}", tenant=tenant).status
    events = gw.call("GET", f"/v1/shipments/{number}/events", tenant=tenant).status
    return shipment, events


def erase(gw: Harness, number: str = NUMBER, **kwargs: Any) -> Any:
    store = gw.services.store
    return erase_shipment(store.client, store.table, "acme", number, **kwargs)


@pytest.fixture
def stored(gw: Harness) -> Harness:
    """acme: the shipment (3 events), another one, 2 parked copies naming it and 1 not;
    globex: the same tracking number."""
    assert post(gw, tracking(NUMBER, "info_received", "in_transit", "delivered")) == 200
    assert post(gw, tracking("1ZOTHER0001", "in_transit")) == 200
    assert post(gw, tracking(NUMBER, "in_transit"), tenant="globex") == 200
    park(gw, tracking(NUMBER.lower(), "exception"))
    park(gw, b'{"batch": ["1ZOTHER0001", "1z erase 0001"]}')
    park(gw, tracking("1ZERASE00012", "exception"))  # a longer number: not this shipment
    return gw


def test_erasure_leaves_nothing_of_the_shipment_readable(stored: Harness) -> None:
    gw = stored
    assert reads(gw, NUMBER) == (200, 200)
    done = erase(gw)
    assert (done.states, done.events, done.other, done.parked) == (1, 3, 0, 2)
    assert reads(gw, NUMBER) == (404, 404)
    remaining = gw.services.pipeline.parking.list("acme")
    assert [mentions(p.body, NUMBER) for p in remaining] == [False]
    assert reads(gw, "1ZOTHER0001") == (200, 200)
    assert reads(gw, NUMBER, tenant="globex") == (200, 200)
    assert erase(gw).total == 0  # idempotent


def test_a_dry_run_counts_and_deletes_nothing(stored: Harness) -> None:
    assert erase(stored, dry_run=True).total == 6
    assert reads(stored, NUMBER) == (200, 200)
    assert len(stored.services.pipeline.parking.list("acme")) == 3


def test_the_tracking_number_is_normalised(stored: Harness) -> None:
    assert erase(stored, " 1zerase 0001 ").events == 3
    assert reads(stored, NUMBER) == (404, 404)


def test_the_cli_erases_and_audits_without_contents(
    stored: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    store = stored.services.store
    monkeypatch.setattr(erase_cmd, "running_table", lambda _: (store.client, store.table))
    monkeypatch.setenv("USER", "ops-alice")
    args = argparse.Namespace(
        tenant="acme",
        tracking_number=NUMBER,
        dry_run=False,
        state_dir=str(tmp_path),
        tenants_dir=str(TENANTS_DIR),
    )
    assert erase_cmd.run(args) == 0
    assert "erased acme/1ZERASE0001: 1 state, 3 events, 2 parked copies" in capsys.readouterr().out
    (line,) = (tmp_path / "audit.jsonl").read_text().splitlines()
    entry = json.loads(line)
    assert (entry["actor"], entry["action"], entry["tenant"], entry["target"]) == (
        "ops-alice",
        "shipment.erase",
        "acme",
        NUMBER,
    )
    assert entry["detail"] == {"complete": True, "states": 1, "events": 3, "other": 0, "parked": 2}
    assert "scan" not in line and "exception" not in line
    assert reads(stored, NUMBER) == (404, 404)


@pytest.mark.parametrize(
    ("tenant", "code", "said"),
    [
        ("acme", 0, "nothing stored for acme/1ZNOTHERE01: nothing to erase"),
        ("acmee", 2, "waybill: unknown tenant 'acmee' (no "),  # a typo: never "erased"
    ],
)
def test_the_cli_says_when_nothing_is_stored_and_audits_nothing(
    stored: Harness,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
    tenant: str,
    code: int,
    said: str,
) -> None:
    store = stored.services.store
    monkeypatch.setattr(erase_cmd, "running_table", lambda _: (store.client, store.table))
    argv = ["erase", tenant, "1ZNOTHERE01", "--state-dir", str(tmp_path)]
    assert main([*argv, "--tenants-dir", str(TENANTS_DIR)]) == code
    out, err = capsys.readouterr()
    assert said in out + err and "erased" not in out
    assert not (tmp_path / "audit.jsonl").exists()


def test_the_cli_needs_a_running_server(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["erase", "acme", NUMBER, "--state-dir", str(tmp_path)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"waybill: no running `waybill serve` with --state-dir {tmp_path}")


@dataclasses.dataclass
class FlakyClient:
    """A batch_write_item that leaves the last request unprocessed ``flaky`` times."""

    flaky: int
    calls: list[int] = dataclasses.field(default_factory=list)

    def batch_write_item(self, RequestItems: dict[str, list[Any]], **_: Any) -> Any:
        ((table, requests),) = RequestItems.items()
        self.calls.append(len(requests))
        left = requests[-1:] if self.flaky > 0 else []
        self.flaky -= 1
        return {"UnprocessedItems": {table: left} if left else {}}


def test_batch_write_retries_unprocessed_items_in_chunks_of_25() -> None:
    client = FlakyClient(flaky=2)
    requests = [{"DeleteRequest": {"Key": {"pk": {"S": str(i)}}}} for i in range(30)]
    assert batch_write(client, "t", requests, CapacityMeter(), sleep=lambda _: None) == 30
    assert client.calls == [25, 1, 1, 5]


def test_batch_write_gives_up_and_says_how_many_are_left() -> None:
    client = FlakyClient(flaky=100)
    requests = [{"DeleteRequest": {"Key": {"pk": {"S": str(i)}}}} for i in range(3)]
    with pytest.raises(UnprocessedItemsError) as caught:
        batch_write(client, "t", requests, CapacityMeter(), sleep=lambda _: None)
    assert (caught.value.remaining, caught.value.written) == (1, 2)
