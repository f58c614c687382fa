"""A stand-in for API Gateway in front of a Lambda proxy handler, for a real browser.

API Gateway cannot run here, so this small HTTP server on 127.0.0.1 (a thread) does what
a REST API's stage does for the console's routes (:mod:`infra.routes`) and nothing more:

- a request under ``/{stage}/console`` becomes one REST proxy event (payload 1.0),
  handed over as the stage would (:func:`gateway.testkit.rest_console.through_rest_api`:
  on the guarded route, the console authorizer first, its Deny a 403): the
  method; ``path`` without the stage and ``requestContext.path`` with it (both as the
  browser sent them: a REST API does not decode the path); ``headers`` (the last value of
  each name) and ``multiValueHeaders`` (every value, every ``Cookie`` header); the query's
  decoded values in ``queryStringParameters`` / ``multiValueQueryStringParameters`` (None
  when there is none); the body as text with ``isBase64Encoded`` false (the stage has no
  binary media types); ``requestContext.identity.sourceIp``, the stage, the resource;
- the handler's answer is written back as API Gateway would: ``statusCode``, every value
  of ``multiValueHeaders`` (``Set-Cookie`` repeated) after ``headers``, and the body
  (base64-decoded when ``isBase64Encoded``);
- any other path is a 404 that never reaches the handler.

What it leaves out: TLS (the browser talks plain HTTP to loopback, a secure context, so
``Secure`` cookies still stick), the ``X-Forwarded-*`` and ``CloudFront-*`` headers API
Gateway adds, throttling, payload limits, and the Lambda's own process.

Example:
    >>> with RestProxy(lambda event, context: {"statusCode": 204}) as proxy:
    ...     proxy.url("/console/").startswith("http://127.0.0.1:")
    True
"""

from __future__ import annotations

import base64
import threading
import uuid
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from gateway.testkit.rest_console import through_rest_api

ProxyHandler = Callable[[Mapping[str, Any], Any], Mapping[str, Any]]


def rest_event(
    method: str,
    target: str,
    headers: list[tuple[str, str]],
    body: bytes,
    client_ip: str,
    stage: str,
) -> dict[str, Any] | None:
    """The REST proxy event of one request (``target`` as on the request line), or None
    when no route of the stage takes it."""
    split = urlsplit(target)
    prefix = f"/{stage}"
    path = split.path[len(prefix) :] if split.path.startswith(prefix + "/") else ""
    if path not in ("/console", "/console/") and not path.startswith("/console/"):
        return None
    proxy = path.removeprefix("/console/")
    resource = "/console/{proxy+}" if proxy and path != "/console" else "/console"
    multi_headers: dict[str, list[str]] = {}
    for name, value in headers:
        multi_headers.setdefault(name, []).append(value)
    multi_query: dict[str, list[str]] = {}
    for name, value in parse_qsl(split.query, keep_blank_values=True):
        multi_query.setdefault(name, []).append(value)
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": {name: values[-1] for name, values in multi_headers.items()} or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": {"proxy": proxy} if resource != "/console" else None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "path": split.path,
            "stage": stage,
            "protocol": "HTTP/1.1",
            "requestId": str(uuid.uuid4()),
            "identity": {"sourceIp": client_ip},
        },
        "body": body.decode("utf-8") if body else None,
        "isBase64Encoded": False,
    }


class RestProxy:
    """``handler`` behind a stage ``stage`` on ``http://127.0.0.1:<port>/`` (a thread);
    a context manager that shuts the server down. :attr:`events` keeps what it sent the
    handler, :attr:`errors` what the handler raised."""

    def __init__(self, handler: ProxyHandler, stage: str = "api") -> None:
        self.handler, self.stage = handler, stage
        self.events: list[dict[str, Any]] = []
        self.errors: list[Exception] = []  # what the handler raised (each answered 502)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._request_handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        """The browser's URL of ``path`` (a path under the stage, such as ``/console/``)."""
        return f"http://127.0.0.1:{self.server.server_address[1]}/{self.stage}{path}"

    def __enter__(self) -> RestProxy:
        self.thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def _request_handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                event = rest_event(
                    self.command,
                    self.path,
                    list(self.headers.items()),
                    body,
                    self.client_address[0],
                    proxy.stage,
                )
                if event is None:
                    self._write(
                        404, [("content-type", "application/json")], b'{"message":"Not Found"}'
                    )
                    return
                proxy.events.append(event)
                try:
                    answer = through_rest_api(proxy.handler, event)
                except Exception as exc:  # what API Gateway answers when the function fails
                    proxy.errors.append(exc)
                    message = b'{"message": "Internal server error"}'
                    self._write(502, [("content-type", "application/json")], message)
                    return
                pairs = [(k, str(v)) for k, v in (answer.get("headers") or {}).items()]
                multi = answer.get("multiValueHeaders") or {}
                pairs = [(k, v) for k, v in pairs if k not in multi]
                pairs += [(k, str(v)) for k, values in multi.items() for v in values]
                raw = answer.get("body") or ""
                data = base64.b64decode(raw) if answer.get("isBase64Encoded") else raw.encode()
                self._write(int(answer["statusCode"]), pairs, data)

            def _write(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
                self.send_response(status)
                for name, value in headers:
                    if name.lower() not in ("content-length", "connection"):
                        self.send_header(name, value)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = _answer

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the test asserts on :attr:`RestProxy.events` instead."""

        return Handler
