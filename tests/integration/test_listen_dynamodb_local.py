"""``waybill listen`` against a running local gateway (DynamoDB Local, its stream read by
the server's reader, a loopback port), as the README's tour runs it: the command in its
own process, a webhook sent with ``waybill send``, the line printed verified, the
endpoint gone after SIGTERM. Also: the endpoint API through the real edge.
"""

from __future__ import annotations

import json
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from gateway.cli import main
from gateway.local.ownership import own_state_dir
from gateway.local.runtime import write_runtime
from gateway.local.wiring import LocalGateway, background, build_local_gateway
from gateway.services import utc_now
from gateway.tenancy.apikeys import LocalApiKeyStore
from gateway.testkit.edge import edge_on_thread

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
WAYBILL = Path(sys.executable).parent / "waybill"


@dataclass
class Served:
    gateway: LocalGateway
    url: str
    state: Path


@pytest.fixture
def served(
    dynamodb_local_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Served]:
    """What ``waybill serve --retry-scale 0.001`` runs, with its ``serve.json``."""
    monkeypatch.chdir(REPO)  # `waybill send` finds fixtures by name from the repo root
    state = tmp_path / "state"
    table = f"listen-{uuid.uuid4().hex[:8]}"
    gateway = build_local_gateway(
        state_dir=state,
        endpoint_url=dynamodb_local_endpoint,
        tenants_dir=REPO / "tenants",
        table_name=table,
        retry_scale=0.001,
    )
    workers = background(gateway, dynamodb_local_endpoint, state, sweep_every=0.05)
    workers.start()
    with own_state_dir(state) as owner:  # as `waybill serve` owns its state dir
        write_runtime(owner, dynamodb_endpoint=dynamodb_local_endpoint, table_name=table)
        with edge_on_thread(gateway) as url:
            yield Served(gateway, url, state)
    workers.stop()


class Lines:
    """The stdout of a process, line by line, read on a thread."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.queue: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        assert process.stdout is not None
        stream = process.stdout
        threading.Thread(target=lambda: [self.queue.put(x) for x in stream], daemon=True).start()

    def until(self, pattern: str, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                text = self.queue.get(timeout=max(0.0, deadline - time.monotonic())).rstrip("\n")
            except queue.Empty:
                break
            self.seen.append(text)
            if re.search(pattern, text):
                return text
        raise AssertionError(f"no line like {pattern!r} in {self.seen}")


def test_listen_prints_each_message_verified_and_removes_its_endpoint(
    served: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["--state-dir", str(served.state)]
    listen = subprocess.Popen(
        [str(WAYBILL), "listen", "--tenant", "demo", *common],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        lines = Lines(listen)
        ready = lines.until(r"^Ready: ")
        endpoint = re.findall(r"endpoint (ep_\w+)", ready)[0]
        assert main(["secrets", "set", "demo", "easypost", "--generate", *common]) == 0
        sent = ["send", "easypost", "event_tracker_updated_full_history", "--tenant", "demo"]
        assert main([*sent, "--url", served.url, *common]) == 0
        assert capsys.readouterr().out.strip().splitlines()[-1].startswith("200")
        heard = [lines.until(r"^\S+Z  ") for _ in range(10)]  # 9 events added, 1 status change
        (changed,) = [text for text in heard if "shipment.status_changed" in text]
        assert re.fullmatch(
            r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ  shipment\.status_changed  EZ1000000001  "
            r"new → delivered  verified",
            changed,
        ), changed
        added = [text for text in heard if "shipment.event_added     EZ1000000001  " in text]
        assert len(added) == 9 and all(text.endswith(")  verified") for text in added), heard
        _the_api_through_the_edge(served, endpoint)
    finally:
        listen.send_signal(signal.SIGTERM)
        assert listen.wait(timeout=20) == 0
    assert lines.until(r"^removed endpoint ") == f"removed endpoint {endpoint}"
    assert served.gateway.services.notifications.endpoints("demo") == []


def _the_api_through_the_edge(served: Served, endpoint: str) -> None:
    """The routes answer through the real edge: the key, 405 with Allow, no secret."""
    key = LocalApiKeyStore(served.state).issue("demo", now=utc_now()).plaintext
    auth = {"x-api-key": key}
    with httpx.Client(base_url=served.url, timeout=10) as client:
        assert client.get("/v1/endpoints").status_code == 401
        listed = client.get("/v1/endpoints", headers=auth)
        assert [e["id"] for e in listed.json()["endpoints"]] == [endpoint]
        assert "whsec_" not in listed.text
        states: list[str] = []
        for _ in range(50):  # the listener prints a line before it answers: wait for the 200s
            page = client.get(f"/v1/endpoints/{endpoint}/messages?limit=100", headers=auth)
            states = [m["state"] for m in page.json()["messages"]]
            if states == ["delivered"] * 10:  # nine events added, one status change
                break
            time.sleep(0.1)
        assert states == ["delivered"] * 10
        too_long = client.get(f"/v1/endpoints/ep_{'a' * 1100}", headers=auth)  # no key that long
        assert (too_long.status_code, too_long.json()["error"]["code"]) == (404, "not_found")
        wrong = client.put(f"/v1/endpoints/{endpoint}", headers=auth)
        assert wrong.status_code == 405 and set(wrong.headers["allow"].split(", ")) == {
            "GET",
            "DELETE",
        }
        body = json.dumps({"url": "http://127.0.0.1:9/x"})
        made = client.post(
            "/v1/endpoints", content=body, headers=auth | {"content-type": "application/json"}
        )
        assert made.status_code == 201 and made.headers["cache-control"] == "no-store"
        assert client.delete(f"/v1/endpoints/{made.json()['id']}", headers=auth).status_code == 204


def test_listen_without_a_running_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["listen", "--tenant", "demo", "--state-dir", str(tmp_path)]
    assert main([*argv, "--tenants-dir", str(REPO / "tenants")]) == 2
    assert "no running `waybill serve`" in capsys.readouterr().err
