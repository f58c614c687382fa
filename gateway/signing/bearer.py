"""Stateless bearer tokens for carriers that fetch one from us (UPS Track Alert v2).

A token is ``base64url(claims) "." base64url(HMAC-SHA256(secret, that part))``, claims
``{carrier, client_id, exp, tenant}``: signed with the current secret and verified with
every valid one, so rotation works (give a rotation a grace of at least the 1 h token
life). The token endpoint that issues them is :mod:`gateway.api.oauth`.

Example:
    >>> token = issue_token(tenant="acme", carrier="ups", client_id="c1", secret="s", now=0.0)
    >>> verify_bearer(token, tenant="acme", carrier="ups", client_id="c1", secrets=["s"], now=60)
    >>> verify_bearer(token, tenant="acme", carrier="ups", client_id="c1", secrets=["s"], now=3600)
    Traceback (most recent call last):
    gateway.errors.SignatureError: token has expired
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence

from gateway.errors import SignatureError
from gateway.signing import b64url
from gateway.signing.hmacs import any_match
from gateway.signing.secret_rules import text_rule

TOKEN_TTL_SECONDS = 3600
CLIENT_SECRET_RULE = text_rule(min_chars=16)
"""The OAuth client secret keys the tokens' HMAC: one issued token must not let it be
guessed offline, so a short one is refused when it is set."""
MAX_TOKEN_CHARS = 2048
_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _mac(secret: str, claims_part: str) -> bytes:
    return hmac.new(secret.encode("utf-8"), claims_part.encode("ascii"), hashlib.sha256).digest()


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8")).digest()


def issue_token(
    *,
    tenant: str,
    carrier: str,
    client_id: str,
    secret: str,
    now: float,
    ttl: int = TOKEN_TTL_SECONDS,
) -> str:
    """A bearer token for (tenant, carrier, client id), valid ``ttl`` seconds (at most 1 h)."""
    if not secret or not 0 < ttl <= TOKEN_TTL_SECONDS:
        raise ValueError("a token needs a secret and a lifetime of at most one hour")
    claims = {"carrier": carrier, "client_id": client_id, "exp": int(now) + ttl, "tenant": tenant}
    part = b64url.encode(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode("utf-8"))
    return f"{part}.{b64url.encode(_mac(secret, part))}"


def verify_bearer(
    token: str | None,
    *,
    tenant: str,
    carrier: str,
    client_id: str | None,
    secrets: Sequence[str],
    now: float,
) -> None:
    """Raise :class:`SignatureError` unless ``token`` is ours, unexpired, for this tenant and
    carrier, signed with one of ``secrets``, and issued to ``client_id``."""
    secrets = [s for s in secrets if s]  # an empty key would let anyone mint tokens
    if not secrets:
        raise SignatureError("no OAuth client secret is configured", code="secret_missing")
    if not token:
        raise SignatureError("bearer token is missing", code="signature_missing")
    if not client_id:
        raise SignatureError("x-api-key is missing", code="signature_missing")
    part, _, mac = token.partition(".")
    if len(token) > MAX_TOKEN_CHARS or not (part and mac and set(part + mac) <= _ALPHABET):
        raise SignatureError("token is malformed", code="signature_malformed")
    expected = (b64url.encode(_mac(s, part)).encode() for s in secrets)  # canonical: no twins
    if not any_match(expected, [mac.encode("ascii")]):
        raise SignatureError("token does not match", code="signature_mismatch")
    try:
        claims = json.loads(b64url.decode(part))
    except ValueError:  # not canonical, or UnicodeDecodeError
        raise SignatureError("token is malformed", code="signature_malformed") from None
    if not isinstance(claims, dict) or not isinstance(claims.get("exp"), int):
        raise SignatureError("token is malformed", code="signature_malformed")
    if claims.get("tenant") != tenant or claims.get("carrier") != carrier:
        raise SignatureError("token was issued for another tenant or carrier", code="token_scope")
    if not any_match([_digest(str(claims.get("client_id")))], [_digest(client_id)]):
        raise SignatureError("x-api-key is not the token's client", code="client_mismatch")
    if now >= claims["exp"]:
        raise SignatureError("token has expired", code="token_expired")
