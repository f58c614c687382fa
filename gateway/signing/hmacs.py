"""HMAC signatures: key derivation, signing and constant-time verification.

Example:
    >>> sig = hmac_signature(b"k", b"body", algorithm="sha256", encoding="hex", prefix="p=")
    >>> verify_hmac(b"body", sig, [b"k"], algorithm="sha256", encoding="hex", prefix="p=")
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Literal

from gateway.errors import SignatureError

Algorithm = Literal["sha1", "sha256", "sha512"]
Encoding = Literal["hex", "base64"]
SecretForm = Literal["raw", "nfkd", "whsec_base64"]

_DIGESTS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}


def key_bytes(secret: str, form: SecretForm = "raw") -> bytes:
    """Turn a stored secret into HMAC key bytes the way the scheme defines it.

    ``raw``: UTF-8 as is. ``nfkd``: Unicode NFKD first (EasyPost).
    ``whsec_base64``: base64 after an optional ``whsec_`` prefix (Standard Webhooks).

    >>> key_bytes("s\\u00e9cret", "nfkd") == "se\\u0301cret".encode()
    True
    """
    if not secret:
        raise SignatureError("no secret is configured", code="secret_missing")
    if form == "raw":
        return secret.encode("utf-8")
    if form == "nfkd":
        return unicodedata.normalize("NFKD", secret).encode("utf-8")
    encoded = secret.removeprefix("whsec_")
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignatureError("secret is not valid base64", code="secret_invalid") from exc
    if not key:
        raise SignatureError("secret is empty after its prefix", code="secret_invalid")
    return key


def key_set(secrets: Sequence[str], form: SecretForm = "raw") -> list[bytes]:
    """Key bytes of every usable secret of a key set, current first.

    A secret that cannot be turned into a key (a typo during rotation) is skipped,
    so it cannot block the others; with no usable secret at all it fails closed.
    """
    if not secrets:
        raise SignatureError("no secret is configured", code="secret_missing")
    keys = []
    for secret in secrets:
        try:
            keys.append(key_bytes(secret, form))
        except SignatureError:
            continue
    if not keys:
        raise SignatureError("no configured secret is usable", code="secret_invalid")
    return keys


def _digest(key: bytes, message: bytes, algorithm: Algorithm) -> bytes:
    return hmac.new(key, message, _DIGESTS[algorithm]).digest()


def _encode(raw: bytes, encoding: Encoding) -> str:
    return raw.hex() if encoding == "hex" else base64.b64encode(raw).decode("ascii")


def decode_signature(value: str, encoding: Encoding, prefix: str = "") -> bytes | None:
    """Decode one presented signature strictly; ``None`` when it is malformed.

    Hex is accepted in either case (digits carry no case); base64 must be the
    standard, padded alphabet.
    """
    if prefix:
        if not value.startswith(prefix):
            return None
        value = value[len(prefix) :]
    try:
        if encoding == "hex":
            return bytes.fromhex(value) if value.isascii() and len(value) % 2 == 0 else None
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


def hmac_signature(
    key: bytes, message: bytes, *, algorithm: Algorithm, encoding: Encoding, prefix: str = ""
) -> str:
    """Sign ``message`` with ``key``; the exact inverse of :func:`verify_hmac`."""
    return prefix + _encode(_digest(key, message, algorithm), encoding)


def any_match(expected: Iterable[bytes], presented: Iterable[bytes]) -> bool:
    """True when any presented value equals any expected one, compared in constant time."""
    wanted = list(expected)
    matched = False
    for candidate in presented:
        for value in wanted:
            matched |= hmac.compare_digest(value, candidate)
    return matched


def verify_hmac(
    message: bytes,
    presented: str | Sequence[str] | None,
    keys: Sequence[bytes],
    *,
    algorithm: Algorithm,
    encoding: Encoding,
    prefix: str = "",
) -> None:
    """Accept when any presented signature matches ``message`` under any key.

    Several keys make rotation work; several presented values allow
    multi-signature headers. Raises :class:`SignatureError` otherwise.
    """
    if not keys:
        raise SignatureError("no secret is configured", code="secret_missing")
    values = [presented] if isinstance(presented, str) else list(presented or [])
    if not values:
        raise SignatureError("signature is missing", code="signature_missing")
    decoded = [d for d in (decode_signature(v.strip(), encoding, prefix) for v in values) if d]
    if not decoded:
        raise SignatureError("signature is malformed", code="signature_malformed")
    if not any_match((_digest(k, message, algorithm) for k in keys), decoded):
        raise SignatureError("signature does not match", code="signature_mismatch")
