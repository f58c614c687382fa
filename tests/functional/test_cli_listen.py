"""``waybill listen`` in process (moto DynamoDB): its endpoint is removed however it stops
(Ctrl-C, SIGTERM, a receiver that fails), and a server refusing http endpoints is a
clean error. The end to end run is tests/integration/test_listen_dynamodb_local.py."""

from __future__ import annotations

import _thread
import os
import signal
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from gateway.cli import listen_cmd, main
from gateway.local import listener
from gateway.notify.addresses import AddressPolicy
from gateway.testkit.events import T0
from gateway.testkit.harness import TENANTS_DIR, Harness, moto_harness

NOW = T0 + timedelta(days=30)


@pytest.fixture
def gw(monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    with moto_harness(lambda: NOW) as harness:
        harness.services.notifications.notifier.policy = AddressPolicy(allow_insecure=True)
        monkeypatch.setattr(listen_cmd, "running", lambda args: harness.services)
        yield harness


def listen(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    common = ["--state-dir", str(tmp_path), "--tenants-dir", str(TENANTS_DIR)]
    code = main(["listen", "--tenant", "acme", *common])
    out, err = capsys.readouterr()
    return code, out, err


def once_registered(gw: Harness, action: Callable[[], object]) -> None:
    """Run ``action`` on a thread once the listener's endpoint exists (10 s at most)."""

    def wait() -> None:
        for _ in range(200):
            if gw.services.notifications.endpoints("acme"):
                break
            threading.Event().wait(0.05)
        action()

    threading.Thread(target=wait, daemon=True).start()


@pytest.mark.parametrize(
    "stop",
    [_thread.interrupt_main, lambda: os.kill(os.getpid(), signal.SIGTERM)],
    ids=["ctrl-c", "sigterm"],
)
def test_the_endpoint_is_removed_on_ctrl_c_and_sigterm(
    gw: Harness, tmp_path: Path, capsys: pytest.CaptureFixture[str], stop: Callable[[], None]
) -> None:
    before = signal.getsignal(signal.SIGTERM)
    once_registered(gw, stop)
    code, out, _ = listen(tmp_path, capsys)
    first, last = out.splitlines()
    endpoint = first.split("(endpoint ")[1].split(",")[0]
    assert code == 0 and first.startswith("Ready: acme's shipment.status_changed, shipment.")
    assert last == f"removed endpoint {endpoint}"
    assert gw.services.notifications.endpoints("acme") == []
    assert signal.getsignal(signal.SIGTERM) == before


def test_the_endpoint_is_removed_when_the_receiver_fails(
    gw: Harness, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: object, poll_interval: float = 0.5) -> None:
        while not gw.services.notifications.endpoints("acme"):
            threading.Event().wait(0.05)
        raise OSError("receiver socket lost")

    monkeypatch.setattr(listener._QuietServer, "serve_forever", broken)
    code, out, err = listen(tmp_path, capsys)
    assert code == 2 and err == "waybill: the receiver failed: OSError: receiver socket lost\n"
    assert out.splitlines()[-1].startswith("removed endpoint ep_")
    assert gw.services.notifications.endpoints("acme") == []


def test_a_server_taking_https_endpoints_only_is_a_clean_error(
    gw: Harness, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gw.services.notifications.notifier.policy = AddressPolicy()
    code, out, err = listen(tmp_path, capsys)
    assert (code, out) == (2, "")
    assert (
        err == "waybill: the running server takes https endpoints only (--https-endpoints-only)\n"
    )
