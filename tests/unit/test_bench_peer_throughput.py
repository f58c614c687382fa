"""The served-throughput benchmark's parts, and a smoke run (not whether targets are met).

The naive peer is driven as an ASGI callable with its store replaced (no DynamoDB); the
quick run starts the three servers for real and checks every row and that nothing is
left running.
"""

from __future__ import annotations

import asyncio
import json
import time
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from bench import naive_peer, peer_throughput
from bench.peer_bodies import Delivery, histories, single_events
from bench.report import Measure, format_table
from bench.served import ServedGateway
from bench.uvicorn_app import UvicornApp

SECRET = "s\u00e9cret-bench"  # composed: the key is its NFKD form
PATH = naive_peer.PATH


def _serve(app: Any, delivery: Delivery, method: str = "POST") -> tuple[int, Any]:
    body, headers = delivery
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    scope = {"type": "http", "method": method, "path": PATH, "headers": raw}
    asyncio.run(app(scope, receive, send))
    return sent[0]["status"], json.loads(sent[1]["body"])


@pytest.fixture
def stored(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """The peer's writes, recorded instead of sent to DynamoDB."""
    calls: list[tuple[str, int]] = []

    def store(code: str, details: list[dict[str, Any]]) -> int:
        calls.append((code, len(details)))
        return len(details)

    monkeypatch.setattr(naive_peer, "KEY", unicodedata.normalize("NFKD", SECRET).encode())
    monkeypatch.setattr(naive_peer, "_store", store)
    return calls


def test_the_peer_checks_the_adapters_signature_and_stores_each_detail(
    stored: list[tuple[str, int]],
) -> None:
    _, resends = histories(SECRET, "U", 1)
    assert _serve(naive_peer.app, resends[0]) == (200, {"stored": 10})
    assert _serve(naive_peer.app, single_events(SECRET, "U", 1)[0]) == (200, {"stored": 1})
    assert stored == [("BENCHU000000", 10), ("BENCHU000000", 1)]


def test_the_peer_refuses_a_tampered_body_a_wrong_secret_or_no_signature(
    stored: list[tuple[str, int]],
) -> None:
    body, headers = single_events(SECRET, "U", 1)[0]
    wrong = single_events(SECRET + "x", "U", 1)[0]
    unsigned = {"Content-Type": "application/json"}
    for delivery in ((body + b" ", headers), wrong, (body, unsigned)):
        assert _serve(naive_peer.app, delivery)[0] == 401
    assert stored == []


def test_the_ceiling_answers_every_post_and_nothing_else() -> None:
    delivery = single_events(SECRET, "U", 1)[0]
    assert _serve(naive_peer.ceiling, delivery) == (200, {})
    assert _serve(naive_peer.ceiling, delivery, method="GET")[0] == 405


def test_a_resend_is_its_seed_plus_one_new_detail_under_a_new_event_id() -> None:
    seeds, resends = histories(SECRET, "U", 2)
    for seed, resend in zip(seeds, resends, strict=True):
        old, new = json.loads(seed[0]), json.loads(resend[0])
        assert new["result"]["tracking_details"][:9] == old["result"]["tracking_details"]
        added = new["result"]["tracking_details"][9]
        assert added["datetime"] not in {d["datetime"] for d in old["result"]["tracking_details"]}
        assert new["id"] != old["id"]
        assert new["result"]["tracking_code"] == old["result"]["tracking_code"]
    assert len({json.loads(body)["result"]["tracking_code"] for body, _ in seeds}) == 2


def test_a_floor_is_a_lower_bound_and_a_target_still_an_upper_one() -> None:
    assert Measure("s", "n", 0.6, "x", floor=0.6).met is True
    assert Measure("s", "n", 0.59, "x", floor=0.6).met is False
    assert Measure("s", "n", 1.5, "x", target=1.5).met is True
    assert Measure("s", "n", 1.6, "x", target=1.5).met is False
    assert Measure("s", "n", 1.0, "x", target=2.0, floor=1.5).met is False
    assert ">=0.6" in format_table([Measure("s", "n", 0.5, "x", floor=0.6)])


def _running(pid: int) -> bool:
    try:
        return "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


@pytest.mark.integration
def test_a_quick_run_gives_every_row_and_leaves_nothing_running(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pids: list[int] = []

    class Recorded(UvicornApp):
        def start(self, timeout: float = 30.0) -> None:
            super().start(timeout)
            pids.append(self.pid)

    class RecordedGateway(ServedGateway):
        def start(self, timeout: float = 60.0) -> None:
            super().start(timeout)
            pids.extend([self.pid, *self.children])

    monkeypatch.setattr(peer_throughput, "UvicornApp", Recorded)
    monkeypatch.setattr(peer_throughput, "ServedGateway", RecordedGateway)
    rows = {row.name: row for row in peer_throughput.measure(quick=True)}
    for workers in peer_throughput.CONCURRENCY:
        for kind in peer_throughput.KINDS:
            for target in peer_throughput.TARGETS:
                row = rows[f"{kind} c={workers} {target}"]
                assert row.unit == "req/s" and row.value > 0 and "err=0" in row.note
                assert rows[f"{kind} c={workers} {target} p99"].value > 0
            ratio = rows[f"{kind} c={workers} gateway/peer req/s"]
            assert ratio.value > 0 and ratio.floor == peer_throughput.FLOORS.get(kind)
    assert len(pids) >= 4  # the peer, the ceiling, serve and its DynamoDB Local
    deadline = time.monotonic() + 5
    while any(map(_running, pids)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(map(_running, pids))
