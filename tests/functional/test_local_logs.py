"""``waybill serve``'s logs through the real edge and handler: one human line per request
(time, method, path, status, outcome code, latency, then the reason of a parking or a
refusal), no Lambda-context JSON or EMF blob by default; ``json`` is what AWS prints."""

from __future__ import annotations

import base64
import io
import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from adapters import standard_webhooks
from gateway.local.logs import local_logging
from gateway.local.server import build_asgi_app
from gateway.observability import logger
from gateway.testkit.harness import moto_harness
from tests.functional.test_local_server import request

NOW = datetime(2026, 1, 1, tzinfo=UTC)
SECRET = "whsec_" + base64.b64encode(b"local-logs-test-secret-32-bytes!").decode()
PATH = "/webhooks/acme/standard_webhooks"
EVENT = {"status": "delivered", "occurred_at": "2025-12-31T10:00:00Z"}
BODY = json.dumps(
    {"type": "tracking.updated", "data": {"tracking_number": "1ZLOG", "events": [EVENT]}}
).encode()
UNREADABLE = json.dumps({"type": "tracking.updated", "data": "not an object"}).encode()
TIME = r"\d\d:\d\d:\d\dZ"


class Edge:
    """The local edge over the real handler (moto DynamoDB, EMF on), with a throttle switch."""

    def __init__(self, handler: Any) -> None:
        self.wait: float | None = None
        self.app = build_asgi_app(handler, lambda key: None, admit_route=lambda t: self.wait)

    def post(self, body: bytes, *, signed: bool = True) -> int:
        headers = standard_webhooks.ADAPTER.sign(body, SECRET, NOW.timestamp()) if signed else {}
        headers["content-type"] = "application/json"
        return request(self.app, "POST", PATH, content=body, headers=headers).status_code

    def four_requests(self) -> list[int]:
        """Accepted, parked, refused (no signature), throttled."""
        statuses = [self.post(BODY), self.post(UNREADABLE), self.post(BODY, signed=False)]
        self.wait = 3.0
        return [*statuses, self.post(BODY)]


@pytest.fixture
def edge() -> Iterator[Edge]:
    with moto_harness(lambda: NOW, emf=True) as gw:
        gw.secrets.values[("acme", "standard_webhooks")] = [SECRET]
        yield Edge(gw.handler)


@pytest.fixture
def powertools_out() -> Iterator[io.StringIO]:
    """What the Powertools logger (the JSON logs, as on AWS) writes, instead of stdout."""
    out = io.StringIO()
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    previous = handler.setStream(out)
    yield out
    handler.setStream(previous)


def test_one_human_line_per_request_with_outcome_and_reason(
    edge: Edge, powertools_out: io.StringIO, capsys: pytest.CaptureFixture[str]
) -> None:
    out = io.StringIO()
    capsys.readouterr()
    with local_logging("human", out):
        assert edge.four_requests() == [200, 202, 401, 429]
    accepted, parked, refused, throttled = out.getvalue().splitlines()  # one line each
    assert re.fullmatch(rf"{TIME} POST {PATH} 200 accepted \d+ms", accepted), accepted
    assert re.fullmatch(rf"{TIME} POST {PATH} 202 parked \d+ms  ParseError: .+", parked), parked
    assert re.fullmatch(rf"{TIME} POST {PATH} 401 signature_missing \d+ms  .+", refused), refused
    assert re.fullmatch(rf"{TIME} POST {PATH} 429 throttled \d+ms  rate limit exceeded", throttled)
    printed = capsys.readouterr().out + powertools_out.getvalue()
    assert "_aws" not in printed and "arn:aws:lambda" not in printed  # no EMF, no Lambda JSON
    assert powertools_out.getvalue() == ""


def test_json_is_what_aws_prints_with_the_parked_reason(
    edge: Edge, powertools_out: io.StringIO, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    with local_logging("json"):
        assert edge.four_requests() == [200, 202, 401, 429]
    records = [json.loads(line) for line in powertools_out.getvalue().splitlines()]
    answered = [r for r in records if "latency_ms" in r]
    assert [(r["status"], r["outcome"]) for r in answered] == [
        (200, "accepted"),
        (202, "parked"),
        (401, "signature_missing"),
        (429, "throttled"),
    ]
    assert all(r["function_arn"].startswith("arn:aws:lambda:") for r in answered)
    (parking,) = [r for r in records if r["message"].startswith("delivery parked")]
    assert parking["reason"] == "ParseError: data is not an object"
    assert "_aws" in capsys.readouterr().out  # EMF metrics, as on AWS


def test_the_human_logs_are_undone_on_exit(edge: Edge, powertools_out: io.StringIO) -> None:
    with local_logging("human", io.StringIO()):
        pass
    assert edge.post(BODY) == 200
    records = [json.loads(line) for line in powertools_out.getvalue().splitlines()]
    assert [r.get("outcome") for r in records if "latency_ms" in r] == ["accepted"]


def test_a_path_cannot_write_control_characters_to_the_terminal(edge: Edge) -> None:
    out = io.StringIO()
    with local_logging("human", out):
        request(edge.app, "POST", "/webhooks/acme/%1b[2Jx%0aforged")
    (line,) = out.getvalue().splitlines()
    assert "\x1b" not in line and line.startswith(f"{line[:9]} POST /webhooks/acme/\\x1b[2Jx\\n")
