"""Small ASGI plumbing for the local edge: types, bounded body reads, JSON errors."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from gateway.errors import (
    GatewayError,
    MethodNotAllowedError,
    PayloadTooLargeError,
    ThrottledError,
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class InternalError(GatewayError):
    """The handler failed (500) or answered something that is not a proxy response (502)."""

    status, code = 500, "internal_error"

    def __init__(self, message: str, *, status: int = 500) -> None:
        super().__init__(message)
        self.status = status


def header_values(headers: list[tuple[str, str]], name: str) -> list[str]:
    """Every value of one header, matched case-insensitively."""
    return [value for key, value in headers if key.lower() == name]


async def read_body(receive: Receive, headers: list[tuple[str, str]], limit: int) -> bytes | None:
    """The request body, read in chunks and refused as soon as it passes ``limit`` bytes.

    Returns None when the client disconnects first.
    """
    too_large = PayloadTooLargeError(f"the request body exceeds {limit} bytes")
    declared = header_values(headers, "content-length")
    if declared and declared[-1].strip().isdigit() and int(declared[-1]) > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def respond(send: Send, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
    """Send one complete response; ``content-length`` is always ours."""
    raw_headers = [
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in headers
        if name.lower() not in ("content-length", "transfer-encoding")
    ]
    raw_headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


async def send_error(send: Send, error: GatewayError) -> int:
    """Answer ``error`` as the JSON error body of the HTTP surface; returns the status."""
    headers = [("content-type", "application/json")]
    if isinstance(error, ThrottledError):
        headers.append(("retry-after", str(error.retry_after)))
    if isinstance(error, MethodNotAllowedError):
        headers.append(("allow", ", ".join(error.allow)))
    await respond(send, error.status, headers, json.dumps(error.body()).encode())
    return error.status


async def lifespan(receive: Receive, send: Send) -> None:
    """Acknowledge startup and shutdown: the app holds no resources of its own."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
