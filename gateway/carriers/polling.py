"""The polling capability of an adapter: how to ask a carrier's tracking API, and read it.

Pure, like the rest of an adapter: no I/O, no clock. The poller (``gateway/poll``) owns
the HTTP client, the OAuth token cache, the budget and the schedule; an adapter says only

- where its API lives (``base_url``, overridable per tenant with ``api_base_url``) and how
  many tracking numbers one call may carry (``batch_size``);
- what its credentials slot ``<carrier>.api`` holds (``credentials``): an API key, or an
  OAuth client id and secret written ``client_id:client_secret``;
- for OAuth carriers, how to ask for a token and read the answer (``token``);
- which HTTP calls make one check of a batch (``calls``), and how to read their answers
  into events per tracking number (``read``). Where the API returns the tracking object
  the carrier's webhooks carry, ``read`` reuses the webhook parser.

A check of a batch may take several calls (17TRACK registers numbers before it can be
asked about them; EasyPost creates a tracker once, then reads it by id). ``calls`` is
asked again with the answers so far until it returns no more calls; every call made is
one request against the daily budget.

The helpers at the end are what several adapters share: the HTTP status of a refused call
as a stable code (:func:`status_error`), reading a JSON answer (:func:`read_object`), the
OAuth client-credentials grant (:func:`client_credentials_grant`), matching answers to
targets (:func:`answers_for`, :func:`number_key`) and gathering a check's outcome
(:class:`Findings`).

Example:
    >>> PollTarget("1Z999AA10123456784").ref is None
    True
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Literal
from urllib.parse import urlencode

from gateway.carriers.payload import load_json, text
from gateway.carriers.results import ParsedEvent, ParseResult
from gateway.errors import ItemIgnored, ParseError

CredentialKind = Literal["api_key", "oauth_client"]


@dataclass(frozen=True)
class ApiCredentials:
    """What the tenant's ``<carrier>.api`` slot holds, and the OAuth token when there is one.

    ``api_key`` for an API-key carrier; ``client_id`` and ``client_secret`` for an OAuth
    one (its ``access_token`` is filled by the poller from :attr:`Polling.token`).
    """

    api_key: str = field(default="", repr=False)
    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    access_token: str = field(default="", repr=False)


@dataclass(frozen=True)
class PollTarget:
    """One tracking number to check; ``ref`` is the carrier's own id for it, once known
    (EasyPost's ``trk_…``, Ship24's ``trackerId``, 17TRACK's registration)."""

    tracking_number: str
    ref: str | None = None


@dataclass(frozen=True)
class HttpCall:
    """One request to the carrier's API; ``path`` (with its query) is joined to the base URL."""

    method: Literal["GET", "POST"]
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None


@dataclass(frozen=True)
class HttpAnswer:
    """The carrier's answer to one call: status, headers (lower-case names) and raw body."""

    status: int
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True)
class Exchange:
    """A call made and what came back."""

    call: HttpCall
    answer: HttpAnswer


@dataclass(frozen=True)
class PollResult:
    """What one check of a batch found, per tracking number.

    ``found``: numbers the carrier knows, with what it said (a :class:`ParseResult`, maybe
    with no events yet); ``unknown``: numbers the carrier does not know (yet): retried on
    the pre-transit interval and retired after the idle limit; ``failed``: numbers whose
    part of the answer could not be read, with a stable error code; ``refs``: the
    carrier's own ids learnt for numbers, kept on their trackers for the next check.
    A number in none of these was not answered: the check failed for it (``no_answer``).
    """

    found: Mapping[str, ParseResult] = field(default_factory=dict)
    unknown: frozenset[str] = frozenset()
    failed: Mapping[str, str] = field(default_factory=dict)
    refs: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TokenGrant:
    """How an OAuth carrier issues a client-credentials token.

    ``request`` builds the token call from the credentials; ``read`` returns the access
    token and its lifetime in seconds from a 2xx answer (raising ``ValueError`` when the
    answer is not one).
    """

    request: Callable[[ApiCredentials], HttpCall]
    read: Callable[[HttpAnswer], tuple[str, float]]


class CarrierApiError(Exception):
    """The carrier refused the whole call; ``code`` is stable (``unauthorized``,
    ``rate_limited``, ``carrier_error``, ``bad_answer``, …)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


NextCalls = Callable[[Sequence[PollTarget], ApiCredentials, Sequence[Exchange]], list[HttpCall]]
ReadAnswers = Callable[[Sequence[PollTarget], Sequence[Exchange]], PollResult]


@dataclass(frozen=True)
class Polling:
    """An adapter's tracking API (see the module docstring)."""

    base_url: str
    batch_size: int
    credentials: CredentialKind
    calls: NextCalls
    read: ReadAnswers
    token: TokenGrant | None = None
    docs_url: str = ""
    confidence: str = ""  # which response shapes are confirmed from the carrier's docs

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if (self.credentials == "oauth_client") != (self.token is not None):
            raise ValueError("an OAuth carrier needs a token grant, and only it")

    @property
    def slot(self) -> str:
        """The secret slot suffix of the carrier's API credentials (``<carrier>.api``)."""
        return "api"


def parse_credentials(kind: CredentialKind, value: str) -> ApiCredentials:
    """The slot's value as credentials: the key itself, or ``client_id:client_secret``.

    >>> parse_credentials("oauth_client", "abc:s3cret").client_id
    'abc'
    """
    if kind == "api_key":
        if not value.strip():
            raise ValueError("the API key is empty")
        return ApiCredentials(api_key=value.strip())
    client_id, sep, client_secret = value.strip().partition(":")
    if not sep or not client_id or not client_secret:
        raise ValueError("expected client_id:client_secret")
    return ApiCredentials(client_id=client_id, client_secret=client_secret)


# --- shared by the adapters ------------------------------------------------------------

JSON_HEADERS: Mapping[str, str] = {"Content-Type": "application/json", "Accept": "application/json"}
BAD_ANSWER = "bad_answer"
# A carrier's error code as carriers write them (-18010002, 10429, NOT.FOUND.ERROR,
# tracker_not_found): a number, or words joined by dots or underscores. Anything else
# (free text, a key-like blob) is never quoted.
_OWN_CODE = re.compile(r"-?\d{1,12}|[A-Za-z]{1,24}(?:[._][A-Za-z0-9]{1,24}){1,5}")


class TokenRefused(CarrierApiError, ValueError):
    """The token endpoint refused, or answered unreadably: a ``ValueError`` as
    :attr:`TokenGrant.read` promises, with a stable ``code`` besides."""


def status_code(status: int) -> str:
    """The stable code of a refused call by its HTTP status.

    >>> [status_code(s) for s in (401, 403, 429, 503, 400, 404)]
    ['unauthorized', 'unauthorized', 'rate_limited', 'carrier_error', 'carrier_refused', \
'carrier_refused']
    """
    if status in (401, 403):
        return "unauthorized"
    if status == 429:
        return "rate_limited"
    return "carrier_error" if status >= 500 else "carrier_refused"


def carrier_error_code(body: bytes) -> str | None:
    """The carrier's own error code in the usual envelopes, when it is a short token:
    ``errors[0].code`` (FedEx, Ship24), ``error.code`` (EasyPost), ``response.errors[0].code``
    (UPS) or a non-zero top-level ``code`` (17TRACK). Never free text, never a key-like blob.

    >>> carrier_error_code(b'{"errors": [{"code": "NOT.FOUND.ERROR", "message": "x"}]}')
    'NOT.FOUND.ERROR'
    >>> carrier_error_code(b'{"code": -18010002, "data": null}'), carrier_error_code(b"busy")
    ('-18010002', None)
    """
    try:
        value = load_json(body)
    except ParseError:
        return None
    if not isinstance(value, dict):
        return None
    response = value.get("response")
    nested = response.get("errors") if isinstance(response, dict) else None
    for found in (value.get("errors"), value.get("error"), nested, value.get("code")):
        if isinstance(found, list) and found:
            found = found[0]
        if isinstance(found, dict):
            found = found.get("code")
        if isinstance(found, int) and not isinstance(found, bool) and found != 0:
            found = str(found)
        if isinstance(found, str) and _OWN_CODE.fullmatch(found.strip()):
            return found.strip()
    return None


def status_error(
    answer: HttpAnswer, carrier: str, codes: Mapping[str, str] | None = None
) -> CarrierApiError | None:
    """``None`` for a 2xx answer; else the error of the whole call (:func:`status_code`,
    or ``codes[<the carrier's own code>]``). The message names the status and the carrier's
    code, never the body.

    >>> str(status_error(HttpAnswer(429, {}, b"slow down"), "Ship24"))
    'Ship24 answered HTTP 429'
    """
    if 200 <= answer.status < 300:
        return None
    own = carrier_error_code(answer.body)
    code = (codes or {}).get(own or "") or status_code(answer.status)
    named = f" ({own})" if own else ""
    return CarrierApiError(code, f"{carrier} answered HTTP {answer.status}{named}")


def check_status(answer: HttpAnswer, carrier: str, codes: Mapping[str, str] | None = None) -> None:
    """Raise :func:`status_error`'s error unless the answer is a 2xx."""
    if (error := status_error(answer, carrier, codes)) is not None:
        raise error


@contextmanager
def reading(carrier: str) -> Iterator[None]:
    """Turn a :class:`ParseError` (it names fields, never values) into ``bad_answer``."""
    try:
        yield
    except ParseError as exc:
        raise CarrierApiError(BAD_ANSWER, f"{carrier}'s answer is unreadable: {exc}") from None


def read_object(answer: HttpAnswer, carrier: str) -> dict[str, Any]:
    """The answer's body as a JSON object; else ``CarrierApiError("bad_answer")``.

    >>> read_object(HttpAnswer(200, {}, b"[]"), "UPS")
    Traceback (most recent call last):
    gateway.carriers.polling.CarrierApiError: UPS's answer is unreadable: body is not an object
    """
    with reading(carrier):
        value = load_json(answer.body)
        if not isinstance(value, dict):
            raise ParseError("body is not an object")
        return value


def json_body(value: object) -> bytes:
    """``value`` as compact UTF-8 JSON, for a call's body."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def basic_auth(user: str, password: str) -> str:
    """An HTTP Basic ``Authorization`` value.

    >>> basic_auth("KEY", "")
    'Basic S0VZOg=='
    """
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def chunks(targets: Sequence[PollTarget], size: int) -> list[Sequence[PollTarget]]:
    """``targets`` in slices of at most ``size``."""
    return [targets[i : i + size] for i in range(0, len(targets), size)]


def number_key(number: str) -> str:
    """A tracking number as carriers echo it back: no whitespace, upper case.

    >>> number_key(" rr 1234 cn")
    'RR1234CN'
    """
    return "".join(number.split()).upper()


def answers_for(
    targets: Sequence[PollTarget],
    exchanges: Sequence[Exchange],
    build: Callable[[PollTarget], HttpCall],
) -> list[tuple[PollTarget, HttpAnswer]]:
    """Each target with the answer to the call ``build`` makes for it (same method, path and
    body; headers may differ), in target order; a target without one is left out."""
    index = {(e.call.method, e.call.path, e.call.body): e.answer for e in exchanges}
    pairs = []
    for target in targets:
        call = build(target)
        if (answer := index.get((call.method, call.path, call.body))) is not None:
            pairs.append((target, answer))
    return pairs


def _lifetime(value: object) -> float | None:
    """``expires_in`` in seconds: a number or a numeric string (UPS), finite and positive."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        return None
    return float(value)


def read_token(answer: HttpAnswer, carrier: str) -> tuple[str, float]:
    """A client-credentials answer's ``access_token`` and ``expires_in`` (seconds);
    :class:`TokenRefused` otherwise (its message never quotes the body)."""
    if (error := status_error(answer, carrier)) is not None:
        raise TokenRefused(error.code, f"token request: {error}")
    try:
        body = read_object(answer, carrier)
    except CarrierApiError as exc:
        raise TokenRefused(exc.code, f"token request: {exc}") from None
    token, lifetime = text(body.get("access_token")), _lifetime(body.get("expires_in"))
    kind = text(body.get("token_type"))
    if token is None or lifetime is None or (kind is not None and kind.lower() != "bearer"):
        message = f"{carrier}'s token answer has no bearer access_token with an expires_in"
        raise TokenRefused(BAD_ANSWER, message)
    return token, lifetime


def client_credentials_grant(
    path: str, style: Literal["basic", "form"], carrier: str
) -> TokenGrant:
    """The OAuth client-credentials grant at ``path``: the client id and secret in HTTP
    Basic (``basic``, UPS) or in the form body (``form``, FedEx)."""

    def request(credentials: ApiCredentials) -> HttpCall:
        form = {"grant_type": "client_credentials"}
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        }
        if style == "basic":
            headers["Authorization"] = basic_auth(credentials.client_id, credentials.client_secret)
        else:
            form |= {"client_id": credentials.client_id, "client_secret": credentials.client_secret}
        return HttpCall("POST", path, headers, urlencode(form).encode())

    def read(answer: HttpAnswer) -> tuple[str, float]:
        return read_token(answer, carrier)

    return TokenGrant(request=request, read=read)


@dataclass
class Findings:
    """A check's outcome as it is read, number by number; :meth:`result` freezes it.

    A number read twice (FedEx duplicate shipments, 17TRACK's several carriers) keeps all
    its events; found wins over failed, failed over unknown. Events carry the polled number
    (the carrier may echo it in another case).
    """

    found: dict[str, list[ParsedEvent]] = field(default_factory=dict)
    ignored: dict[str, list[str]] = field(default_factory=dict)
    unknown: set[str] = field(default_factory=set)
    failed: dict[str, str] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)
    failures: dict[str, list[str]] = field(default_factory=dict)

    def add(self, number: str, events: Sequence[ParsedEvent], ignored: str | None = None) -> None:
        """What the carrier said about ``number``: events (maybe none) or why none."""
        kept = self.found.setdefault(number, [])
        kept += [
            e if e.tracking_number == number else replace(e, tracking_number=number) for e in events
        ]
        if ignored:
            self.ignored.setdefault(number, []).append(ignored)

    def read(self, number: str, read: Callable[[], Sequence[ParsedEvent]]) -> None:
        """``read()``'s events for ``number``; an :class:`ItemIgnored` is found with no
        event, an unreadable part (``ParseError``, a model's ``ValueError``) fails it."""
        try:
            events = read()
        except ItemIgnored as exc:
            self.add(number, (), str(exc))
        except ParseError as exc:  # its message names fields, never values
            self.fail(number, BAD_ANSWER, str(exc))
        except ValueError:  # a model check, whose message may quote values
            self.fail(number, BAD_ANSWER, f"{number} has an invalid field")
        else:
            self.add(number, events)

    def fail(self, number: str, code: str, why: str | None = None) -> None:
        """``number``'s part of the answer could not be used (the first code is kept; ``why``
        reaches the number's ``failures`` should another part of it be found)."""
        self.failed.setdefault(number, code)
        if why:
            self.failures.setdefault(number, []).append(why)

    def result(self) -> PollResult:
        """The :class:`PollResult`. A found number without events says why in ``ignored``;
        its unreadable parts are its ``failures``."""
        found = {
            number: ParseResult(
                events=tuple(events),
                ignored=None if events else "; ".join(self.ignored.get(number, ())) or None,
                ignored_items=tuple(self.ignored.get(number, ())) if events else (),
                failures=tuple(self.failures.get(number, ())),
            )
            for number, events in self.found.items()
        }
        failed = {n: code for n, code in self.failed.items() if n not in found}
        unknown = frozenset(self.unknown - found.keys() - failed.keys())
        return PollResult(found=found, unknown=unknown, failed=failed, refs=dict(self.refs))
