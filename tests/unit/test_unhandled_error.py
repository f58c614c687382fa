"""The catch-all's 500 is counted: Lambda's ``Errors`` never sees a handled exception, so
``UnhandledError`` is what the ``unhandled-errors`` alarm watches (issue 16, finding 4)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from gateway import observability
from gateway.api import openapi
from gateway.testkit.harness import moto_harness

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def emitted(out: str) -> list[tuple[str, float]]:
    """(name, value) of every EMF metric in ``out``, checking namespace and dimension."""
    found = []
    for line in out.splitlines():
        blob = json.loads(line) if line.startswith("{") else {}
        for directive in blob.get("_aws", {}).get("CloudWatchMetrics", ()):
            assert directive["Namespace"] == observability.NAMESPACE
            assert directive["Dimensions"] == [["service"]]
            for metric in directive["Metrics"]:
                value = blob[metric["Name"]]  # Powertools writes a list of values
                found.append((metric["Name"], sum(value) if isinstance(value, list) else value))
    return found


def test_an_operation_that_raises_answers_500_and_counts_unhandled_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> str:
        raise RuntimeError("a bug")

    monkeypatch.setattr(openapi, "openapi_text", broken)
    with moto_harness(lambda: NOW) as gw:
        capsys.readouterr()
        reply = gw.call("GET", "/openapi.json")
        assert reply.status == 500
        assert reply.body == {"error": {"code": "internal_error", "message": "internal error"}}
        assert emitted(capsys.readouterr().out) == [("UnhandledError", 1)]  # flushed
        assert gw.call("GET", "/healthz").status == 200
        assert emitted(capsys.readouterr().out) == []  # a good request counts nothing
