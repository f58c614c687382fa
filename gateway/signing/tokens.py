"""Static shared tokens (bearer-like): constant-time equality against any valid secret."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from gateway.errors import SignatureError
from gateway.signing.hmacs import any_match


def verify_token(presented: str | None, secrets: Sequence[str]) -> None:
    """Accept when ``presented`` equals one of ``secrets``.

    Both sides are hashed first so the comparison does not leak the length.
    """
    if not secrets:
        raise SignatureError("no secret is configured", code="secret_missing")
    if not presented:
        raise SignatureError("token is missing", code="signature_missing")

    def digest(value: str) -> bytes:
        return hashlib.sha256(value.encode("utf-8")).digest()

    if not any_match((digest(s) for s in secrets), [digest(presented)]):
        raise SignatureError("token does not match", code="signature_mismatch")
