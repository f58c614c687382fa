"""``waybill endpoints …`` (moto DynamoDB): the command reaches the services of a running
server (here the harness's, in place of ``serve.json``'s), prints secrets only when made,
one line per message with its attempts, audits changes without secrets, and fails with
one clean line."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from gateway.cli import endpoints_cmd, main
from gateway.models import Status
from gateway.testkit.events import T0, make_event
from gateway.testkit.harness import TENANTS_DIR, Harness, moto_harness
from tests.support.notify import FakeSender, install_sender, replay_stream

NOW = T0 + timedelta(days=30, minutes=5)
URL = "https://hooks.example.com/acme"
Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def gw(monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    with moto_harness(lambda: NOW) as harness:
        monkeypatch.setattr(endpoints_cmd, "running", lambda args: harness.services)
        yield harness


@pytest.fixture
def run(gw: Harness, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Run:
    def invoke(*argv: str) -> tuple[int, str, str]:
        common = ["--state-dir", str(tmp_path), "--tenants-dir", str(TENANTS_DIR)]
        code = main(["endpoints", *argv, *common])
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


def added(run: Run, *extra: str) -> tuple[str, str]:
    code, out, _ = run("add", "acme", URL, *extra)
    assert code == 0, out
    endpoint = out.split()[0]
    (secret,) = re.findall(r"whsec_\S+", out)
    return endpoint, secret


def test_add_prints_the_secret_once_and_list_never(run: Run, gw: Harness, tmp_path: Path) -> None:
    code, out, _ = run("add", "acme", URL, "--types", "shipment.event_added", "--description", "x")
    assert code == 0
    first, second = out.splitlines()
    endpoint = first.split()[0]
    assert first == f"{endpoint}  enabled  {URL}  types=shipment.event_added  'x'"
    assert second.startswith("secret whsec_") and "shown once" in second
    secret = second.split()[1]
    code, out, _ = run("list", "acme")
    assert (code, out) == (0, first + "\n")
    assert secret not in (tmp_path / "audit.jsonl").read_text()
    (entry,) = map(json.loads, (tmp_path / "audit.jsonl").read_text().splitlines())
    assert (entry["action"], entry["tenant"], entry["target"]) == ("endpoint.add", "acme", endpoint)
    assert run("list", "globex")[1] == "no endpoints for globex\n"


def test_rotate_disable_enable_remove(run: Run, gw: Harness) -> None:
    endpoint, secret = added(run)
    code, out, _ = run("rotate", "acme", endpoint, "--grace", "2h")
    (new,) = re.findall(r"whsec_\S+", out)
    assert code == 0 and new != secret and "shown once" in out
    store = gw.services.notifications.notifier.endpoints
    assert store.signing_secrets(store.get("acme", endpoint), NOW) == [new, secret]
    assert "disabled (by request)" in run("disable", "acme", endpoint)[1]
    assert run("enable", "acme", endpoint)[1].split()[1] == "enabled"
    assert run("remove", "acme", endpoint)[1] == f"removed {endpoint} (0 unsent messages dropped)\n"
    assert run("list", "acme")[1] == "no endpoints for acme\n"


def test_messages_resend_and_recover(run: Run, gw: Harness, tmp_path: Path) -> None:
    endpoint, _ = added(run, "--types", "shipment.status_changed", "shipment.event_added")
    install_sender(gw.services, FakeSender(status=503))
    events = [make_event(0), make_event(1, status=Status.DELIVERED)]
    gw.services.store.record(events, delivery_key="d", now=NOW, retention_days=30)
    replay_stream(gw.services)
    code, out, _ = run("messages", "acme", endpoint)
    lines = out.splitlines()
    assert code == 0 and len(lines) == 3
    for line in lines:
        assert re.fullmatch(
            r"msg_\w{26}  \S+Z  shipment\.(status_changed|event_added)  EZ1000000001 easypost "
            r"delivered  pending \(next \S+Z\)  attempts=1: \S+Z stream 503 3ms",
            line,
        ), line
    message = lines[0].split()[0]
    install_sender(gw.services)
    code, out, _ = run("resend", "acme", endpoint, message)
    assert code == 0 and out.startswith(message) and out.rstrip().endswith("resend 200 3ms")
    assert "delivered" in out
    resent = json.loads((tmp_path / "audit.jsonl").read_text().splitlines()[-1])
    assert (resent["action"], resent["target"]) == ("endpoint.resend", endpoint)
    assert resent["detail"] == {"message": message, "answered": 200}
    code, out, _ = run("messages", "acme", endpoint, "--status", "pending", "--limit", "1")
    assert code == 0 and out.count("\n") == 2 and "(older: --before msg_" in out
    code, out, _ = run("recover", "acme", endpoint, "--since", "1d")
    assert code == 0 and out.startswith(f"queued 0 failed messages of {endpoint} since ")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("remove", "acme", "ep_aaaaaaaaaaaaaaaa"), "no such endpoint (not_found)"),
        (("remove", "acme", "nope"), "'nope' is not an endpoint id (ep_…)"),
        (("resend", "acme", "ep_aaaaaaaaaaaaaaaa", "x"), "'x' is not a message id (msg_…)"),
        (("add", "acme", "http://hooks.example.com/"), "must use https (endpoint_url_forbidden)"),
        (("add", "acme", URL, "--statuses", "lost"), "statuses.0: input should be"),
        (("add", "nobody", URL), "unknown tenant 'nobody'"),
        (("rotate", "acme", "ep_aaaaaaaaaaaaaaaa", "--grace", "8d"), "--grace is at most 7d"),
        (("recover", "acme", "ep_aaaaaaaaaaaaaaaa", "--since", "31d"), "older than the tenant"),
        (("recover", "acme", "ep_aaaaaaaaaaaaaaaa", "--since", "2999-01-01"), "in the future"),
        (("messages", "acme", "ep_aaaaaaaaaaaaaaaa", "--limit", "0"), "--limit is 1..100"),
    ],
)
def test_errors_are_one_clean_line(run: Run, argv: tuple[str, ...], message: str) -> None:
    code, out, err = run(*argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("waybill: ") and message in err, err


def test_without_a_running_server(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["endpoints", "list", "acme", "--state-dir", str(tmp_path)]
    assert main([*argv, "--tenants-dir", str(TENANTS_DIR)]) == 2
    assert capsys.readouterr().err == (
        f"waybill: no running `waybill serve` with --state-dir {tmp_path}: start it with "
        f"`waybill serve --state-dir {tmp_path}` (`make run` serves .waybill)\n"
    )


def test_the_commands_build_the_services_as_the_running_server_did(tmp_path: Path) -> None:
    """``serve.json`` carries the server's endpoint policy and retry scale; the secrets'
    key is the state dir's, so a secret sealed by the server opens for the command."""
    from gateway.local.ownership import own_state_dir
    from gateway.local.runtime import ServerNotRunningError, write_runtime
    from gateway.local.wiring import running_services
    from gateway.notify.sealing import Sealer, local_key

    with pytest.raises(ServerNotRunningError):
        running_services(tmp_path, TENANTS_DIR)
    owned = own_state_dir(tmp_path)  # as the server owns its state dir
    answers = socket.create_server(("127.0.0.1", 0))  # as DynamoDB Local would (never asked)
    with owned as owner, answers:
        endpoint = f"http://127.0.0.1:{answers.getsockname()[1]}"
        write_runtime(owner, dynamodb_endpoint=endpoint, table_name="t", retry_scale=0.01)
        services = running_services(tmp_path, TENANTS_DIR)
        assert services.store.table == "t"
        notifier = services.notifications.notifier
        assert (notifier.policy.allow_insecure, notifier.retry_scale) == (True, 0.01)
        sealed = Sealer(local_key(tmp_path)).seal(b"whsec_x", "acme/ep_1")
        assert notifier.endpoints.sealer.open(sealed, "acme/ep_1") == b"whsec_x"
        write_runtime(
            owner, dynamodb_endpoint=endpoint, table_name="t", allow_insecure_endpoints=False
        )
        services = running_services(tmp_path, TENANTS_DIR)
        assert services.notifications.notifier.policy.allow_insecure is False
        assert services.notifications.notifier.retry_scale == 1.0
