"""One outbound POST to a tenant's endpoint, pinned to an address the policy checked.

Defends against SSRF and against slow or hostile endpoints:

* the URL passes :meth:`AddressPolicy.check_url` (as at registration: the policy may
  have changed since);
* the host is resolved once and **every** address must pass
  :meth:`AddressPolicy.check_address`, so an answer that mixes public and private addresses
  is refused; the socket then connects to the first one *by IP*, so no second lookup can
  rebind the name elsewhere (DNS rebinding);
* TLS checks the certificate against the host *name* (and sends it as SNI) while TCP goes
  to the checked IP;
* redirects are never followed: a 3xx is a status like any other;
* connect, send, response headers and the body all end by one deadline (each read gets
  only what is left, so a server dripping bytes cannot stretch it), and at most
  ``max_body`` bytes of the body are read: a longer one closes the connection.

Problems of the network or the endpoint come back as a :class:`SendResult` code, never as
an exception. Keep-alive connections are reused per (scheme, host, port, address, TLS
context) from a small bounded idle pool. An idle connection the server has closed is seen
before use and replaced; one that fails while the request is being written is replaced
once (an incomplete request cannot have been processed); a request that was fully written
is never sent again (a POST may have been processed).
"""

from __future__ import annotations

import io
import re
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from functools import cache
from http.client import HTTPException, HTTPResponse
from ipaddress import ip_address
from typing import TYPE_CHECKING, Literal, TypeAlias, cast

from gateway.notify.addresses import AddressPolicy, EndpointUrlError, ForbiddenAddressError, Target

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

Resolver: TypeAlias = Callable[[str, int], list[str]]
ErrorCode: TypeAlias = Literal[
    "timeout",
    "dns_failed",
    "address_forbidden",
    "connect_failed",
    "tls_failed",
    "bad_response",
    "url_invalid",
]
_Key: TypeAlias = tuple[str, str, int, str, ssl.SSLContext]

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_RESERVED_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})


@dataclass(frozen=True)
class SendResult:
    """The outcome of one POST: a status, or an :data:`ErrorCode` when there is none;
    ``retry_after`` in seconds; ``body_excerpt`` holds at most ``max_body`` bytes."""

    status: int | None
    latency_ms: float
    error: ErrorCode | None = None
    retry_after: float | None = None
    body_excerpt: bytes = b""

    @property
    def ok(self) -> bool:
        """A 2xx answer, with no error."""
        return self.error is None and self.status is not None and 200 <= self.status < 300


class _Failed(Exception):
    """A step failed; ``code`` is the :class:`SendResult` error."""

    def __init__(self, code: ErrorCode) -> None:
        super().__init__(code)
        self.code = code


def post(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    policy: AddressPolicy,
    timeout: float = 15.0,
    connect_timeout: float = 5.0,
    max_body: int = 65_536,
    resolve: Resolver | None = None,
    ssl_context: ssl.SSLContext | None = None,
    method: Literal["POST", "GET"] = "POST",
) -> SendResult:
    """POST ``body`` to ``url`` (or ``method``: the poller GETs carrier APIs); raises only
    for a caller's mistake (e.g. a header with CR/LF).

    ``resolve(host, port)`` lists the host's addresses (default: ``getaddrinfo``); it is
    not called for an IP-literal host, already checked with the URL.

    >>> post("http://hooks.example.com/in", b"{}", {}, policy=AddressPolicy()).error
    'url_invalid'
    """
    started = time.monotonic()
    try:
        target = policy.check_url(url)
    except EndpointUrlError:
        return SendResult(None, _ms_since(started), "url_invalid")
    request = _request(target, body, headers, method)
    context = ssl_context or _default_context()
    try:
        address = _checked_address(target, policy, resolve or _getaddrinfo)
        key = (target.scheme, target.host, target.port, address, context)
        deadline = started + timeout
        sock = _reused(key, request, deadline) or _fresh(key, request, deadline, connect_timeout)
        status, retry_after, excerpt = _response(key, sock, deadline, max_body)
    except _Failed as failure:
        return SendResult(None, _ms_since(started), failure.code)
    return SendResult(status, _ms_since(started), None, retry_after_seconds(retry_after), excerpt)


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait per a ``Retry-After`` value (delta-seconds or HTTP-date), or None.

    >>> retry_after_seconds("7")
    7.0
    >>> retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0)
    10.0
    >>> retry_after_seconds("-3"), retry_after_seconds("soon"), retry_after_seconds(None)
    (None, None, None)
    """
    value = (value or "").strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    delay = when.timestamp() - (time.time() if now is None else now)
    return delay if delay >= 0 else None


def close_idle_connections() -> None:
    """Close every pooled keep-alive connection (at shutdown, or between tests)."""
    _POOL.clear()


def _request(target: Target, body: bytes, headers: Mapping[str, str], method: str) -> bytes:
    lines = [
        f"{method} {target.path_and_query} HTTP/1.1",
        f"Host: {target.host_header}",
        f"Content-Length: {len(body)}",
    ]
    for name, value in headers.items():
        if not _TOKEN.fullmatch(name) or name.lower() in _RESERVED_HEADERS:
            raise ValueError(f"header {name!r} may not be set by the caller")
        if any(char in value for char in "\r\n\0"):
            raise ValueError(f"header {name} has a line break or NUL in its value")
        lines.append(f"{name}: {value}")
    return "\r\n".join([*lines, "", ""]).encode("latin-1") + body


def _getaddrinfo(host: str, port: int) -> list[str]:
    return [str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


@cache
def _default_context() -> ssl.SSLContext:
    return ssl.create_default_context()


def _checked_address(target: Target, policy: AddressPolicy, resolve: Resolver) -> str:
    """The address to connect to: the literal, or the first answer once all have passed."""
    if target.ip is not None:
        return target.host
    try:
        answers = [ip_address(answer) for answer in resolve(target.host, target.port)]
    except (OSError, UnicodeError, ValueError):
        raise _Failed("dns_failed") from None
    if not answers:
        raise _Failed("dns_failed")
    try:
        for answer in answers:
            policy.check_address(answer)
    except ForbiddenAddressError:
        raise _Failed("address_forbidden") from None
    return str(answers[0])


def _reused(key: _Key, request: bytes, deadline: float) -> socket.socket | None:
    """An idle connection with the request written, or None to open a fresh one."""
    sock = _POOL.take(key)
    if sock is None:
        return None
    try:
        _send(sock, request, deadline)
    except _Failed as failure:
        sock.close()
        if failure.code == "timeout":
            raise
        return None  # closed by the server before it had the whole request: not processed
    return sock


def _fresh(key: _Key, request: bytes, deadline: float, connect_timeout: float) -> socket.socket:
    """A new connection to the checked address, TLS done, with the request written."""
    scheme, host, port, address, context = key
    try:
        sock = socket.create_connection(
            (address, port), timeout=min(connect_timeout, _remaining(deadline))
        )
    except TimeoutError:
        raise _Failed("timeout") from None
    except OSError:
        raise _Failed("connect_failed") from None
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if scheme == "https":
            sock.settimeout(_remaining(deadline))
            sock = context.wrap_socket(sock, server_hostname=host)
    except TimeoutError:
        sock.close()
        raise _Failed("timeout") from None
    except OSError:  # ssl.SSLError, certificate errors and resets during the handshake
        sock.close()
        raise _Failed("tls_failed") from None
    try:
        _send(sock, request, deadline)
    except _Failed:
        sock.close()
        raise
    return sock


def _send(sock: socket.socket, request: bytes, deadline: float) -> None:
    try:
        sock.settimeout(_remaining(deadline))
        sock.sendall(request)
    except TimeoutError:
        raise _Failed("timeout") from None
    except OSError:
        raise _Failed("connect_failed") from None


def _response(
    key: _Key, sock: socket.socket, deadline: float, max_body: int
) -> tuple[int, str | None, bytes]:
    """Status, ``Retry-After`` and the first ``max_body`` bytes; the socket is pooled or closed."""
    response = HTTPResponse(cast(socket.socket, _DeadlineReader(sock, deadline)), method="POST")
    try:
        response.begin()
        excerpt = response.read(max_body)
    except TimeoutError:
        sock.close()
        raise _Failed("timeout") from None
    except (OSError, HTTPException):
        sock.close()
        raise _Failed("bad_response") from None
    whole = response.isclosed() and response.length in (0, None)  # else longer than max_body
    if whole and not response.will_close:
        _POOL.give(key, sock)
    else:
        sock.close()
    return response.status, response.getheader("Retry-After"), excerpt


class _DeadlineReader(io.RawIOBase):
    """A socket's reads, each bounded by the time left until one deadline.

    :class:`HTTPResponse` reads through ``sock.makefile("rb")``, which this stands in for.
    """

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        super().__init__()
        self._sock, self._deadline = sock, deadline

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(self)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        self._sock.settimeout(_remaining(self._deadline))
        return self._sock.recv_into(buffer)


class _IdlePool:
    """Idle keep-alive connections: at most ``per_key`` per destination, ``total`` in all,
    none kept longer than ``max_idle`` seconds. Thread-safe; a connection is lent to one
    caller at a time."""

    def __init__(self, per_key: int = 8, total: int = 64, max_idle: float = 30.0) -> None:
        self._per_key, self._total, self._max_idle = per_key, total, max_idle
        self._lock = threading.Lock()
        self._idle: dict[_Key, list[tuple[socket.socket, float]]] = {}
        self._count = 0

    def take(self, key: _Key) -> socket.socket | None:
        """A live idle connection to ``key``, closing the stale ones met on the way."""
        while True:
            with self._lock:
                idle = self._idle.get(key)
                if not idle:
                    return None
                sock, since = idle.pop()
                self._count -= 1
                if not idle:
                    del self._idle[key]
            if time.monotonic() - since < self._max_idle and not _closed_by_peer(sock):
                return sock
            sock.close()

    def give(self, key: _Key, sock: socket.socket) -> None:
        """Keep ``sock`` for reuse, or close it when the pool is full."""
        with self._lock:
            idle = self._idle.get(key, [])
            if len(idle) < self._per_key and self._count < self._total:
                self._idle[key] = [*idle, (sock, time.monotonic())]
                self._count += 1
                return
        sock.close()

    def clear(self) -> None:
        with self._lock:
            idle, self._idle, self._count = self._idle, {}, 0
        for entries in idle.values():
            for sock, _ in entries:
                sock.close()


def _closed_by_peer(sock: socket.socket) -> bool:
    """An idle connection has nothing to read: if it has, the server closed it (or erred)."""
    if isinstance(sock, ssl.SSLSocket) and sock.pending():
        return True
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("the exchange's deadline has passed")
    return left


def _ms_since(started: float) -> float:
    return (time.monotonic() - started) * 1000


_POOL = _IdlePool()
