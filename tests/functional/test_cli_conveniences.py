"""What people expect of the ``waybill`` console script: ``--version``, quiet pipes, revoking
a key by its full value without ever echoing it, ``--json`` on every list and show command,
defaults in ``--help``, and ``waybill send`` listing fixtures and signing Shippo's HMAC and
UPS v2 (a token from the gateway's own endpoint) when the tenant has them.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from gateway.cli import main
from gateway.local.server import build_asgi_app, make_server
from gateway.tenancy.local_secrets import LocalSecretStore
from gateway.testkit.harness import TENANTS_DIR, Harness, moto_harness

ROOT = Path(__file__).resolve().parents[2]
WAYBILL = str(Path(sys.executable).parent / "waybill")
DEMO = 'name = "Demo"\nplan = "standard"\n[carriers.easypost]\n[carriers.aftership]\n'


def waybill(*argv: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """The real console script."""
    return subprocess.run([WAYBILL, *argv], cwd=cwd, capture_output=True, text=True, timeout=60)


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[str, str]:
    tenants = tmp_path / "tenants"
    tenants.mkdir()
    (tenants / "demo.toml").write_text(DEMO)
    return str(tmp_path / "state"), str(tenants)


# --- --version, pipes ------------------------------------------------------------------------


def test_version_is_the_package_version() -> None:
    done = waybill("--version")
    assert (done.returncode, done.stdout) == (0, f"waybill {metadata.version('waybill')}\n")


def test_a_reader_that_goes_away_ends_the_command_quietly(tmp_path: Path) -> None:
    lines = [
        {"at": f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}Z", "tenant": "demo", "actor": "ops"}
        | {"action": "key.issue", "target": f"wb_{i:05d}", "detail": {"note": "x" * 80}}
        for i in range(3000)
    ]
    (tmp_path / "audit.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    command = (
        f"set -o pipefail; {WAYBILL} audit demo --since 2025-12-01 --limit 3000 "
        f"--state-dir {tmp_path} | head -1"
    )
    done = subprocess.run(
        ["bash", "-c", command], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.stdout.startswith("2026-01-01T00:49:59Z  change")
    assert "Traceback" not in done.stderr and "BrokenPipeError" not in done.stderr, done.stderr
    assert "Exception ignored" not in done.stderr
    assert done.returncode == 141  # ended as by SIGPIPE, like any filter


# --- keys revoke with the full key ------------------------------------------------------------


def test_keys_revoke_takes_the_full_key_and_never_prints_it(dirs: tuple[str, str]) -> None:
    state, tenants = dirs
    where = ["--state-dir", state, "--tenants-dir", tenants]
    key = waybill("keys", "issue", "demo", *where).stdout.strip()
    other = waybill("keys", "issue", "demo", *where).stdout.strip()
    assert key.startswith("wb_") and len(key) > 40
    unknown = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    for refused in (
        waybill("keys", "revoke", "demo", unknown, *where),  # no such key
        waybill("keys", "revoke", "nobody", key, *where),  # not that tenant's
    ):
        assert refused.returncode == 2, refused.stderr
        assert "matches the key given (not shown)" in refused.stderr
        for text in (key, unknown, key[8:], unknown[8:]):
            assert text not in refused.stdout + refused.stderr
    done = waybill("keys", "revoke", "demo", key, *where)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"revoked API key {key[:8]} of demo; it is refused from now on\n"
    again = waybill("keys", "revoke", "demo", key, *where)  # revoked already: still not echoed
    assert again.returncode == 2 and key[8:] not in again.stdout + again.stderr
    listed = json.loads(waybill("keys", "list", "demo", "--json", *where).stdout)
    assert [(k["prefix"], k["active"]) for k in listed["keys"]] == sorted(
        [(key[:8], False), (other[:8], True)],
        key=lambda pair: [k["prefix"] for k in listed["keys"]].index(pair[0]),
    )
    audit = Path(state, "audit.jsonl").read_text()
    assert key[8:] not in audit and other[8:] not in audit


# --- --json --------------------------------------------------------------------------------


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_local_lists_and_shows_print_stable_json_without_secrets(
    capsys: pytest.CaptureFixture[str], dirs: tuple[str, str]
) -> None:
    state, tenants = dirs
    where = ["--state-dir", state, "--tenants-dir", tenants]
    assert main(["secrets", "set", "demo", "easypost", "--generate", *where]) == 0
    assert main(["keys", "issue", "demo", *where]) == 0
    key = capsys.readouterr().out.splitlines()[-2]
    keyset = LocalSecretStore(Path(state)).get("demo", "easypost")
    assert keyset is not None
    secret = keyset.current.value
    secrets = run_json(capsys, "secrets", "list", "demo", *where)
    assert secrets["tenant"] == "demo"
    easypost, aftership = secrets["secrets"][1], secrets["secrets"][0]
    assert set(easypost) == {"target", "enabled", "current", "previous"}
    assert (
        easypost["current"]["value"] != secret and secret[-4:] not in easypost["current"]["value"]
    )
    assert easypost["current"]["created_at"].endswith("Z")
    assert aftership == {"target": "aftership", "enabled": True, "current": None, "previous": []}
    keys = run_json(capsys, "keys", "list", "demo", *where)
    assert [set(k) for k in keys["keys"]] == [{"prefix", "created_at", "revoked_at", "active"}]
    listed = run_json(capsys, "tenants", "list", "--tenants-dir", tenants)
    assert listed["tenants"] == [
        {
            "id": "demo",
            "name": "Demo",
            "plan": "standard",
            "retention_days": 90,
            "carriers": ["aftership", "easypost"],
        }
    ]
    shown = run_json(capsys, "tenants", "show", "demo", "--tenants-dir", tenants)
    assert shown["id"] == "demo" and set(shown["carriers"]) == {"aftership", "easypost"}
    assert shown["limits"]["rate"] > 0
    adapters = run_json(capsys, "adapters", "list")
    assert {"easypost", "ups"} <= {a["id"] for a in adapters["adapters"]}
    audit = run_json(capsys, "audit", "demo", *where[:2])
    assert [(e["kind"], e["action"]) for e in audit["entries"]] == [
        ("change", "key.issue"),
        ("change", "secret.set"),
    ]
    capsys.readouterr()
    every = json.dumps([secrets, keys, listed, shown, audit])
    assert secret not in every and key not in every and key[8:] not in every


@pytest.fixture
def gw() -> Iterator[Harness]:
    with moto_harness(lambda: datetime.now(UTC)) as harness:
        yield harness


def test_lists_of_the_running_server_print_json(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, gw: Harness
) -> None:
    from gateway.cli import endpoints_cmd, parked_cmd, pollers_cmd, trackers_cmd

    for module in (endpoints_cmd, trackers_cmd, pollers_cmd):
        monkeypatch.setattr(module, "running", lambda args: gw.services)
    monkeypatch.setattr(parked_cmd, "_services", lambda args: gw.services)
    where = ["--tenants-dir", str(TENANTS_DIR)]
    url = "https://hooks.example.com/a"
    assert main(["endpoints", "add", "acme", url, *where]) == 0
    secret = capsys.readouterr().out.split("secret ")[1].split()[0]
    endpoints = run_json(capsys, "endpoints", "list", "acme", *where)
    (endpoint,) = endpoints["endpoints"]
    assert endpoint["url"] == url and "secret" not in json.dumps(endpoints)
    messages = run_json(capsys, "endpoints", "messages", "acme", endpoint["id"], *where)
    assert messages == {"endpoint": endpoint["id"], "messages": [], "older": None}
    assert run_json(capsys, "parked", "list", "acme", *where) == {"tenant": "acme", "parked": []}
    trackers = run_json(capsys, "trackers", "list", "acme", *where)
    assert trackers == {"trackers": [], "after": None}
    status = run_json(capsys, "pollers", "status", *where)
    assert set(status) == {"carriers"}
    assert all(
        {"tenant", "carrier", "requests_today", "daily_budget"} <= set(r)
        for r in status["carriers"]
    )
    log = run_json(capsys, "pollers", "log", "acme", "1Z1", "--carrier", "ups", *where)
    assert set(log) == {"tenant", "day", "checks"}
    assert secret not in json.dumps([endpoints, messages, trackers, status, log])


# --- help ----------------------------------------------------------------------------------


def test_grace_shows_its_default(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["secrets", "rotate", "--help"])
    assert "(default: 24h)" in " ".join(capsys.readouterr().out.split())


# --- waybill send ------------------------------------------------------------------------


def test_send_lists_a_carriers_fixtures(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["send", "easypost", "--list"]) == 0
    names = capsys.readouterr().out.split()
    assert "event_tracker_updated_full_history" in names
    assert not any(n.endswith((".meta", ".expected", ".headers", ".json")) for n in names)


@pytest.fixture
def served(gw: Harness) -> Iterator[str]:
    """The harness's handler behind the real local edge, on loopback."""
    server = make_server(build_asgi_app(gw.handler, lambda key: None), "127.0.0.1", 0)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def set_secret(gw: Harness, state: str, tenant: str, target: str, value: str) -> None:
    """``target``'s secret for the sender (local state) and the gateway (the harness)."""
    where = ["--state-dir", state, "--tenants-dir", str(TENANTS_DIR)]
    assert main(["secrets", "set", tenant, target, "--value", value, *where]) == 0
    gw.secrets.values[(tenant, target)] = [value]


def test_send_signs_shippos_hmac_when_the_tenant_has_it(
    capsys: pytest.CaptureFixture[str], gw: Harness, served: str, tmp_path: Path
) -> None:
    state = str(tmp_path)
    set_secret(gw, state, "hooli", "shippo", "url-token-of-hooli")
    set_secret(gw, state, "hooli", "shippo.hmac", "hmac-key-of-hooli-32-bytes-long!")
    argv = ["send", "shippo", "track_updated_status_only_built", "--tenant", "hooli"]
    argv += ["--url", served, "--state-dir", state, "--tenants-dir", str(TENANTS_DIR)]
    capsys.readouterr()
    code = main(argv)
    out = capsys.readouterr().out
    assert (code, out.split()[0]) == (0, "200"), out  # the slot is set: the HMAC is required
    assert "hmac-key-of-hooli" not in out and "url-token-of-hooli" not in out


def test_send_signs_ups_v2_with_a_token_from_the_gateway(
    capsys: pytest.CaptureFixture[str], gw: Harness, served: str, tmp_path: Path
) -> None:
    state = str(tmp_path)
    set_secret(gw, state, "upsco", "ups.oauth", "upsco-oauth-client-secret")  # no v1 secret
    argv = ["send", "ups", "synthetic_eta_update_U", "--tenant", "upsco", "--url", served]
    argv += ["--state-dir", state, "--tenants-dir", str(TENANTS_DIR)]
    capsys.readouterr()
    code = main(argv)
    out, err = capsys.readouterr()
    assert (code, out.split()[0]) == (0, "200"), out + err
    assert gw.counts.get("Rejected_invalid_client", 0) == 0
    assert "upsco-oauth-client-secret" not in out + err
