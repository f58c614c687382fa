"""One loopback HTTP server for every simulated carrier, each under its adapter id.

Requests to ``/{carrier}/…`` are recorded, counted in flight, delayed or failed as queued
(:meth:`CarrierApi.fail_next`, :meth:`~CarrierApi.slow`, :meth:`~CarrierApi.wrong`), then
answered by the carrier's module from the shared state (:class:`~.core.World`).
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Literal, NamedTuple, cast
from urllib.parse import parse_qsl, unquote, urlsplit

from gateway.models import Status
from gateway.testkit.carrier_api import easypost, fedex, seventeentrack, ship24, ups
from gateway.testkit.carrier_api.core import (
    CarrierSpec,
    Credential,
    Incoming,
    Reply,
    Shipment,
    SimEvent,
    World,
    json_reply,
    text_reply,
)

CARRIERS: Mapping[str, CarrierSpec] = {
    spec.id: spec
    for spec in (ups.SPEC, fedex.SPEC, easypost.SPEC, seventeentrack.SPEC, ship24.SPEC)
}
MAX_DELAY = 30.0  # the longest `slow` answers (bounded waits)
MAX_BODY = 1 << 20
WrongKind = Literal["truncated", "html", "empty", "shape"]


class ApiRequest(NamedTuple):
    """One request as it arrived: ``path`` is relative to the carrier's prefix, with its query."""

    carrier: str  # "" when the prefix is no carrier's
    method: str
    path: str
    at: float  # the API's clock


@dataclass(frozen=True)
class _Fault:
    status: int | None  # None: a 200 with a wrong body
    retry_after: float | None = None
    kind: WrongKind = "truncated"
    endpoint: str | None = None


def _mangle(reply: Reply, kind: WrongKind) -> Reply:
    """A 200 whose body is not what the carrier documents."""
    if kind == "html":
        page = b"<html><body><h1>Service temporarily unavailable</h1></body></html>"
        return Reply(200, page, {"content-type": "text/html"})
    body = {
        "truncated": reply.body[: max(1, len(reply.body) // 2)],
        "empty": b"",
        "shape": b'{"ok":true,"result":null}',
    }[kind]
    return Reply(200, body, {"content-type": "application/json"})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64
    api: CarrierApi

    def handle_error(self, request: object, client_address: object) -> None:
        return  # a client hanging up mid-request is normal in tests


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 10  # a client stalling mid-request is dropped
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms wait between

    def _serve(self) -> None:
        api = cast(_Server, self.server).api
        try:
            length = int(self.headers.get("content-length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY:
            reply = text_reply(413 if length > 0 else 400, "bad content-length")
            self.close_connection = True
        else:
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            reply = api.dispatch(self.command, self.path, headers, body)
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def log_message(self, format: str, *args: object) -> None:
        return


def _loopback(host: str) -> str:
    if host == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is None or address.version != 4 or not address.is_loopback:
        raise ValueError(f"the carrier API binds loopback IPv4 only, not {host!r}")
    return host


class CarrierApi:
    """The loopback carrier API; a context manager. See the package docstring."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] = time.time,
        token_seconds: float = 3600.0,
    ) -> None:
        self.world = World(clock, token_seconds)
        self._lock = threading.Lock()  # observations and misbehaviour (never held while waiting)
        self._requests: list[ApiRequest] = []
        self._in_flight: dict[str, int] = {}
        self._max_in_flight: dict[str, int] = {}
        self._faults: dict[str, deque[_Fault]] = {}
        self._slow: dict[str, tuple[float, int | None]] = {}
        self._closing = threading.Event()
        self.server = _Server((_loopback(host), port), _Handler)
        self.server.api = self
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def base_url(self, carrier: str) -> str:
        """What a tenant's ``api_base_url`` is for ``carrier``: ``{url}/{carrier}``."""
        return f"{self.url}/{self._spec(carrier).id}"

    def start(self) -> CarrierApi:
        if not self.thread.is_alive():
            self.thread.start()
        return self

    def close(self) -> None:
        self._closing.set()  # cuts `slow` waits short
        if self.thread.is_alive():
            self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> CarrierApi:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- shipments -------------------------------------------------------------------------

    @property
    def clock(self) -> Callable[[], float]:
        return self.world.clock

    def statuses(self, carrier: str) -> frozenset[Status]:
        """The canonical statuses ``carrier``'s codes can express."""
        return frozenset(self._spec(carrier).codes)

    def add(
        self,
        carrier: str,
        tracking_number: str,
        events: Iterable[SimEvent] = (),
        *,
        estimated_delivery: str | None = None,
        signed_by: str | None = None,
    ) -> None:
        """Make ``tracking_number`` known to ``carrier`` with this history (replacing any).

        Events dated after the clock stay hidden until the clock reaches them.
        """
        spec, found = self._spec(carrier), list(events)
        for event in found:
            self._expressible(spec, event)
        number = tracking_number.strip()
        if not number:
            raise ValueError("tracking_number is empty")
        with self.world.lock:
            shipment = Shipment(
                spec.id, number, found, self.world.now(), estimated_delivery, signed_by
            )
            self.world.shipments[(spec.id, number)] = shipment

    def advance(self, carrier: str, tracking_number: str, event: SimEvent) -> None:
        """Add one event to a number added before."""
        spec = self._spec(carrier)
        self._expressible(spec, event)
        with self.world.lock:
            shipment = self.world.shipment(spec.id, tracking_number.strip())
            if shipment is None:
                raise KeyError(f"{tracking_number!r} was never added to {carrier}")
            shipment.events.append(event)

    def current_status(self, carrier: str, tracking_number: str) -> Status | None:
        """The status the carrier shows now (``pending`` before any event); ``None`` if unknown."""
        with self.world.lock:
            shipment = self.world.shipment(self._spec(carrier).id, tracking_number.strip())
            if shipment is None:
                return None
            seen = shipment.visible(self.world.now())
            return seen[-1].status if seen else Status.PENDING

    # -- credentials and tokens ------------------------------------------------------------

    def credentials(self, carrier: str) -> Credential:
        """The accepted API key, or ``(client_id, client_secret)`` (fixed test values)."""
        with self.world.lock:
            return self.world.secrets[self._spec(carrier).id]

    def slot_value(self, carrier: str) -> str:
        """The credentials as the tenant's ``<carrier>.api`` secret holds them."""
        found = self.credentials(carrier)
        return found if isinstance(found, str) else ":".join(found)

    def set_credentials(self, carrier: str, value: Credential) -> None:
        spec = self._spec(carrier)
        if isinstance(value, str) != (spec.kind == "api_key"):
            raise TypeError(
                f"{carrier} takes {'an API key' if spec.kind == 'api_key' else 'a client pair'}"
            )
        with self.world.lock:
            self.world.secrets[spec.id] = value

    @property
    def token_seconds(self) -> float:
        return self.world.token_seconds

    @token_seconds.setter
    def token_seconds(self, seconds: float) -> None:
        """The lifetime of tokens issued from now on."""
        with self.world.lock:
            self.world.token_seconds = seconds

    def expire_tokens(self, carrier: str) -> None:
        """Every token issued so far to ``carrier`` is expired from now on."""
        with self.world.lock:
            self.world.expire_tokens(self._spec(carrier).id)

    # -- misbehaviour ----------------------------------------------------------------------

    def fail_next(
        self,
        carrier: str,
        status: int = 429,
        retry_after: float | None = None,
        count: int = 1,
        *,
        endpoint: str | None = None,
    ) -> None:
        """Answer the next ``count`` requests (whose path contains ``endpoint``, if given)
        with ``status`` and the carrier's body for it. ``Retry-After`` is ``retry_after``
        seconds when given, else 2 on a 429 and absent otherwise."""
        if not 400 <= status <= 599 or count < 1:
            raise ValueError("status must be 4xx or 5xx and count at least 1")
        wait = retry_after if retry_after is not None else (2.0 if status == 429 else None)
        self._queue(carrier, count, _Fault(status, wait, endpoint=endpoint))

    def wrong(
        self,
        carrier: str,
        count: int = 1,
        *,
        kind: WrongKind = "truncated",
        endpoint: str | None = None,
    ) -> None:
        """Answer the next ``count`` requests with a 200 whose body is not the documented one:
        the real body cut in half (``truncated``), an HTML page, nothing, or other JSON."""
        if count < 1:
            raise ValueError("count must be at least 1")
        self._queue(carrier, count, _Fault(None, kind=kind, endpoint=endpoint))

    def slow(self, carrier: str, seconds: float, *, count: int | None = None) -> None:
        """Wait ``seconds`` (at most 30) before answering ``carrier``'s next ``count``
        requests (all of them when ``None``); ``0`` stops it."""
        spec = self._spec(carrier)
        with self._lock:
            if seconds <= 0:
                self._slow.pop(spec.id, None)
            else:
                self._slow[spec.id] = (min(seconds, MAX_DELAY), count)

    def clear_faults(self, carrier: str | None = None) -> None:
        """Forget queued failures and slowness (of one carrier, or all)."""
        with self._lock:
            for name in [self._spec(carrier).id] if carrier else list(CARRIERS):
                self._faults.pop(name, None)
                self._slow.pop(name, None)

    # -- observability ---------------------------------------------------------------------

    @property
    def requests(self) -> list[ApiRequest]:
        """Every request so far, in arrival order (a copy)."""
        with self._lock:
            return list(self._requests)

    def count(self, carrier: str | None = None, *, path: str | None = None) -> int:
        """How many requests (to ``carrier``, whose path contains ``path``) arrived."""
        return sum(
            1
            for r in self.requests
            if (carrier is None or r.carrier == carrier) and (path is None or path in r.path)
        )

    def in_flight(self, carrier: str) -> int:
        with self._lock:
            return self._in_flight.get(carrier, 0)

    def max_in_flight(self, carrier: str) -> int:
        """The most requests to ``carrier`` that were being answered at the same time."""
        with self._lock:
            return self._max_in_flight.get(carrier, 0)

    def clear_requests(self) -> None:
        """Forget the requests seen and the in-flight maxima (not the shipments)."""
        with self._lock:
            self._requests.clear()
            self._max_in_flight = dict(self._in_flight)

    # -- serving ---------------------------------------------------------------------------

    def dispatch(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Reply:
        """Answer one request (``target`` as on the request line)."""
        split = urlsplit(target)
        carrier, _, tail = split.path.lstrip("/").partition("/")
        relative = "/" + tail
        shown = relative + (f"?{split.query}" if split.query else "")
        spec = CARRIERS.get(carrier)
        with self._lock:
            at = self.world.clock()
            self._requests.append(
                ApiRequest(carrier, method, shown, at)
                if spec
                else ApiRequest("", method, split.path, at)
            )
            if spec is None:
                known = ", ".join(f"/{c}" for c in CARRIERS)
                return json_reply(404, {"error": f"no carrier at /{carrier}; try {known}"})
            self._in_flight[carrier] = self._in_flight.get(carrier, 0) + 1
            self._max_in_flight[carrier] = max(
                self._max_in_flight.get(carrier, 0), self._in_flight[carrier]
            )
            delay, fault = self._take_delay(carrier), self._take_fault(carrier, shown)
        try:
            if delay:
                self._closing.wait(delay)
            if fault is not None and fault.status is not None:
                reply = spec.fault(fault.status)
                if fault.retry_after is not None:
                    reply = replace(
                        reply, headers={**reply.headers, "retry-after": f"{fault.retry_after:g}"}
                    )
                return reply
            query = dict(parse_qsl(split.query, keep_blank_values=True))
            incoming = Incoming(method, unquote(relative), query, headers, body)
            with self.world.lock:
                reply = spec.handle(self.world, incoming)
            return _mangle(reply, fault.kind) if fault is not None else reply
        except Exception as exc:  # a simulator bug: say so loudly rather than hang up
            return text_reply(500, f"carrier_api bug: {type(exc).__name__}: {exc}")
        finally:
            with self._lock:
                self._in_flight[carrier] -= 1

    def _take_delay(self, carrier: str) -> float:
        found = self._slow.get(carrier)
        if found is None:
            return 0.0
        seconds, left = found
        if left is not None:
            if left <= 1:
                del self._slow[carrier]
            else:
                self._slow[carrier] = (seconds, left - 1)
        return seconds

    def _take_fault(self, carrier: str, path: str) -> _Fault | None:
        queue = self._faults.get(carrier)
        for fault in queue or ():
            if fault.endpoint is None or fault.endpoint in path:
                cast(deque[_Fault], queue).remove(fault)
                return fault
        return None

    def _queue(self, carrier: str, count: int, fault: _Fault) -> None:
        spec = self._spec(carrier)
        with self._lock:
            self._faults.setdefault(spec.id, deque()).extend([fault] * count)

    def _spec(self, carrier: str) -> CarrierSpec:
        try:
            return CARRIERS[carrier]
        except KeyError:
            raise ValueError(f"unknown carrier {carrier!r}; one of {', '.join(CARRIERS)}") from None

    def _expressible(self, spec: CarrierSpec, event: SimEvent) -> None:
        if event.status not in spec.codes:
            can = ", ".join(sorted(s.value for s in spec.codes))
            raise ValueError(f"{spec.id} has no code for {event.status.value!r} (it has: {can})")
