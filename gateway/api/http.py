"""Translating API Gateway REST proxy events: raw bodies, headers, JSON, ETags."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from gateway.errors import BadRequestError, GatewayError, PayloadTooLargeError

BODY_LIMIT_BYTES = 256 * 1024
"""Largest request body a route accepts: a full tracking history is far smaller, and a parked
copy must fit in one DynamoDB item (400 KB)."""


def raw_body(event: Mapping[str, Any]) -> bytes:
    """The body exactly as the carrier sent it (base64-aware), size-checked.

    >>> raw_body({"body": "aGk=", "isBase64Encoded": True})
    b'hi'
    """
    body = event.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise BadRequestError("body is not text", code="malformed_body")
    if len(body) > 2 * BODY_LIMIT_BYTES:
        raise PayloadTooLargeError(f"body exceeds {BODY_LIMIT_BYTES} bytes")
    if event.get("isBase64Encoded"):
        try:
            data = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise BadRequestError("body is not valid base64", code="malformed_body") from exc
    else:
        try:
            data = body.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise BadRequestError("body is not valid UTF-8", code="malformed_body") from exc
    if len(data) > BODY_LIMIT_BYTES:
        raise PayloadTooLargeError(f"body exceeds {BODY_LIMIT_BYTES} bytes")
    return data


def request_headers(event: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """All header values by lower-cased name (multi-value aware)."""
    result: dict[str, list[str]] = {}
    multi = event.get("multiValueHeaders") or {}
    single = event.get("headers") or {}
    for name, values in multi.items():
        result.setdefault(name.lower(), []).extend(v for v in values or [] if isinstance(v, str))
    for name, value in single.items():
        if name.lower() not in result and isinstance(value, str):
            result[name.lower()] = [value]
    return {name: tuple(values) for name, values in result.items()}


def query_params(event: Mapping[str, Any]) -> dict[str, str]:
    """Single-valued query parameters (the last value wins, as in API Gateway)."""
    params = event.get("queryStringParameters") or {}
    return {k: v for k, v in params.items() if isinstance(v, str)}


def error_body(error: GatewayError) -> str:
    """The JSON error body."""
    return json.dumps(error.body())


def etag_of(body: str) -> str:
    """A strong entity tag of a response body: 128 bits of its SHA-256, quoted.

    >>> etag_of("{}")
    '"44136fa355b3678a1146ad16f7e8649e"'
    """
    return '"' + hashlib.sha256(body.encode()).hexdigest()[:32] + '"'


def not_modified(if_none_match: Sequence[str], etag: str) -> bool:
    """True when ``If-None-Match`` names ``etag`` (weak comparison, RFC 9110) or is ``*``.

    >>> not_modified(['W/"a", "b"'], '"b"'), not_modified(['"a"'], '"b"')
    (True, False)
    """
    tags = [tag.strip() for value in if_none_match for tag in value.split(",")]
    return any(tag == "*" or tag.removeprefix("W/") == etag for tag in tags)
