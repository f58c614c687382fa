"""Standard Webhooks (standardwebhooks.com): ``v1`` HMAC and ``v1a`` Ed25519.

Signed content is ``f"{webhook-id}.{webhook-timestamp}.".encode() + raw_body``.
Secrets ``whsec_…`` verify ``v1``; public keys ``whpk_…`` verify ``v1a``.

Example (the published vector, with the clock pinned):
    >>> body = b'{"test": 2432232314}'
    >>> sig = sign_standard("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    ...                     "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
    >>> sig
    'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE='
"""

from __future__ import annotations

from collections.abc import Sequence

from gateway.errors import SignatureError
from gateway.signing.ed25519 import sign_ed25519, verify_ed25519
from gateway.signing.hmacs import hmac_signature, key_bytes, key_set, verify_hmac
from gateway.signing.timestamps import check_timestamp, parse_signature_list

TOLERANCE_SECONDS = 300


def signed_content(msg_id: str, timestamp: int | str, body: bytes) -> bytes:
    """The exact bytes both sides sign."""
    return f"{msg_id}.{timestamp}.".encode() + body


def sign_standard(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """Produce a ``webhook-signature`` value; ``whsk_`` secrets sign ``v1a``."""
    content = signed_content(msg_id, timestamp, body)
    if secret.startswith("whsk_"):
        return "v1a," + sign_ed25519(secret, content)
    key = key_bytes(secret, "whsec_base64")
    return "v1," + hmac_signature(key, content, algorithm="sha256", encoding="base64")


def verify_standard(
    *,
    msg_id: str | None,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    secrets: Sequence[str],
    now: float,
    tolerance: int = TOLERANCE_SECONDS,
) -> None:
    """Verify a Standard Webhooks delivery; unknown versions are skipped, any match wins."""
    if not secrets:
        raise SignatureError("no secret is configured", code="secret_missing")
    if not msg_id or not signature:
        raise SignatureError("webhook-id or webhook-signature is missing", code="signature_missing")
    stamp = check_timestamp(timestamp, now, tolerance=tolerance)
    content = signed_content(msg_id, stamp, body)
    presented = parse_signature_list(signature, item_sep=" ", kv_sep=",")
    public = [s for s in secrets if s.startswith("whpk_")]
    hmac_secrets = [s for s in secrets if not s.startswith("whpk_")]
    symmetric = key_set(hmac_secrets, "whsec_base64") if hmac_secrets else []
    if public and presented.get("v1a"):
        try:
            verify_ed25519(content, presented["v1a"], public)
            return
        except SignatureError:
            if not (symmetric and presented.get("v1")):
                raise
    if symmetric and presented.get("v1"):
        verify_hmac(content, presented["v1"], symmetric, algorithm="sha256", encoding="base64")
        return
    raise SignatureError("no signature of a supported version", code="signature_missing")
