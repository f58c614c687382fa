"""A tenant's endpoint on loopback, for tests and benchmarks: it records every request and
answers as told (fail the first N, answer slowly, say 410, send ``Retry-After``).

Example:
    >>> with Receiver(fail_first(1)) as receiver:
    ...     receiver.url.startswith("http://127.0.0.1:")
    True
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType


@dataclass(frozen=True)
class Received:
    """One request as it arrived."""

    at: float  # time.monotonic()
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Answer:
    """What to answer: a status, extra headers, a pause before answering."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


Behaviour = Callable[[int, Received], Answer]
"""Given how many requests came before (0 for the first) and this one: the answer."""


def always(status: int = 200) -> Behaviour:
    """Answer every request with ``status``."""
    return lambda index, request: Answer(status)


def fail_first(count: int, status: int = 500, headers: dict[str, str] | None = None) -> Behaviour:
    """Answer the first ``count`` requests with ``status`` (and ``headers``), then 200."""
    return lambda index, request: Answer(status, headers or {}) if index < count else Answer(200)


def slow_first(count: int, delay: float) -> Behaviour:
    """Wait ``delay`` seconds before answering the first ``count`` requests, then answer at once."""
    return lambda index, request: Answer(200, delay=delay) if index < count else Answer(200)


class _QuietServer(ThreadingHTTPServer):
    """A client that hangs up (a sender killed mid-request) is normal here, not an error."""

    def handle_error(self, request: object, client_address: object) -> None:
        return


class Receiver:
    """A threaded HTTP server on 127.0.0.1 that records requests; a context manager."""

    def __init__(self, behaviour: Behaviour | None = None) -> None:
        self.behaviour = behaviour or always()
        self.received: list[Received] = []
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                request = Received(
                    at=time.monotonic(),
                    path=self.path,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(length),
                )
                with receiver.arrived:
                    index = len(receiver.received)
                    receiver.received.append(request)
                    receiver.arrived.notify_all()
                answer = receiver.behaviour(index, request)
                if answer.delay:
                    time.sleep(answer.delay)
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """Where to send (path ``/hook``)."""
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """The requests once at least ``count`` have arrived (or all so far at timeout)."""
        deadline = time.monotonic() + timeout
        with self.arrived:
            while len(self.received) < count and time.monotonic() < deadline:
                self.arrived.wait(deadline - time.monotonic())
            return list(self.received)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.server.shutdown()
        self.server.server_close()
