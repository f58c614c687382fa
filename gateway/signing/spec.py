"""Declarative signature specs: a scheme described as data, executed here.

A :class:`SignatureSpec` says where the signature is (a header or a query
parameter), how it is encoded, which algorithm computes it, over exactly which
content (a template over the raw body, timestamp, id, method and path), where
the timestamp comes from and how far it may drift, and how a stored secret
becomes a key. :func:`verify_spec` and :func:`sign_spec` execute it; ``sign`` is
the exact inverse of ``verify``.

Kinds:
- ``hmac``: HMAC of the signed content.
- ``hash``: a plain digest of the content, where the template contains ``{secret}``
  (17TRACK: ``sha256(body + "/" + key)``).
- ``token``: a static shared secret presented as is (after ``prefix``, e.g. ``Bearer ``).
- ``standard_webhooks``: the Standard Webhooks spec (v1 HMAC and v1a Ed25519).

Example (EasyPost's scheme):
    >>> spec = SignatureSpec(kind="hmac", header="X-Hmac-Signature", encoding="hex",
    ...                      prefix="hmac-sha256-hex=", secret_form="nfkd")
    >>> sign_spec(spec, b"{}", "k", 0.0)["X-Hmac-Signature"][:16]
    'hmac-sha256-hex='
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from gateway.errors import SignatureError
from gateway.signing.hmacs import (
    Algorithm,
    Encoding,
    SecretForm,
    any_match,
    decode_signature,
    hmac_signature,
    key_bytes,
    key_set,
    verify_hmac,
)
from gateway.signing.standard import sign_standard, verify_standard
from gateway.signing.timestamps import check_timestamp, parse_signature_list
from gateway.signing.tokens import verify_token

Kind = Literal["hmac", "hash", "token", "standard_webhooks"]
QUERY_PREFIX = "?"
"""In what ``sign`` returns, a key starting with ``?`` is a query parameter, not a header."""

PLACEHOLDERS = ("body", "timestamp", "id", "method", "path", "secret")
_PLACEHOLDER = re.compile(r"\{(" + "|".join(PLACEHOLDERS) + r")\}")
_ANY_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_STANDARD_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


@dataclass(frozen=True)
class SignatureSpec:
    """How a carrier authenticates a delivery, as data."""

    kind: Kind
    header: str | None = None
    query_param: str | None = None
    signed_content: str = "{body}"
    algorithm: Algorithm = "sha256"
    encoding: Encoding = "hex"
    prefix: str = ""
    secret_form: SecretForm = "raw"  # noqa: S105 - a form name, not a secret
    signature_list: tuple[str, str] | None = None
    signature_key: str = "v1"
    timestamp_key: str | None = None
    timestamp_header: str | None = None
    id_header: str | None = None
    tolerance_seconds: int | None = None
    reject_future: bool = True
    rotation: str = "the current secret and unexpired previous ones are all accepted"

    @property
    def binds_body(self) -> bool:
        """True when the signature covers the raw body, so a captured signature cannot
        authenticate another body. A static token does not, nor a template without
        ``{body}`` (a scheme that signs only a timestamp or an id).

        >>> SignatureSpec(kind="hmac", header="x-sig").binds_body
        True
        >>> SignatureSpec(kind="hmac", header="x-sig", signed_content="{timestamp}",
        ...               timestamp_header="x-ts").binds_body
        False
        >>> SignatureSpec(kind="token", header="authorization").binds_body
        False
        """
        return self.kind != "token" and "{body}" in self.signed_content

    @property
    def headers(self) -> tuple[str, ...]:
        """Every header the scheme reads (each one is a credential: never logged or parked)."""
        if self.kind == "standard_webhooks":
            return _STANDARD_HEADERS
        found = (self.header, self.timestamp_header, self.id_header)
        return tuple(dict.fromkeys(h for h in found if h))

    def __post_init__(self) -> None:
        if self.kind != "standard_webhooks" and (self.header is None) == (self.query_param is None):
            raise ValueError("a spec reads its signature from exactly one header or query param")
        unknown = set(_ANY_PLACEHOLDER.findall(self.signed_content)) - set(PLACEHOLDERS)
        if unknown:
            raise ValueError(f"signed_content has an unknown placeholder {{{min(unknown)}}}")
        if ("{secret}" in self.signed_content) != (self.kind == "hash"):
            raise ValueError("only a 'hash' spec, and every one, puts {secret} in the content")
        if self.tolerance_seconds is not None and not (self.timestamp_key or self.timestamp_header):
            raise ValueError("a tolerance needs a timestamp source")


def _no_header(name: str) -> str | None:
    return None


@dataclass(frozen=True)
class Request:
    """The parts of a delivery a spec reads; ``header`` looks a header up case-insensitively."""

    body: bytes
    header: Callable[[str], str | None] = _no_header
    query: Mapping[str, str] = field(default_factory=dict)
    method: str = "POST"
    path: str = "/"


def content(
    spec: SignatureSpec, request: Request, timestamp: str, msg_id: str, secret: str = ""
) -> bytes:
    """The exact bytes the scheme signs, rendered from its template."""
    values = {
        "timestamp": timestamp,
        "id": msg_id,
        "method": request.method.upper(),
        "path": request.path,
        "secret": secret,
    }
    parts: list[bytes] = []
    cursor = 0
    for match in _PLACEHOLDER.finditer(spec.signed_content):
        parts.append(spec.signed_content[cursor : match.start()].encode())
        name = match.group(1)
        parts.append(request.body if name == "body" else values[name].encode())
        cursor = match.end()
    parts.append(spec.signed_content[cursor:].encode())
    return b"".join(parts)


def _presented(spec: SignatureSpec, request: Request) -> str | None:
    if spec.query_param is not None:
        return request.query.get(spec.query_param)
    return request.header(spec.header) if spec.header else None


def verify_spec(spec: SignatureSpec, request: Request, secrets: Sequence[str], now: float) -> None:
    """Raise :class:`SignatureError` unless the request is authentic under ``spec``."""
    header = request.header
    if spec.kind == "standard_webhooks":
        verify_standard(
            msg_id=header("webhook-id"),
            timestamp=header("webhook-timestamp"),
            signature=header("webhook-signature"),
            body=request.body,
            secrets=secrets,
            now=now,
            tolerance=spec.tolerance_seconds or 300,
        )
        return
    if not secrets:
        raise SignatureError("no secret is configured", code="secret_missing")
    presented = _presented(spec, request)
    if not presented:
        raise SignatureError("signature is missing", code="signature_missing")
    if spec.kind == "token":
        if not presented.startswith(spec.prefix):
            raise SignatureError("token is malformed", code="signature_malformed")
        verify_token(presented[len(spec.prefix) :], secrets)
        return
    values, timestamp = [presented], ""
    if spec.signature_list is not None:
        listed = parse_signature_list(
            presented, item_sep=spec.signature_list[0], kv_sep=spec.signature_list[1]
        )
        values = listed.get(spec.signature_key, [])
        if spec.timestamp_key:
            timestamp = (listed.get(spec.timestamp_key) or [""])[0]
    if spec.timestamp_header:
        timestamp = header(spec.timestamp_header) or ""
    if spec.tolerance_seconds is not None:
        check_timestamp(
            timestamp, now, tolerance=spec.tolerance_seconds, reject_future=spec.reject_future
        )
    msg_id = (header(spec.id_header) or "") if spec.id_header else ""
    if spec.kind == "hmac":
        message = content(spec, request, timestamp, msg_id)
        verify_hmac(
            message,
            values,
            key_set(secrets, spec.secret_form),
            algorithm=spec.algorithm,
            encoding=spec.encoding,
            prefix=spec.prefix,
        )
        return
    decoded = [
        d for d in (decode_signature(v.strip(), spec.encoding, spec.prefix) for v in values) if d
    ]
    if not decoded:
        raise SignatureError("signature is malformed", code="signature_malformed")
    keys = [s for s in secrets if s]  # with an empty secret the digest is anyone's to compute
    if not keys:
        raise SignatureError("no secret is configured", code="secret_missing")
    expected = (_digest(spec, content(spec, request, timestamp, msg_id, s)) for s in keys)
    if not any_match(expected, decoded):
        raise SignatureError("signature does not match", code="signature_mismatch")


def _digest(spec: SignatureSpec, message: bytes) -> bytes:
    return hashlib.new(spec.algorithm, message).digest()


def sign_spec(
    spec: SignatureSpec,
    body: bytes,
    secret: str,
    now: float,
    *,
    delivery_id: str | None = None,
    method: str = "POST",
    path: str = "/",
) -> dict[str, str]:
    """What the sender adds to the request: headers, and ``?name`` query parameters."""
    stamp = str(int(now))
    if spec.kind == "standard_webhooks":
        msg_id = delivery_id or "msg_" + hashlib.sha256(body).hexdigest()[:24]
        signature = sign_standard(secret, msg_id, int(stamp), body)
        return dict(zip(_STANDARD_HEADERS, (msg_id, stamp, signature), strict=True))
    msg_id = delivery_id or "msg_" + hashlib.sha256(body).hexdigest()[:24]
    request = Request(body=body, method=method, path=path)
    if spec.kind == "token":
        value = spec.prefix + secret
    elif spec.kind == "hmac":
        message = content(spec, request, stamp, msg_id)
        value = hmac_signature(
            key_bytes(secret, spec.secret_form),
            message,
            algorithm=spec.algorithm,
            encoding=spec.encoding,
            prefix=spec.prefix,
        )
    else:
        raw = _digest(spec, content(spec, request, stamp, msg_id, secret))
        value = spec.prefix + (raw.hex() if spec.encoding == "hex" else _b64(raw))
    if spec.signature_list is not None:
        item_sep, kv_sep = spec.signature_list
        listed = [f"{spec.signature_key}{kv_sep}{value}"]
        if spec.timestamp_key:
            listed.insert(0, f"{spec.timestamp_key}{kv_sep}{stamp}")
        value = item_sep.join(listed)
    signed = {QUERY_PREFIX + spec.query_param if spec.query_param else str(spec.header): value}
    if spec.timestamp_header:
        signed[spec.timestamp_header] = stamp
    if spec.id_header:
        signed[spec.id_header] = msg_id
    return signed


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def split_signed(signed: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """``(headers, query)`` from what ``sign`` returned."""
    headers = {k: v for k, v in signed.items() if not k.startswith(QUERY_PREFIX)}
    query = {k[len(QUERY_PREFIX) :]: v for k, v in signed.items() if k.startswith(QUERY_PREFIX)}
    return headers, query
