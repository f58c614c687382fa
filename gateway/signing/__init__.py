"""Signature primitives, written once and shared by every adapter.

Everything here works on raw bytes, compares in constant time and fails closed:
a missing header, an empty secret list or an undecodable signature raises
:class:`~gateway.errors.SignatureError`.
"""

from gateway.signing.hmacs import (
    Algorithm,
    Encoding,
    SecretForm,
    hmac_signature,
    key_bytes,
    key_set,
    verify_hmac,
)
from gateway.signing.timestamps import Clock, check_timestamp, parse_signature_list
from gateway.signing.tokens import verify_token

__all__ = [
    "Algorithm",
    "Clock",
    "Encoding",
    "SecretForm",
    "check_timestamp",
    "hmac_signature",
    "key_bytes",
    "key_set",
    "parse_signature_list",
    "verify_hmac",
    "verify_token",
]
