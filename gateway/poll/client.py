"""Talking to a carrier's tracking API: tokens, a per-carrier gate, and the calls of a check.

The requests go out through the notifier's transport (``gateway/notify/transport.py``):
the same address policy (no private or metadata address on a stack), connection reuse
and deadlines. An OAuth token is cached per (tenant, carrier) until shortly before it
expires, and fetched again once when the carrier answers 401. A carrier that answers 429
or 5xx is slowed for everyone polling it from this process (``Retry-After`` honoured);
at most ``concurrency`` requests are in flight to one carrier at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from gateway.carriers.polling import (
    ApiCredentials,
    CarrierApiError,
    Exchange,
    HttpAnswer,
    HttpCall,
    Polling,
    PollResult,
    PollTarget,
    TokenGrant,
)
from gateway.notify.addresses import AddressPolicy
from gateway.notify.transport import SendResult, post

TOKEN_MARGIN = 60.0  # a token is renewed this long before it expires
SLOW_AFTER_429 = 60.0  # a 429 without Retry-After slows the carrier this long
SLOW_AFTER_5XX = 15.0
MAX_SLOWDOWN = 3600.0
MAX_ANSWER_BYTES = 4 * 1024 * 1024
CALL_TIMEOUT = 20.0
MAX_CALLS_PER_CHECK = 4  # register, then read: a check never loops

Send = Callable[..., SendResult]


@dataclass
class CarrierGate:
    """One carrier's pace in this process: in-flight cap and a not-before time."""

    concurrency: int
    not_before: float = 0.0
    slots: threading.BoundedSemaphore = field(init=False)

    def __post_init__(self) -> None:
        self.slots = threading.BoundedSemaphore(self.concurrency)

    def slowed_for(self, now: float) -> float:
        """Seconds the carrier is still slowed (0 when it may be called)."""
        return max(0.0, self.not_before - now)

    def slow(self, seconds: float, now: float) -> None:
        """Hold every call to the carrier for ``seconds`` (capped)."""
        self.not_before = max(self.not_before, now + min(seconds, MAX_SLOWDOWN))


class CheckFailed(Exception):
    """A check failed as a whole: ``code`` is stable (``rate_limited``, ``carrier_error``,
    ``unauthorized``, ``budget_spent``, ``slowed``, ``bad_answer``, a transport error …);
    ``requests`` were made all the same."""

    def __init__(self, code: str, requests: int, http_status: int | None, duration_ms: float):
        super().__init__(code)
        self.code = code
        self.requests = requests
        self.http_status = http_status
        self.duration_ms = duration_ms


Allowance = Callable[[], bool]
"""Takes one request from the budget before it is made; False when the budget is spent."""


@dataclass(frozen=True)
class CheckAnswer:
    """What the calls of one check brought: the result, the last HTTP status, the calls
    made (each one request against the budget) and the time they took."""

    result: PollResult
    http_status: int | None
    requests: int
    duration_ms: float


class CarrierClient:
    """Makes the calls of checks for every (tenant, carrier) of this process."""

    def __init__(
        self,
        policy: AddressPolicy,
        *,
        send: Send = post,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policy = policy
        self.send = send
        self.clock = clock
        self._tokens: dict[tuple[str, str], tuple[str, float]] = {}
        self._gates: dict[str, CarrierGate] = {}
        self._token_locks: dict[tuple[str, str], threading.Lock] = {}
        self._lock = threading.Lock()

    def gate(self, carrier: str, concurrency: int = 4) -> CarrierGate:
        """The carrier's gate (created with ``concurrency`` on first use)."""
        with self._lock:
            gate = self._gates.get(carrier)
            if gate is None:
                gate = self._gates[carrier] = CarrierGate(concurrency)
            return gate

    def check(
        self,
        tenant: str,
        carrier: str,
        polling: Polling,
        base_url: str,
        credentials: ApiCredentials,
        targets: Sequence[PollTarget],
        *,
        allowance: Allowance,
        concurrency: int = 4,
        within: float | None = None,
    ) -> CheckAnswer:
        """Make the calls of one check of ``targets`` and read them; every request is
        taken from ``allowance`` first.

        Raises :class:`CheckFailed` when the check failed as a whole (``slowed`` without
        a request while the carrier is being slowed down); ``within`` seconds bound the
        whole check (a manual refresh answers within the request's time).
        """
        gate = self.gate(carrier, concurrency)
        deadline = None if within is None else self.clock() + within
        run = _Run(self, tenant, carrier, polling, base_url, gate, allowance, credentials, deadline)
        if gate.slowed_for(self.clock()) > 0:
            raise CheckFailed("slowed", 0, None, 0.0)
        try:
            with gate.slots:
                exchanges = run.calls(targets)
            result = polling.read(targets, exchanges)
        except CarrierApiError as exc:
            raise CheckFailed(exc.code, run.requests, run.status, run.elapsed()) from exc
        return CheckAnswer(result, run.status, run.requests, run.elapsed())

    def token(self, tenant: str, carrier: str) -> str | None:
        """The cached access token of a (tenant, carrier), while it is valid."""
        cached = self._tokens.get((tenant, carrier))
        return cached[0] if cached and cached[1] > self.clock() else None

    def keep_token(self, tenant: str, carrier: str, token: str, seconds: float) -> None:
        """Cache a token for its lifetime, less a margin."""
        lifetime = max(0.0, float(seconds) - TOKEN_MARGIN)
        self._tokens[(tenant, carrier)] = (token, self.clock() + lifetime)

    def token_lock(self, tenant: str, carrier: str) -> threading.Lock:
        """The lock held while a (tenant, carrier)'s token is fetched."""
        with self._lock:
            return self._token_locks.setdefault((tenant, carrier), threading.Lock())

    def drop_token(self, tenant: str, carrier: str) -> None:
        """Forget a token the carrier refused."""
        self._tokens.pop((tenant, carrier), None)

    def call(
        self, base_url: str, call: HttpCall, gate: CarrierGate, timeout: float = CALL_TIMEOUT
    ) -> HttpAnswer:
        """One request; a transport failure, 429 or 5xx raises after slowing the carrier."""
        sent = self.send(
            base_url.rstrip("/") + call.path,
            call.body or b"",
            dict(call.headers),
            policy=self.policy,
            timeout=timeout,
            max_body=MAX_ANSWER_BYTES,
            method=call.method,
        )
        if sent.status is None:
            gate.slow(SLOW_AFTER_5XX, self.clock())
            raise CarrierApiError(sent.error or "no_answer", f"no answer ({sent.error})")
        if sent.status == 429:
            gate.slow(sent.retry_after or SLOW_AFTER_429, self.clock())
            raise CarrierApiError("rate_limited", "the carrier answered 429")
        if sent.status >= 500:
            gate.slow(sent.retry_after or SLOW_AFTER_5XX, self.clock())
            raise CarrierApiError("carrier_error", f"the carrier answered {sent.status}")
        if len(sent.body_excerpt) >= MAX_ANSWER_BYTES:
            raise CarrierApiError("bad_answer", "the carrier's answer is too large")
        return HttpAnswer(sent.status, {}, sent.body_excerpt)


@dataclass
class _Run:
    """The calls of one check: the token first when needed, then the adapter's calls
    until it has none left; one 401 fetches a new token and repeats the call once."""

    client: CarrierClient
    tenant: str
    carrier: str
    polling: Polling
    base_url: str
    gate: CarrierGate
    allowance: Allowance
    credentials: ApiCredentials
    deadline: float | None = None  # on the client's clock: no call starts after it
    requests: int = 0
    status: int | None = None
    started: float = field(default=0.0)

    def __post_init__(self) -> None:
        self.started = self.client.clock()

    def elapsed(self) -> float:
        """Milliseconds since the check began."""
        return (self.client.clock() - self.started) * 1000

    def calls(self, targets: Sequence[PollTarget]) -> list[Exchange]:
        """Every call of the check, made."""
        exchanges: list[Exchange] = []
        for _ in range(MAX_CALLS_PER_CHECK):
            creds = self._authorised()
            calls = self.polling.calls(targets, creds, exchanges)
            if not calls:
                break
            for call in calls:
                answer = self._request(call)
                if answer.status == 401 and self.polling.token is not None:
                    self.client.drop_token(self.tenant, self.carrier)
                    call = _reauthorised(call, self._authorised())
                    answer = self._request(call)
                exchanges.append(Exchange(call, answer))
        return exchanges

    def _request(self, call: HttpCall) -> HttpAnswer:
        if not self.allowance():
            raise CarrierApiError("budget_spent", "today's poll budget is spent")
        timeout = CALL_TIMEOUT
        if self.deadline is not None:
            timeout = min(timeout, self.deadline - self.client.clock())
            if timeout <= 0.1:
                raise CarrierApiError("timeout", "no time is left for the carrier to answer")
        self.requests += 1
        answer = self.client.call(self.base_url, call, self.gate, timeout)
        self.status = answer.status
        return answer

    def _authorised(self) -> ApiCredentials:
        grant = self.polling.token
        if grant is None:
            return self.credentials
        with self.client.token_lock(self.tenant, self.carrier):  # one fetch, not one per batch
            token = self.client.token(self.tenant, self.carrier)
            if token is None:
                token = self._fetch_token(grant)
        return _with(self.credentials, token)

    def _fetch_token(self, grant: TokenGrant) -> str:
        answer = self._request(grant.request(self.credentials))
        if answer.status in (401, 403):
            raise CarrierApiError("unauthorized", "the carrier refused the API credentials")
        if not 200 <= answer.status < 300:
            raise CarrierApiError("token_failed", f"the token call answered {answer.status}")
        try:
            token, seconds = grant.read(answer)
        except ValueError as exc:
            raise CarrierApiError("bad_answer", "the token answer is unreadable") from exc
        self.client.keep_token(self.tenant, self.carrier, token, seconds)
        return token


def _reauthorised(call: HttpCall, credentials: ApiCredentials) -> HttpCall:
    headers = {k: v for k, v in call.headers.items() if k.lower() != "authorization"}
    headers["Authorization"] = f"Bearer {credentials.access_token}"
    return HttpCall(call.method, call.path, headers, call.body)


def _with(credentials: ApiCredentials, token: str) -> ApiCredentials:
    return ApiCredentials(
        api_key=credentials.api_key,
        client_id=credentials.client_id,
        client_secret=credentials.client_secret,
        access_token=token,
    )
