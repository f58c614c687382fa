"""The local edge: a plain ASGI app that does API Gateway's and the authorizer's job.

Each request becomes an API Gateway REST proxy event for the same Lambda handler that
runs on AWS. Edge duties done here, without calling the handler: route matching (404),
``x-api-key`` on ``/v1`` (401), an optional admission hook for throttling (429), and the
body size limit (413).

Example::

    app = build_asgi_app(handler, resolve_api_key)
    run_server(app, "127.0.0.1", 8080)  # returns on Ctrl-C or SIGTERM
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import uvicorn

from gateway.errors import (
    AuthenticationError,
    GatewayError,
    MethodNotAllowedError,
    NotFoundError,
    ThrottledError,
)
from gateway.local.asgi import (
    ASGIApp,
    InternalError,
    Receive,
    Scope,
    Send,
    header_values,
    lifespan,
    read_body,
    respond,
    send_error,
)
from gateway.local.console_mount import Console, is_console_path, serve_console
from gateway.local.logs import Answered, collect_notes, log_request
from gateway.local.proxy_event import (
    LocalContext,
    MalformedResponseError,
    build_event,
    http_response,
)
from gateway.routes import match_route

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
ResolveApiKey = Callable[[str], str | None]
#: Throttling seam: None admits the request; a number refuses it (retry after that many s)
#: as ``throttled``; a raised ThrottledError refuses it with its own code (which limit).
Admit = Callable[[str], float | None]

EDGE_READ_LIMIT_BYTES = 1_048_576
"""The most the local edge reads of a body before answering 413 itself: above the routes' own
limit (:data:`gateway.api.http.BODY_LIMIT_BYTES`, enforced by the handler, as on AWS
behind API Gateway's 10 MB), so that a too-large body gets the same answer everywhere."""
logger = logging.getLogger("waybill.local")


def build_asgi_app(
    handler: Handler,
    resolve_api_key: ResolveApiKey,
    *,
    max_body_bytes: int = EDGE_READ_LIMIT_BYTES,
    admit: Admit | None = None,
    admit_route: Admit | None = None,
    console: Console | None = None,
) -> ASGIApp:
    """The ASGI application in front of ``handler``, a Lambda handler run in a thread.

    Before the body is read, ``admit(tenant)`` is called for a ``/v1`` request whose API
    key resolved to the tenant, and ``admit_route(tenant)`` for a request that only names
    a tenant in its path (a webhook: its signature is checked later, by the handler, which
    counts it against the tenant's quota once verified). A :class:`ThrottledError` either
    raises is answered 429 with its code and ``Retry-After``. ``console`` (the ops
    console, :mod:`gateway.console`) answers every path under ``/console``.
    """

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        notes = collect_notes()  # reasons the handler logs (parked, refused) join this line
        answered = Answered(send)
        status = await serve(scope, receive, answered.send)
        client = (scope.get("client") or ("-", 0))[0]
        elapsed_ms = (time.perf_counter() - started) * 1000
        request = (client, scope["method"], scope["path"])
        log_request(logger, request, status, answered.body, elapsed_ms, notes)

    async def serve(scope: Scope, receive: Receive, send: Send) -> int:
        if console is not None and is_console_path(scope["path"]):  # ops only; not /v1
            return await serve_console(console, scope, receive, send)
        route = match_route(scope["path"])  # decoded once, matched as the handler matches it
        if route is None:
            return await send_error(send, NotFoundError("no such route"))
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        try:
            tenant = _authorise(route.needs_api_key, headers, resolve_api_key)
            if scope["method"] not in route.methods:  # after the key: no map for strangers
                message = f"{scope['method']} is not allowed here"
                raise MethodNotAllowedError(message, allow=route.methods)
            gate, subject = (admit, tenant) if tenant else (admit_route, route.named_tenant)
            if gate is not None and subject is not None:
                retry_after = gate(subject)
                if retry_after is not None:
                    seconds = max(1, math.ceil(retry_after))
                    raise ThrottledError("rate limit exceeded", retry_after=seconds)
            body = await read_body(receive, headers, max_body_bytes)
        except GatewayError as refused:
            return await send_error(send, refused)
        if body is None:  # the client went away
            return 499
        event = build_event(
            route,
            method=scope["method"],
            path=scope["path"],
            headers=headers,
            query_string=scope.get("query_string", b""),
            body=body,
            source_ip=(scope.get("client") or ("127.0.0.1", 0))[0],
            tenant=tenant,
            request_id=str(uuid.uuid4()),
        )
        try:
            result = await asyncio.to_thread(handler, event, LocalContext.new())
            status, out_headers, out_body = http_response(result)
        except Exception as exc:  # the handler's bug: answer 500 and keep serving
            bad = isinstance(exc, MalformedResponseError)
            request_id = event["requestContext"]["requestId"]
            what = "malformed handler response" if bad else "handler raised"
            logger.error(
                "%s for %s %s (request %s): %s",
                *(what, scope["method"], route.resource, request_id, type(exc).__name__),
                exc_info=not bad,
            )
            error = InternalError("the handler failed", status=502 if bad else 500)
            return await send_error(send, error)
        await respond(send, status, out_headers, out_body)
        return status

    return app


def _authorise(
    needs_key: bool, headers: list[tuple[str, str]], resolve: ResolveApiKey
) -> str | None:
    """The tenant of ``x-api-key`` on routes that need one. The key is never echoed."""
    if not needs_key:
        return None
    keys = header_values(headers, "x-api-key")
    tenant = resolve(keys[-1]) if keys and keys[-1] else None
    if tenant is None:
        raise AuthenticationError("missing or unknown API key")
    return tenant


def make_server(app: ASGIApp, host: str = "127.0.0.1", port: int = 8080) -> uvicorn.Server:
    """A uvicorn server for ``app``: its own logs at warning, our access log instead."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        server_header=False,
        ws="none",
    )
    return uvicorn.Server(config)


def listening_socket(host: str, port: int) -> socket.socket:
    """A bound, listening TCP socket (``OSError`` if the port is taken).

    ``IPPROTO_TCP``, not 0: asyncio sets ``TCP_NODELAY`` on accepted connections only
    when the listening socket's ``proto`` says TCP; without it each response's body
    waits ~40 ms for the client's delayed ACK.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def run_server(
    app: ASGIApp,
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve ``app`` until Ctrl-C or SIGTERM, then return after a graceful shutdown.

    The socket is bound first (an ``OSError`` if the port is taken), then
    ``on_ready(url)`` is called with the real port (``port=0`` picks one).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = listening_socket(host, port)
    try:
        bound_port = sock.getsockname()[1]
        if not logger.hasHandlers():  # else the JSON handler of the "waybill" logger has it
            _log_to_stderr()
        if on_ready is not None:
            shown = f"[{host}]" if family == socket.AF_INET6 else host
            on_ready(f"http://{shown}:{bound_port}")
        with _signals_end_serving():
            make_server(app, host, bound_port).run(sockets=[sock])
    finally:
        sock.close()


def _log_to_stderr() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


@contextlib.contextmanager
def _signals_end_serving() -> Iterator[None]:
    """Let uvicorn's re-raise of SIGINT/SIGTERM after its shutdown end quietly here.

    uvicorn restores the previous handlers and raises the signal again once it has shut
    down; with the defaults that is a KeyboardInterrupt or an immediate exit on SIGTERM,
    which would skip the caller's cleanup (stopping DynamoDB Local).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handled = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, lambda *_: None) for sig in handled}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
