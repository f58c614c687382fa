"""``waybill parked list`` shows a parked delivery's reason whole, last on its line (never
cut mid-word), with control characters escaped."""

from __future__ import annotations

import dataclasses

import pytest

from gateway.carriers.adapter import Delivery, ParseResult
from gateway.errors import ParseError
from gateway.testkit.harness import TENANTS_DIR, moto_harness
from tests.functional.test_parked_replay import NOW, SECRET, deliver

LONG = "adapter bug: " + "cannot read this field yet, " * 6 + "\x1b[2J the end"


def long_reason(delivery: Delivery) -> ParseResult:
    raise ParseError(LONG)


def test_the_reason_is_whole_and_escaped(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from gateway.cli import main, parked_cmd

    with moto_harness(lambda: NOW) as gw:
        gw.secrets.values[("acme", "standard_webhooks")] = [SECRET]
        registry = gw.services.pipeline.adapters
        adapter = registry.adapters["standard_webhooks"]
        registry.adapters["standard_webhooks"] = dataclasses.replace(adapter, parse=long_reason)
        assert deliver(gw) == 202
        monkeypatch.setattr(parked_cmd, "_services", lambda args: gw.services)
        capsys.readouterr()
        assert main(["parked", "list", "acme", "--tenants-dir", str(TENANTS_DIR)]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert line.endswith("  ParseError: " + LONG.replace("\x1b", "\\x1b")), line
    assert len(LONG) > 100 and "\x1b" not in line
