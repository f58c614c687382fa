"""Ed25519 signatures (asymmetric): partners sign with a private key, we hold the public one.

``cryptography`` is imported on first use, not at cold start (few partners sign this way).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import TYPE_CHECKING

from gateway.errors import SignatureError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def _b64(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignatureError(f"{what} is not valid base64", code="secret_invalid") from exc


def public_key(encoded: str) -> Ed25519PublicKey:
    """Load a raw 32-byte public key given as base64 (an optional ``whpk_`` prefix is dropped)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    raw = _b64(encoded.removeprefix("whpk_"), "public key")
    try:
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError as exc:
        raise SignatureError(
            "public key is not a 32-byte Ed25519 key", code="secret_invalid"
        ) from exc


def sign_ed25519(private_seed_b64: str, message: bytes) -> str:
    """Sign with a base64 32-byte seed (optional ``whsk_`` prefix); returns base64."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    seed = _b64(private_seed_b64.removeprefix("whsk_"), "private key")
    key = Ed25519PrivateKey.from_private_bytes(seed)
    return base64.b64encode(key.sign(message)).decode("ascii")


def verify_ed25519(message: bytes, presented: Sequence[str], public_keys: Sequence[str]) -> None:
    """Accept when any presented base64 signature verifies under any public key."""
    from cryptography.exceptions import InvalidSignature

    if not public_keys:
        raise SignatureError("no public key is configured", code="secret_missing")
    if not presented:
        raise SignatureError("signature is missing", code="signature_missing")
    keys = [public_key(k) for k in public_keys]
    for value in presented:
        try:
            signature = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            continue
        for key in keys:
            try:
                key.verify(signature, message)
            except InvalidSignature:
                continue
            return
    raise SignatureError("signature does not match", code="signature_mismatch")
