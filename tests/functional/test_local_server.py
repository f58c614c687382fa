"""The local edge: HTTP in, API Gateway REST proxy events to the handler, HTTP out."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.errors import ThrottledError
from gateway.local.server import build_asgi_app, make_server

KEYS = {"key-acme": "acme", "key-globex": "globex"}
OK = {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": '{"ok":true}'}
REPO_ROOT = Path(__file__).resolve().parents[2]


class Recorder:
    """A fake Lambda handler: records each (event, context), answers a fixed response."""

    def __init__(self, response: Any = None, error: Exception | None = None) -> None:
        self.events: list[dict[str, Any]] = []
        self.contexts: list[Any] = []
        self.response = OK if response is None else response
        self.error = error

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        self.events.append(event)
        self.contexts.append(context)
        if self.error is not None:
            raise self.error
        return self.response

    @property
    def event(self) -> dict[str, Any]:
        assert len(self.events) == 1, self.events
        return self.events[0]


def resolve(key: str) -> str | None:
    return KEYS.get(key)


def request(app: Any, method: str, url: str, **kwargs: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 50123))
        async with httpx.AsyncClient(transport=transport, base_url="http://gw.test") as client:
            return await client.request(method, url, **kwargs)

    return asyncio.run(go())


def asgi_call(
    app: Any, path: str, chunks: list[bytes], headers: list[tuple[bytes, bytes]] | None = None
) -> tuple[list[dict[str, Any]], int]:
    """Call the app with a raw ASGI scope; returns the sent messages and receive() count."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": headers or [],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8080),
    }
    sent: list[dict[str, Any]] = []
    received = 0

    async def receive() -> dict[str, Any]:
        nonlocal received
        received += 1
        more = received < len(chunks)
        return {"type": "http.request", "body": chunks[received - 1], "more_body": more}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent, received


def error_of(response: httpx.Response) -> dict[str, str]:
    assert response.headers["content-type"] == "application/json"
    body: dict[str, dict[str, str]] = response.json()
    assert set(body) == {"error"}
    return body["error"]


SHIPMENT = "/v1/shipments/{tracking_number}"


@pytest.mark.parametrize(
    ("method", "url", "resource", "params"),
    [
        ("POST", "/webhooks/acme/ups", "/webhooks/{tenant}/{carrier}",
         {"tenant": "acme", "carrier": "ups"}),
        ("POST", "/v1/events", "/v1/events", None),
        ("GET", "/v1/shipments", "/v1/shipments", None),
        ("GET", "/v1/shipments/1Z999", SHIPMENT, {"tracking_number": "1Z999"}),
        ("GET", "/v1/shipments/1Z9/events", f"{SHIPMENT}/events", {"tracking_number": "1Z9"}),
        ("GET", "/v1/shipments/1Z9/locations", f"{SHIPMENT}/locations", {"tracking_number": "1Z9"}),
        ("GET", "/healthz", "/healthz", None),
        ("GET", "/openapi.json", "/openapi.json", None),
    ],
)  # fmt: skip
def test_each_route_becomes_its_api_gateway_resource(
    method: str, url: str, resource: str, params: dict[str, str] | None
) -> None:
    handler = Recorder()
    app = build_asgi_app(handler, resolve)
    response = request(app, method, url, headers={"x-api-key": "key-acme"})
    assert response.status_code == 200
    event = handler.event
    assert event["resource"] == resource
    assert event["path"] == url
    assert event["httpMethod"] == method
    assert event["pathParameters"] == params
    assert event["stageVariables"] is None
    context = event["requestContext"]
    assert context["resourcePath"] == resource
    assert context["httpMethod"] == method
    assert context["path"] == url
    assert context["stage"] == "local"
    assert context["identity"]["sourceIp"] == "203.0.113.9"
    assert abs(context["requestTimeEpoch"] - time.time() * 1000) < 60_000
    if url.startswith("/v1/"):
        assert context["authorizer"] == {"tenant": "acme", "principalId": "acme"}
    else:
        assert "authorizer" not in context


def test_a_post_event_carries_headers_query_and_text_body() -> None:
    handler = Recorder()
    app = build_asgi_app(handler, resolve)
    body = '{"tracking_number": "1Z999", "text": "Zürich"}'
    response = request(
        app,
        "POST",
        "/webhooks/acme/easypost?a=1&b=x%20y&a=2&empty=",
        content=body.encode(),
        headers=[
            ("Content-Type", "application/json"),
            ("X-Multi", "first"),
            ("X-Multi", "second"),
        ],
    )
    assert response.status_code == 200
    event = handler.event
    lower = {k.lower(): v for k, v in event["headers"].items()}
    assert lower["content-type"] == "application/json"
    assert lower["x-multi"] == "second"
    multi = {k.lower(): v for k, v in event["multiValueHeaders"].items()}
    assert multi["x-multi"] == ["first", "second"]
    assert event["queryStringParameters"] == {"a": "2", "b": "x y", "empty": ""}
    assert event["multiValueQueryStringParameters"] == {
        "a": ["1", "2"],
        "b": ["x y"],
        "empty": [""],
    }
    assert event["body"] == body
    assert event["isBase64Encoded"] is False


def test_header_names_are_passed_as_received() -> None:
    handler = Recorder()
    app = build_asgi_app(handler, resolve)
    headers = [(b"X-Carrier-Signature", b"t=1,v1=ab"), (b"x-other", b"1"), (b"x-other", b"2")]
    asgi_call(app, "/webhooks/acme/ups", [b"{}"], headers)
    event = handler.event
    assert event["headers"] == {"X-Carrier-Signature": "t=1,v1=ab", "x-other": "2"}
    assert event["multiValueHeaders"] == {
        "X-Carrier-Signature": ["t=1,v1=ab"],
        "x-other": ["1", "2"],
    }


def test_an_empty_request_has_none_for_body_query_and_params() -> None:
    handler = Recorder()
    app = build_asgi_app(handler, resolve)
    request(app, "GET", "/healthz")
    event = handler.event
    assert event["body"] is None
    assert event["isBase64Encoded"] is False
    assert event["queryStringParameters"] is None
    assert event["multiValueQueryStringParameters"] is None
    assert event["pathParameters"] is None


def test_the_path_is_decoded_once_and_routed_as_the_handler_routes_it() -> None:
    handler = Recorder()
    app = build_asgi_app(handler, resolve)
    response = request(
        app, "GET", "/v1/shipments/1Z%2399%20X/events", headers={"x-api-key": "key-acme"}
    )
    assert response.status_code == 200
    assert handler.event["pathParameters"] == {"tracking_number": "1Z#99 X"}
    assert handler.event["path"] == "/v1/shipments/1Z#99 X/events"
    assert handler.event["resource"] == "/v1/shipments/{tracking_number}/events"


@pytest.mark.parametrize(
    "path",
    [
        "/v1/shipments/1Z%2F99/events",  # an encoded slash is a slash: a different shape
        "/webhooks/acme/easypost%2F",  # no trailing slash, encoded or not
        "/webhooks/acme/easypost/",
        "/webhooks/acme%2Feasypost/ups",
    ],
)
def test_a_path_that_decodes_to_another_shape_is_no_route(path: str) -> None:
    handler = Recorder()
    app = build_asgi_app(handler, resolve)
    response = request(app, "POST", path, headers={"x-api-key": "key-acme"})
    assert (response.status_code, error_of(response)["code"]) == (404, "not_found")
    assert handler.events == []


def test_a_body_that_is_not_utf8_is_passed_as_base64() -> None:
    handler = Recorder()
    app = build_asgi_app(handler, resolve)
    raw = b"\xff\xfe\x00binary\x80"
    request(app, "POST", "/webhooks/acme/ups", content=raw)
    assert handler.event["isBase64Encoded"] is True
    assert base64.b64decode(handler.event["body"]) == raw


def test_the_handler_gets_a_lambda_context() -> None:
    handler = Recorder()
    app = build_asgi_app(handler, resolve)
    request(app, "GET", "/healthz")
    context = handler.contexts[0]
    assert context.aws_request_id
    assert context.function_name
    assert context.memory_limit_in_mb > 0
    assert context.invoked_function_arn.startswith("arn:aws:lambda:")
    assert 0 < context.get_remaining_time_in_millis() <= 29_000
    assert handler.event["requestContext"]["requestId"]  # a fresh uuid per request
    request(app, "GET", "/healthz")
    ids = {e["requestContext"]["requestId"] for e in handler.events}
    assert len(ids) == 2


@pytest.mark.parametrize("headers", [{}, {"x-api-key": "wrong-key-123"}, {"x-api-key": ""}])
@pytest.mark.parametrize("url", ["/v1/shipments/1Z999", "/v1/events", "/v1/shipments"])
def test_v1_without_a_known_api_key_is_401_and_the_handler_is_not_called(
    headers: dict[str, str], url: str
) -> None:
    handler = Recorder()
    app = build_asgi_app(handler, resolve)
    response = request(app, "GET", url, headers=headers)
    assert response.status_code == 401
    assert error_of(response) == {
        "code": "unauthenticated",
        "message": "missing or unknown API key",
    }
    assert "wrong-key-123" not in response.text
    assert handler.events == []


def test_webhooks_need_no_api_key_the_handler_verifies_them() -> None:
    handler = Recorder()
    app = build_asgi_app(handler, resolve)
    assert request(app, "POST", "/webhooks/acme/ups", content=b"{}").status_code == 200


@pytest.mark.parametrize(
    "url", ["/", "/nope", "/healthz/", "/webhooks/acme", "/webhooks/acme/ups/extra", "/v1/other"]
)
def test_an_unknown_path_is_404_json_and_the_handler_is_not_called(url: str) -> None:
    handler = Recorder()
    app = build_asgi_app(handler, resolve)
    response = request(app, "GET", url, headers={"x-api-key": "key-acme"})
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"
    assert handler.events == []


def test_a_body_over_the_limit_is_413_from_its_declared_length() -> None:
    handler = Recorder()
    app = build_asgi_app(handler, resolve, max_body_bytes=100)
    response = request(app, "POST", "/webhooks/acme/ups", content=b"x" * 101)
    assert response.status_code == 413
    assert error_of(response)["code"] == "payload_too_large"
    assert handler.events == []
    assert request(app, "POST", "/webhooks/acme/ups", content=b"x" * 100).status_code == 200


def test_a_streamed_body_over_the_limit_is_413_and_reading_stops_early() -> None:
    handler = Recorder()
    app = build_asgi_app(handler, resolve, max_body_bytes=1000)
    chunks = [b"x" * 400] * 10  # no content-length: chunked
    sent, received = asgi_call(app, "/webhooks/acme/ups", chunks)
    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["error"]["code"] == "payload_too_large"
    assert received == 3  # 1200 bytes > 1000: the other 7 chunks are never read
    assert handler.events == []


def test_a_chunked_body_within_the_limit_is_joined() -> None:
    handler = Recorder()
    app = build_asgi_app(handler, resolve)
    sent, _ = asgi_call(app, "/webhooks/acme/ups", [b'{"a":', b"", b"1}"])
    assert sent[0]["status"] == 200
    assert handler.event["body"] == '{"a":1}'


def test_a_handler_exception_is_a_500_json_and_one_log_line_without_the_body(
    caplog: pytest.LogCaptureFixture,
) -> None:
    handler = Recorder(error=RuntimeError("boom"))
    app = build_asgi_app(handler, resolve)
    with caplog.at_level(logging.ERROR, logger="waybill.local"):
        response = request(app, "POST", "/webhooks/acme/ups", content=b"SECRET-PAYLOAD-42")
    assert response.status_code == 500
    assert error_of(response)["code"] == "internal_error"
    assert "boom" not in response.text
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert "RuntimeError" in errors[0].getMessage()
    assert "/webhooks/{tenant}/{carrier}" in errors[0].getMessage()
    assert "SECRET-PAYLOAD-42" not in caplog.text


@pytest.mark.parametrize("bad", [None, {"body": "x"}, {"statusCode": "200"}, "text"])
def test_a_malformed_handler_response_is_a_502_like_api_gateway(bad: Any) -> None:
    app = build_asgi_app(Recorder(response=bad if bad is not None else {}), resolve)
    response = request(app, "GET", "/healthz")
    assert response.status_code == 502
    assert error_of(response)["code"] == "internal_error"


def test_the_proxy_response_becomes_http_with_merged_headers() -> None:
    handler = Recorder(
        response={
            "statusCode": 202,
            "headers": {"Content-Type": "application/json", "X-Single": "s", "X-Both": "h"},
            "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"], "x-both": ["m1", "m2"]},
            "body": '{"parked": true}',
            "isBase64Encoded": False,
        }
    )
    response = request(build_asgi_app(handler, resolve), "POST", "/webhooks/acme/ups")
    assert response.status_code == 202
    assert response.json() == {"parked": True}
    assert response.headers["x-single"] == "s"
    assert response.headers.get_list("set-cookie") == ["a=1", "b=2"]
    assert response.headers.get_list("x-both") == ["m1", "m2"]  # multiValueHeaders win
    assert response.headers["content-length"] == str(len(response.content))


def test_a_base64_response_body_is_decoded_and_a_missing_body_is_empty() -> None:
    raw = b"\x89PNG\r\n\x1a\n\x00\xff"
    handler = Recorder(
        response={
            "statusCode": 200,
            "body": base64.b64encode(raw).decode(),
            "isBase64Encoded": True,
        }
    )
    assert request(build_asgi_app(handler, resolve), "GET", "/healthz").content == raw
    empty = request(
        build_asgi_app(Recorder(response={"statusCode": 204}), resolve), "GET", "/healthz"
    )
    assert empty.status_code == 204
    assert empty.content == b""


def test_the_admission_hooks_are_asked_per_tenant_and_can_refuse_with_retry_after() -> None:
    asked: list[str] = []

    def admit(tenant: str) -> float | None:
        asked.append(f"key:{tenant}")
        return 2.5 if tenant == "globex" else None

    def admit_route(tenant: str) -> float | None:
        asked.append(f"route:{tenant}")
        return 1.0 if tenant == "globex" else None

    handler = Recorder()
    app = build_asgi_app(handler, resolve, admit=admit, admit_route=admit_route)
    assert (
        request(app, "GET", "/v1/shipments", headers={"x-api-key": "key-acme"}).status_code == 200
    )
    refused = request(app, "GET", "/v1/shipments", headers={"x-api-key": "key-globex"})
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "3"
    assert error_of(refused)["code"] == "throttled"
    assert request(app, "POST", "/webhooks/globex/ups", content=b"{}").status_code == 429
    assert request(app, "POST", "/webhooks/acme/ups", content=b"{}").status_code == 200
    assert request(app, "GET", "/healthz").status_code == 200
    assert asked == ["key:acme", "key:globex", "route:globex", "route:acme"]
    assert len(handler.events) == 3


def test_an_admission_hook_that_raises_names_the_limit_and_the_body_is_never_read() -> None:
    def admit(tenant: str) -> float | None:
        raise ThrottledError(
            "quota of 10 requests per day exceeded", code="quota_exceeded", retry_after=3600
        )

    handler = Recorder()
    app = build_asgi_app(handler, resolve, admit_route=admit)
    sent, received = asgi_call(app, "/webhooks/acme/ups", [b"x" * 10] * 5)
    assert sent[0]["status"] == 429
    assert (b"retry-after", b"3600") in sent[0]["headers"]
    assert json.loads(sent[1]["body"]) == {
        "error": {"code": "quota_exceeded", "message": "quota of 10 requests per day exceeded"}
    }
    assert received == 0
    assert handler.events == []


def test_the_app_acknowledges_lifespan() -> None:
    app = build_asgi_app(Recorder(), resolve)
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app({"type": "lifespan"}, receive, send))
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


def test_real_uvicorn_serves_the_app_on_loopback() -> None:
    handler = Recorder()
    server = make_server(build_asgi_app(handler, resolve), "127.0.0.1", 0)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            ok = client.post("/webhooks/acme/ups?x=1", content=b'{"a":1}', headers={"X-Sig": "v1"})
            denied = client.get("/v1/shipments")
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert ok.status_code == 200 and ok.json() == {"ok": True}
    assert denied.status_code == 401
    event = handler.event
    assert event["headers"]["x-sig"] == "v1"  # uvicorn lowercases header names
    assert event["body"] == '{"a":1}'
    assert event["queryStringParameters"] == {"x": "1"}
    assert event["requestContext"]["identity"]["sourceIp"] == "127.0.0.1"


SERVE_SCRIPT = """
from gateway.local.server import build_asgi_app, run_server
app = build_asgi_app(lambda e, c: {"statusCode": 200, "body": "up"}, lambda k: None)
run_server(app, "127.0.0.1", 0, on_ready=lambda url: print("READY", url, flush=True))
print("RETURNED", flush=True)
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_run_server_returns_after_a_graceful_shutdown_on_a_signal(sig: signal.Signals) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-c", SERVE_SCRIPT], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 20)
        assert ready, "the server did not report READY within 20 s"
        line = process.stdout.readline()
        assert line.startswith("READY http://127.0.0.1:"), line
        url = line.split()[1]
        assert httpx.get(f"{url}/healthz", timeout=5).text == "up"
        process.send_signal(sig)
        out, _ = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert process.returncode == 0
    assert out.strip() == "RETURNED"


def test_a_wrong_method_on_a_real_route_is_405_with_allow_after_the_key() -> None:
    handler = Recorder()
    app = build_asgi_app(handler, resolve)
    wrong = request(app, "DELETE", "/webhooks/acme/ups")
    assert (wrong.status_code, error_of(wrong)["code"]) == (405, "method_not_allowed")
    assert wrong.headers["allow"] == "POST"
    keyed = request(app, "PUT", "/v1/shipments/1Z9", headers={"x-api-key": "key-acme"})
    assert (keyed.status_code, keyed.headers["allow"]) == (405, "GET")
    assert request(app, "PUT", "/v1/shipments/1Z9").status_code == 401  # no key: no map
    assert handler.events == []
