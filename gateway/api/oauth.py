"""OAuth2 client-credentials token endpoint for carriers that fetch a token from us (UPS v2).

Enabled per tenant and carrier by the carrier option ``oauth_client_id`` (tenant file
``[carriers.<carrier>.options]``); the client secret is the key set of slot
``<carrier>.oauth``. Request (RFC 6749 §4.4, ``client_secret_basic`` §2.3.1)::

    POST /oauth/{tenant}/{carrier}/token
    Authorization: Basic base64(client_id ":" client_secret)
    Content-Type: application/x-www-form-urlencoded

    grant_type=client_credentials

Answer: 200 ``{"access_token", "token_type": "Bearer", "expires_in": 3600}``. Refused token
requests answer in RFC 6749 §5.2's shape ``{"error": "invalid_client", "error_description":
"…"}``: 401 ``invalid_client`` (with ``WWW-Authenticate: Basic``); 400 ``invalid_request``
(a body that is not text too) or ``unsupported_grant_type``. What is not a token error keeps
Waybill's ``{"error": {"code", "message"}}``: 404 when the tenant, the carrier, or OAuth for
it is unknown; 413, 429, 503.

The tokens themselves (issue and verify) are :mod:`gateway.signing.bearer`. Nothing here
logs a value.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

from gateway.errors import GatewayError, NotFoundError, StoreUnavailableError
from gateway.routes import NO_ROUTE
from gateway.services import Services
from gateway.signing.bearer import TOKEN_TTL_SECONDS, issue_token
from gateway.signing.hmacs import any_match
from gateway.tenancy.directory import visible_tenant

CLIENT_ID_OPTION = "oauth_client_id"
FORM = "application/x-www-form-urlencoded"
log = logging.getLogger("waybill.oauth")


class OAuthError(GatewayError):
    """A token request refused as RFC 6749 §5.2 says: ``{"error", "error_description"}``."""

    def body(self) -> dict[str, str]:  # type: ignore[override]
        """The §5.2 error body (no Waybill envelope: OAuth clients parse this shape)."""
        return {"error": self.code, "error_description": self.message}


class InvalidClientError(OAuthError):
    """Client authentication failed (RFC 6749 §5.2 ``invalid_client``)."""

    status, code = 401, "invalid_client"
    www_authenticate = 'Basic realm="waybill"'


class InvalidRequestError(OAuthError):
    """The token request is malformed (``invalid_request``)."""

    status, code = 400, "invalid_request"


class UnsupportedGrantTypeError(OAuthError):
    """Any grant other than ``client_credentials`` (``unsupported_grant_type``)."""

    status, code = 400, "unsupported_grant_type"


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8")).digest()


def _header(headers: Mapping[str, tuple[str, ...]], name: str, error: GatewayError) -> str | None:
    values = headers.get(name, ())
    if len(set(values)) > 1:
        raise error
    return values[0] if values else None


def _client_id(services: Services, tenant: str, carrier: str) -> str:
    """The client id configured for (tenant, carrier); 404 when OAuth is not enabled.

    An unknown or broken tenant, or a carrier it does not have, is no route (as in ingest).
    """
    config = visible_tenant(services.pipeline.tenants, tenant)
    if config is None or not config.carrier_enabled(carrier):
        raise NotFoundError(NO_ROUTE)
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
