"""OAuth2 client-credentials token endpoint for carriers that fetch a token from us (UPS v2).

Enabled per tenant and carrier by the carrier option ``oauth_client_id`` (tenant file
``[carriers.<carrier>.options]``); the client secret is the key set of slot
``<carrier>.oauth``. Request (RFC 6749 §4.4, ``client_secret_basic`` §2.3.1)::

    POST /oauth/{tenant}/{carrier}/token
    Authorization: Basic base64(client_id ":" client_secret)
    Content-Type: application/x-www-form-urlencoded

    grant_type=client_credentials

Answer: 200 ``{"access_token", "token_type": "Bearer", "expires_in": 3600}``. Errors carry
the RFC 6749 §5.2 codes in Waybill's own shape ``{"error": {"code", "message"}}``: 401
``invalid_client``; 400 ``invalid_request`` or ``unsupported_grant_type``; 404 when the
tenant, the carrier, or OAuth for it is unknown.

Tokens are stateless: ``base64url(claims) "." base64url(HMAC-SHA256(secret, that part))``,
signed with the current secret and verified with every valid one (rotation works; give an
``oauth`` rotation a grace of at least the 1 h token life). Nothing here logs a value.

Example:
    >>> token = issue_token(tenant="acme", carrier="ups", client_id="c1", secret="s", now=0.0)
    >>> verify_bearer(token, tenant="acme", carrier="ups", client_id="c1", secrets=["s"], now=60)
    >>> verify_bearer(token, tenant="acme", carrier="ups", client_id="c1", secrets=["s"], now=3600)
    Traceback (most recent call last):
    gateway.errors.SignatureError: token has expired
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote_plus

from gateway.errors import GatewayError, NotFoundError, SignatureError, StoreUnavailableError
from gateway.signing.hmacs import any_match

if TYPE_CHECKING:
    from gateway.services import Services

TOKEN_TTL_SECONDS = 3600
CLIENT_ID_OPTION = "oauth_client_id"
FORM = "application/x-www-form-urlencoded"
MAX_TOKEN_CHARS = 2048
_B64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
log = logging.getLogger("waybill.oauth")


class InvalidClientError(GatewayError):
    """Client authentication failed (RFC 6749 §5.2 ``invalid_client``)."""

    status, code = 401, "invalid_client"
    www_authenticate = 'Basic realm="waybill"'


class InvalidRequestError(GatewayError):
    """The token request is malformed (``invalid_request``)."""

    status, code = 400, "invalid_request"


class UnsupportedGrantTypeError(GatewayError):
    """Any grant other than ``client_credentials`` (``unsupported_grant_type``)."""

    status, code = 400, "unsupported_grant_type"


def _b64e(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64d(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


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
    part = _b64e(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode("utf-8"))
    return f"{part}.{_b64e(_mac(secret, part))}"


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
    if len(token) > MAX_TOKEN_CHARS or not (part and mac and set(part + mac) <= _B64URL):
        raise SignatureError("token is malformed", code="signature_malformed")
    expected = (_b64e(_mac(s, part)).encode() for s in secrets)  # canonical text: no twins
    if not any_match(expected, [mac.encode("ascii")]):
        raise SignatureError("token does not match", code="signature_mismatch")
    try:
        claims = json.loads(_b64d(part))
    except ValueError:  # binascii.Error and UnicodeDecodeError too
        raise SignatureError("token is malformed", code="signature_malformed") from None
    if not isinstance(claims, dict) or not isinstance(claims.get("exp"), int):
        raise SignatureError("token is malformed", code="signature_malformed")
    if claims.get("tenant") != tenant or claims.get("carrier") != carrier:
        raise SignatureError("token was issued for another tenant or carrier", code="token_scope")
    if not any_match([_digest(str(claims.get("client_id")))], [_digest(client_id)]):
        raise SignatureError("x-api-key is not the token's client", code="client_mismatch")
    if now >= claims["exp"]:
        raise SignatureError("token has expired", code="token_expired")


def _header(headers: Mapping[str, tuple[str, ...]], name: str, error: GatewayError) -> str | None:
    values = headers.get(name, ())
    if len(set(values)) > 1:
        raise error
    return values[0] if values else None


def _client_id(services: Services, tenant: str, carrier: str) -> str:
    """The client id configured for (tenant, carrier); 404 when OAuth is not enabled."""
    config = services.pipeline.tenants(tenant)
    if config is None or not config.carrier_enabled(carrier):
        raise NotFoundError("unknown tenant or carrier", code="unknown_route")
    client_id = config.carriers[carrier].options.get(CLIENT_ID_OPTION)
    if not isinstance(client_id, str) or not client_id:
        raise NotFoundError("OAuth is not enabled for this carrier", code="oauth_not_enabled")
    return client_id


def _basic(headers: Mapping[str, tuple[str, ...]]) -> tuple[set[str], set[str]]:
    """The presented client id and secret, each as sent and form-decoded (§2.3.1)."""
    refused = InvalidClientError("client authentication failed")
    scheme, _, encoded = (_header(headers, "authorization", refused) or "").strip().partition(" ")
    if scheme.lower() != "basic":
        raise InvalidClientError("client authentication (HTTP Basic) is required")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise InvalidClientError("Basic credentials are malformed") from None
    raw_id, colon, raw_secret = decoded.partition(":")
    if not colon or not raw_id or not raw_secret:
        raise InvalidClientError("Basic credentials are malformed")
    return {raw_id, unquote_plus(raw_id)}, {raw_secret, unquote_plus(raw_secret)}


def _check_grant(headers: Mapping[str, tuple[str, ...]], body: bytes) -> None:
    malformed = InvalidRequestError("the token request is malformed")
    content_type = (_header(headers, "content-type", malformed) or "").split(";")[0]
    if content_type.strip().lower() != FORM:
        raise InvalidRequestError(f"the token request must be {FORM}")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
    except ValueError:  # UnicodeDecodeError too
        raise malformed from None
    names = [name for name, _ in pairs]
    if len(names) != len(set(names)):
        raise InvalidRequestError("a parameter is repeated")
    if "client_secret" in names:
        raise InvalidRequestError("send the client secret in the Authorization header only")
    grant = dict(pairs).get("grant_type")
    if not grant:
        raise InvalidRequestError("grant_type is missing")
    if grant != "client_credentials":
        raise UnsupportedGrantTypeError("only grant_type=client_credentials is supported")


def token_endpoint(
    services: Services,
    tenant: str,
    carrier: str,
    headers: Mapping[str, tuple[str, ...]],
    body: bytes,
) -> tuple[int, dict[str, Any]]:
    """Issue a short-lived bearer token for (tenant, carrier) to an authenticated client."""
    client_id = _client_id(services, tenant, carrier)
    ids, presented = _basic(headers)
    now = services.clock()
    try:
        secrets = services.pipeline.secrets.valid_secrets(tenant, f"{carrier}.oauth", now)
    except Exception as exc:  # fail closed, but retryable: the secret store is down
        log.error("oauth secrets lookup failed: %s", type(exc).__name__)
        raise StoreUnavailableError("secrets unavailable", code="secrets_unavailable") from exc
    id_ok = any_match([_digest(client_id)], [_digest(i) for i in ids])
    secret_ok = bool(secrets) and any_match(map(_digest, secrets), map(_digest, presented))
    if not (id_ok and secret_ok):
        raise InvalidClientError("client authentication failed")
    _check_grant(headers, body)
    token = issue_token(
        tenant=tenant, carrier=carrier, client_id=client_id, secret=secrets[0], now=now.timestamp()
    )
    return 200, {"access_token": token, "token_type": "Bearer", "expires_in": TOKEN_TTL_SECONDS}
