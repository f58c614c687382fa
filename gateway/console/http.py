"""The console's requests and responses: plain data, no web framework.

Example:
    >>> request = Request("POST", "/console/login", body=b"credential=x&csrf=y",
    ...     headers={"cookie": "a=1; b=2", "content-type": "application/x-www-form-urlencoded"})
    >>> request.cookie("b"), request.form()["csrf"]
    ('2', 'y')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from urllib.parse import parse_qs

MAX_FORM_BYTES = 64 * 1024
MAX_FORM_FIELDS = 300

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)
SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("content-security-policy", CSP),
    ("x-frame-options", "DENY"),
    ("x-content-type-options", "nosniff"),
    # same-origin, not no-referrer: with no-referrer Chromium sends "Origin: null" on our
    # own form posts, which the Origin check must refuse; other sites still get nothing
    ("referrer-policy", "same-origin"),
    ("cache-control", "no-store"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
    ("permissions-policy", "camera=(), microphone=(), geolocation=()"),
)


@dataclass(frozen=True)
class Request:
    """One request: the decoded path, the raw query string, lower-cased header names."""

    method: str
    path: str
    query: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    client: str = "127.0.0.1"

    def header(self, name: str) -> str | None:
        """One header's value (names are matched lower-cased)."""
        return self.headers.get(name.lower())

    def cookie(self, name: str) -> str | None:
        """One cookie's value, or None."""
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(self.header("cookie") or "")
        except Exception:  # a malformed cookie header is no cookie
            return None
        morsel = jar.get(name)
        return morsel.value if morsel is not None else None

    def params(self) -> dict[str, str]:
        """The query string's parameters (the last value of each)."""
        return _single(parse_qs(self.query, keep_blank_values=True, max_num_fields=50))

    def form(self) -> dict[str, str]:
        """An urlencoded form body's fields (the last value of each); empty otherwise."""
        return _single(self.form_lists())

    def form_lists(self) -> dict[str, list[str]]:
        """Every value of every field of an urlencoded form body."""
        kind = (self.header("content-type") or "").split(";")[0].strip().lower()
        if kind != "application/x-www-form-urlencoded" or len(self.body) > MAX_FORM_BYTES:
            return {}
        try:
            text = self.body.decode("utf-8")
            return parse_qs(text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
        except ValueError:  # not UTF-8, or too many fields
            return {}


def _single(values: dict[str, list[str]]) -> dict[str, str]:
    return {name: found[-1] for name, found in values.items()}


@dataclass(frozen=True)
class Response:
    """One complete response."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        """The first value of one header."""
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


def respond(
    status: int,
    body: bytes,
    content_type: str,
    extra: tuple[tuple[str, str], ...] = (),
) -> Response:
    """A response with every security header the console sends."""
    return Response(status, (("content-type", content_type), *SECURITY_HEADERS, *extra), body)


def html(status: int, text: str, extra: tuple[tuple[str, str], ...] = ()) -> Response:
    """An HTML page."""
    return respond(status, text.encode(), "text/html; charset=utf-8", extra)


def redirect(location: str, extra: tuple[tuple[str, str], ...] = ()) -> Response:
    """303 See Other to one of our own paths (never a tenant's URL)."""
    if not location.startswith("/console"):
        raise ValueError("the console redirects to its own paths only")
    return respond(303, b"", "text/plain; charset=utf-8", (("location", location), *extra))
