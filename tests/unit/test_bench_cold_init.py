"""bench/cold_init.py: fresh-process init runs, its network check works, rows are sane.

No timing is asserted (targets live in bench/). The ingest and authorizer inits are run
once each to check what the benchmark reports: no network I/O, no forbidden import.
"""

from __future__ import annotations

import pytest

from bench import cold_init
from bench.cold_init import AUTHORIZER, INGEST, child_environment, closed_port, run_child


@pytest.fixture(scope="module")
def env() -> dict[str, str]:
    return child_environment(closed_port())


def test_a_child_reports_its_init_time(env: dict[str, str]) -> None:
    report = run_child("import json", env)
    assert report["cpu_ns"] > 0 and report["wall_ns"] > 0
    assert report["network"] == [] and report["modules"] == []


def test_the_audit_hook_sees_a_connection_attempt(env: dict[str, str]) -> None:
    body = (
        "import socket\n"
        "try:\n"
        "    socket.create_connection(('127.0.0.1', int(os.environ['DYNAMODB_ENDPOINT_URL']"
        ".rsplit(':', 1)[1])), timeout=1)\n"
        "except OSError:\n"
        "    pass"
    )
    assert "socket.connect" in run_child(body, env, audit=True)["network"]


def test_a_failing_child_is_an_error(env: dict[str, str]) -> None:
    with pytest.raises(RuntimeError, match="init failed"):
        run_child("raise SystemExit(3)", env)


@pytest.mark.parametrize("body", [INGEST, AUTHORIZER], ids=["ingest", "authorizer"])
def test_lambda_init_does_no_network_io_and_no_forbidden_import(
    env: dict[str, str], body: str
) -> None:
    report = run_child(body, env, audit=True)
    assert report["network"] == []
    assert report["modules"] == []


def test_measure_gives_three_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    trivial = dict.fromkeys(cold_init.SIDES, "import json")
    monkeypatch.setattr(cold_init, "SIDES", trivial)
    rows = cold_init.measure(rounds=1, warm=False)
    assert [row.name for row in rows] == [
        "ingest handler init / boto3+client",
        "authorizer init / boto3+client",
        "floor: +pydantic+powertools / boto3+client",
    ]
    assert all(row.value > 0 and row.section == "cold_init" for row in rows)
    assert [row.target for row in rows] == [1.25, 1.25, None]
    assert all("network events 0" in row.note for row in rows)
