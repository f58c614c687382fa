"""The ops console behind the local edge: paths under ``/console``, outside the route
table (no part of the tenant API or its OpenAPI), answered by
:class:`gateway.console.app.Console` in a thread (its pages read DynamoDB Local)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from gateway.console.http import MAX_FORM_BYTES, Request, Response
from gateway.errors import GatewayError
from gateway.local.asgi import Receive, Scope, Send, read_body, respond, send_error

Console = Callable[[Request], Response]
PREFIX = "/console"


def is_console_path(path: str) -> bool:
    """``/console`` and everything under ``/console/``.

    >>> is_console_path("/console/"), is_console_path("/consoles"), is_console_path("/v1/x")
    (True, False, False)
    """
    return path == PREFIX or path.startswith(PREFIX + "/")


async def serve_console(console: Console, scope: Scope, receive: Receive, send: Send) -> int:
    """Read the request (a form at most 64 KiB), let the console answer it, send it."""
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
    try:
        body = await read_body(receive, headers, MAX_FORM_BYTES)
    except GatewayError as refused:
        return await send_error(send, refused)
    if body is None:  # the client went away
        return 499
    request = Request(
        method=scope["method"],
        path=scope["path"],
        query=scope.get("query_string", b"").decode("latin-1"),
        headers={name.lower(): value for name, value in headers},
        body=body,
        client=(scope.get("client") or ("-", 0))[0],
    )
    response = await asyncio.to_thread(console, request)
    await respond(send, response.status, list(response.headers), response.body)
    return response.status
