"""The receiver of ``waybill listen``: an HTTP server on loopback that verifies each
notification with Waybill's own Standard Webhooks verifier and reports what it heard.

It answers 200 to a message whose signature verifies with the endpoint's secret, 401 to
one that does not (the sender retries it), and 503 until it knows the secret (the
endpoint is registered after the server is up, so that its URL is known). A message
whose ``webhook-id`` came before is a retry: :attr:`Heard.attempt` counts them.

Example:
    >>> heard = []
    >>> with Listener(heard.append) as listener:
    ...     listener.url.startswith("http://127.0.0.1:")
    True
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from gateway.errors import SignatureError
from gateway.signing.standard import verify_standard

MAX_BODY = 1024 * 1024


@dataclass(frozen=True)
class Heard:
    """One request that reached the listener, and what became of it."""

    at: datetime
    message_id: str
    verified: bool
    attempt: int = 1  # 1 the first time its webhook-id is seen, 2 for its first retry …
    type: str | None = None
    tracking_number: str | None = None
    status: str | None = None  # the shipment's
    previous_status: str | None = None
    event_status: str | None = None  # the event's own
    refusal: str | None = None  # why it did not verify (code: message)


def _summary(body: bytes) -> dict[str, Any]:
    """The fields a line shows, from a verified body (missing ones are None)."""
    try:
        document = json.loads(body)
    except ValueError:
        return {}
    data = document.get("data") if isinstance(document, dict) else None
    data = data if isinstance(data, dict) else {}
    event = data.get("event")
    return {
        "type": document.get("type") if isinstance(document, dict) else None,
        "tracking_number": data.get("tracking_number"),
        "status": data.get("status"),
        "previous_status": data.get("previous_status"),
        "event_status": event.get("status") if isinstance(event, dict) else None,
    }


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        return  # a sender that hangs up mid-request is not the listener's failure


class Listener:
    """A threaded HTTP server on 127.0.0.1 (a free port); a context manager."""

    def __init__(
        self,
        on_message: Callable[[Heard], None],
        secret: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.on_message = on_message
        self.secret = secret
        self.clock = clock
        self.seen: dict[str, int] = {}
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.error: BaseException | None = None
        self.server = _QuietServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self._serve, name="waybill-listen", daemon=True)

    @property
    def url(self) -> str:
        """The endpoint URL to register."""
        return f"http://127.0.0.1:{self.server.server_address[1]}/"

    def _serve(self) -> None:
        try:
            self.server.serve_forever(poll_interval=0.2)
        except BaseException as exc:  # reported to the command, which cleans up
            self.error = exc
        finally:
            self.stopped.set()

    def receive(self, headers: dict[str, str], body: bytes) -> tuple[int, Heard]:
        """Verify one request; the status to answer and what was heard."""
        now = self.clock()
        at = datetime.fromtimestamp(now, UTC)
        message_id = headers.get("webhook-id", "")
        if self.secret is None:
            return 503, Heard(at, message_id, False, refusal="not ready: no secret yet")
        try:
            verify_standard(
                msg_id=message_id,
                timestamp=headers.get("webhook-timestamp"),
                signature=headers.get("webhook-signature"),
                body=body,
                secrets=[self.secret],
                now=now,
            )
        except SignatureError as exc:
            return 401, Heard(at, message_id, False, refusal=f"{exc.code}: {exc.message}")
        with self.lock:
            attempt = self.seen[message_id] = self.seen.get(message_id, 0) + 1
        return 200, Heard(at, message_id, True, attempt, **_summary(body))

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        listener = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                try:
                    length = int(self.headers.get("content-length") or 0)
                except ValueError:
                    length = -1
                if not 0 <= length <= MAX_BODY:
                    self._answer(413 if length > MAX_BODY else 400)
                    return
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, heard = listener.receive(headers, body)
                listener.on_message(heard)  # reported before it is answered: in order
                self._answer(status)

            def _answer(self, status: int) -> None:
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return

        return Handler

    def start(self) -> None:
        """Serve on a daemon thread."""
        self.thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self.thread.is_alive() and not self.stopped.is_set():
            self.server.shutdown()  # returns once serve_forever has ended
        self.server.server_close()

    def __enter__(self) -> Listener:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
