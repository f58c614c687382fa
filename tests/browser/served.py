"""`waybill serve` in a subprocess on its own DynamoDB Local, and real traffic through it.

The browser tests look at what a real server shows after real work: deliveries signed
with ``waybill send`` (accepted, a carrier's retry, one parked), notification endpoints
on loopback receivers (one that answers, one that fails until told otherwise), and a
tracker polled from the loopback carrier API. A second tenant, ``mallory``, carries the
hostile text (``HOSTILE``) the escaping test looks for.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from gateway.cli import main
from gateway.testkit.carrier_api import CarrierApi, SimEvent
from gateway.testkit.receiver import Answer, Received, Receiver

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
START_SECONDS = 90.0  # DynamoDB Local's JVM and the server: ~5 s here, more on a busy CI
STOP_SECONDS = 20.0

TRACKED = "1ZBROWSER00000001"  # polled from the loopback carrier API (ups)
TRACKED_TOO = "1ZBROWSER00000002"  # a second one, for the batch refresh
PARKED = "1Z/PARKED/0001"  # a tracking number no layer could read back: parked
EZ_NUMBER = "EZ1000000001"  # easypost event_tracker_updated_full_history
SW_NUMBER = "1Z999AA10123456784"  # standard_webhooks tracking_updated_waybill_format

# What a carrier or a tenant may send, and the console must render as inert text.
SCRIPT = '<script>window.__pwned = "script"</script>'
IMG = '"><img src=x onerror="window.__pwned=\'img\'">'
JS_URL = "javascript:window.__pwned='href'"
IMG_IN_URL = "\"><img/src=x/onerror=window.__pwned='url'>"  # a URL holds no whitespace
BIDI = "\u202egnp.exe\u202c \u2067isolate\u2069 rtl\u200f"
HOSTILE_NUMBER = "EVIL-0001"


@dataclass
class Served:
    """A running ``waybill serve`` and the handles the tests drive it with."""

    url: str
    state: Path
    tenants: Path
    credential: str
    keys: dict[str, str]
    api: CarrierApi
    receivers: dict[str, Receiver]  # ok (200), failing (500), gone (410): see ``switches``
    endpoints: dict[str, str] = field(default_factory=dict)  # name → endpoint id
    log: list[str] = field(default_factory=list)
    switches: dict[str, int] = field(default_factory=dict)

    def console(self, path: str = "") -> str:
        return f"{self.url}/console/{path.lstrip('/')}"

    def cli(self, *argv: str) -> tuple[int, str]:
        """Run a ``waybill`` command in this process against this server's state."""
        common = ["--state-dir", str(self.state), "--tenants-dir", str(self.tenants)]
        return cli(*argv, *common)

    def http(self, tenant: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"x-api-key": self.keys[tenant]}, timeout=10)

    def output(self) -> str:
        return "".join(self.log)


def cli(*argv: str) -> tuple[int, str]:
    """``waybill ARGV`` in this process: its exit code and its stdout (asserted 0 unless
    ``check=False``-like use: the caller asserts; stderr is appended after a NUL line)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    if code != 0:
        return code, f"{out.getvalue()}\n(stderr) {err.getvalue()}"
    return code, out.getvalue()


def switchable(switches: dict[str, int], name: str) -> Callable[[int, Received], Answer]:
    """A receiver's behaviour read from ``switches[name]`` (an HTTP status) at each request."""
    return lambda index, request: Answer(switches.get(name, 200))


def tenant_files(tenants: Path, api: CarrierApi) -> None:
    """``shop`` (every carrier, ups polled on the loopback API) and ``mallory`` (hostile)."""
    tenants.mkdir(parents=True)
    polling = (
        "[carriers.ups.polling]\ndaily_budget = 100\n"
        f'api_base_url = "{api.base_url("ups")}"\n'
        "intervals = { unknown = 60, info_received = 60, in_transit = 60, "
        "out_for_delivery = 60 }\n"
    )
    for tenant, name in (("shop", "Shop & Co."), ("mallory", "Mallory Freight")):
        (tenants / f"{tenant}.toml").write_text(
            f'name = "{name}"\nplan = "standard"\n[carriers."*"]\nenabled = true\n{polling}'
        )


def prepare(state: Path, tenants: Path, api: CarrierApi) -> dict[str, str]:
    """Partner secrets and API keys, set before the server starts; the API keys by tenant."""
    common = ["--state-dir", str(state), "--tenants-dir", str(tenants)]
    keys = {}
    for tenant in ("shop", "mallory"):
        for carrier in ("easypost", "aftership", "standard_webhooks"):
            code, out = cli("secrets", "set", tenant, carrier, "--generate", *common)
            assert code == 0, out
        code, out = cli(
            "secrets", "set", tenant, "ups.api", "--value", api.slot_value("ups"), *common
        )
        assert code == 0, out
        code, out = cli("keys", "issue", tenant, *common)
        assert code == 0, out
        keys[tenant] = out.strip().splitlines()[-1]
    return keys


@contextlib.contextmanager
def waybill_serve(state: Path, tenants: Path) -> Iterator[tuple[str, str, list[str]]]:
    """``waybill serve --port 0`` in a subprocess: (its URL, the ops credential it printed,
    its output so far, still filling). Stopped with SIGTERM, then killed if it hangs."""
    command = [
        str(Path(sys.executable).with_name("waybill")),
        "serve",
        "--port",
        "0",
        "--in-memory",
        "--state-dir",
        str(state),
        "--tenants-dir",
        str(tenants),
        "--retry-scale",
        "0.001",
        "--poll-interval",
        "0.2",
    ]
    env = os.environ | {"PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        command,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,
    )
    assert process.stdout is not None
    log: list[str] = []
    stream = process.stdout
    reader = threading.Thread(target=lambda: log.extend(stream), daemon=True)
    reader.start()
    try:
        url = _wait_for_listening(process, log)
        yield url, ops_credential("".join(log)), log
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(STOP_SECONDS)
        reader.join(STOP_SECONDS)


def _wait_for_listening(process: subprocess.Popen[str], log: list[str]) -> str:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        found = re.search(r"listening on (http://127\.0\.0\.1:\d+)", "".join(log))
        if found:
            time.sleep(0.2)  # the lines printed right after (the ops credential)
            return found.group(1)
        if process.poll() is not None:
            break
        time.sleep(0.05)
    raise AssertionError(
        f"`waybill serve` did not start within {START_SECONDS:.0f} s "
        f"(exit code {process.poll()}); it printed:\n{''.join(log)}"
    )


def ops_credential(output: str) -> str:
    """The ops credential ``waybill serve`` prints once, when it creates it."""
    found = re.search(r"ops credential[^:]*: (wbops_[A-Za-z0-9_\-]+)", output)
    if found is None:
        raise AssertionError(f"`waybill serve` printed no ops credential:\n{output}")
    return found.group(1)


def wait_for(fetch: Callable[[], Any], done: Callable[[Any], bool], seconds: float = 15.0) -> Any:
    """``fetch()`` until ``done`` says yes (bounded): the last value, asserted done."""
    deadline = time.monotonic() + seconds
    while True:
        found = fetch()
        if done(found):
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"not done within {seconds} s: {found!r}")
        time.sleep(0.1)


def send(served: Served, tenant: str, carrier: str, fixture: Path | str) -> dict[str, Any]:
    """``waybill send`` a fixture (a name under tests/fixtures, or a file): the JSON answer."""
    path = fixture if isinstance(fixture, Path) else FIXTURES / carrier / f"{fixture}.json"
    code, out = served.cli("send", carrier, str(path), "--tenant", tenant, "--url", served.url)
    status, body = out.strip().splitlines()[-1].split(" ", 1)
    assert code == 0 and status in ("200", "202"), out
    answer: dict[str, Any] = json.loads(body)
    return answer


def partner_body(number: str, description: str, city: str = "Reno", code: str = "OR") -> bytes:
    """A Standard Webhooks partner's ``tracking.updated`` with one in-transit event."""
    return json.dumps(
        {
            "type": "tracking.updated",
            "timestamp": "2024-06-03T16:45:12Z",
            "data": {
                "tracking_number": number,
                "carrier": "ups",
                "events": [
                    {
                        "status": "in_transit",
                        "code": code,
                        "description": description,
                        "occurred_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
                        "location": {"city": city, "country": "US"},
                    }
                ],
            },
        }
    ).encode()


def drive_traffic(served: Served, scratch: Path) -> None:
    """Deliveries, notifications and a poll, as the console's pages will show them."""
    with served.http("shop") as http:
        for name, receiver in served.receivers.items():
            made = http.post(
                "/v1/endpoints", json={"url": receiver.url, "description": f"{name} receiver"}
            )
            assert made.status_code == 201, made.text
            served.endpoints[name] = made.json()["id"]
        assert send(served, "shop", "easypost", "event_tracker_updated_full_history")["accepted"]
        again = send(served, "shop", "easypost", "event_tracker_updated_full_history")
        assert again["duplicate_delivery"] is True  # a carrier's retry
        assert send(served, "shop", "aftership", "tracking_update_in_transit_docs_trimmed")
        assert send(served, "shop", "standard_webhooks", "tracking_updated_waybill_format")
        parked = scratch / "parked.json"
        parked.write_bytes(partner_body(PARKED, "Origin scan"))
        assert send(served, "shop", "standard_webhooks", parked).get("parked") is True
        for number in (TRACKED, TRACKED_TOO):
            earlier = datetime.now(UTC) - timedelta(hours=2)
            served.api.add("ups", number, [SimEvent("in_transit", earlier, city="Reno")])
            added = http.post("/v1/trackers", json={"tracking_number": number, "carrier": "ups"})
            assert added.status_code == 201, added.text
        for number in (TRACKED, TRACKED_TOO):
            wait_for(
                lambda n=number: http.get(f"/v1/trackers/{n}", params={"carrier": "ups"}).json(),
                lambda tracker: tracker["checks"] >= 1,
            )
        assert served.receivers["ok"].wait_for(1)
        assert served.receivers["gone"].wait_for(1)  # 410: the endpoint is disabled
        assert len(served.receivers["failing"].wait_for(2)) >= 2  # an attempt and a retry
    hostile_traffic(served, scratch)


def hostile_traffic(served: Served, scratch: Path) -> None:
    """``mallory``'s deliveries and endpoint: every field an attacker controls is hostile."""
    body = scratch / "hostile.json"
    body.write_bytes(partner_body(HOSTILE_NUMBER, f"{SCRIPT} {BIDI}", city=IMG, code=JS_URL))
    assert send(served, "mallory", "standard_webhooks", body)["accepted"] == 1
    parked = scratch / "hostile-parked.json"
    parked.write_bytes(partner_body(IMG_IN_URL, JS_URL))  # parked: not a tracking number
    assert send(served, "mallory", "standard_webhooks", parked).get("parked") is True
    with served.http("mallory") as http:
        refused = http.post("/v1/endpoints", json={"url": JS_URL})
        assert refused.status_code == 400, refused.text  # a javascript: URL is no endpoint
        made = http.post(
            "/v1/endpoints",
            json={
                "url": f"{served.receivers['ok'].url}?next={JS_URL}&x={IMG_IN_URL}",
                "description": f"{SCRIPT} {IMG} {JS_URL} {BIDI}",
            },
        )
        assert made.status_code == 201, made.text
        served.endpoints["hostile"] = made.json()["id"]
