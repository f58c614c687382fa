"""The operations of the OpenAPI document: building blocks, the carriers' and ops' routes.

Bodies and parameters are references to the models' schemas (:mod:`gateway.api.openapi`
builds those); this module and :mod:`gateway.api.openapi_tenant` say which route answers
what, and why.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Json = dict[str, Any]
API_KEY: list[Json] = [{"apiKey": []}]
PUBLIC: list[Json] = []
SIGNATURE_CODES = (
    "invalid_signature, signature_missing, signature_malformed, signature_mismatch, "
    "header_repeated, secret_missing, secret_invalid, timestamp_missing, timestamp_malformed, "
    "timestamp_stale, timestamp_future, token_expired, token_scope, client_mismatch, "
    "not_a_webhook"
)


def schema(name: str) -> Json:
    """A reference to a component schema."""
    return {"$ref": f"#/components/schemas/{name}"}


def reply(description: str, body: Json | None = None, headers: Json | None = None) -> Json:
    """One response: a JSON body (when given) and headers."""
    out: Json = {"description": description}
    if headers:
        out["headers"] = headers
    if body is not None:
        out["content"] = {"application/json": {"schema": body}}
    return out


def error(description: str) -> Json:
    """An error response with the standard body; ``description`` names its codes."""
    return reply(description, schema("ErrorResponse"))


def shared(name: str) -> Json:
    """A reference to a component response."""
    return {"$ref": f"#/components/responses/{name}"}


KEYED_ERRORS: Json = {
    "401": shared("Unauthenticated"),
    "429": shared("Throttled"),
    "503": shared("StoreUnavailable"),
}
"""The refusals every ``x-api-key`` operation may answer."""


def header(description: str, kind: str = "string", **extra: Any) -> Json:
    """A response header that is always sent."""
    return {"description": description, "required": True, "schema": {"type": kind, **extra}}


SHARED_RESPONSES: Json = {
    "Unauthenticated": error("`unauthenticated`: the `x-api-key` is missing or unknown"),
    "PayloadTooLarge": error("`payload_too_large`: the body exceeds the limit (256 KiB)"),
    "UnsupportedMediaType": error("`unsupported_media_type`: the content type is not JSON"),
    "Throttled": reply(
        "`rate_limited`, `quota_exceeded`, `hard_cap_reached` or `throttled`: the tenant's "
        "plan limit was hit",
        schema("ErrorResponse"),
        {"Retry-After": header("seconds to wait", "integer", minimum=1)},
    ),
    "StoreUnavailable": error(
        "`store_unavailable`, `secrets_unavailable` or `tenant_unavailable`: nothing was "
        "stored; retry (dedupe makes a retry safe)"
    ),
}

NO_ROUTE = "; `not_found` when the path names no route"


def operation(summary: str, security: list[Json], **rest: Any) -> Json:
    """What one operation says (its id, path, method and tag come from the route table)."""
    return {"summary": summary, "security": security, **rest}


def carrier_operations(params: Mapping[str, list[Json]]) -> Json:
    """The webhook and the OAuth token endpoint, by operation id; ``params`` by model name."""
    return {
        "receiveWebhook": operation(
            "A carrier's native webhook, verified with its own scheme (ADAPTERS.md)",
            PUBLIC,
            parameters=params["PartnerPath"],
            requestBody={
                "description": "the carrier's payload, verified over its raw bytes",
                "content": {"application/json": {"schema": {}}},
            },
            responses={
                "200": reply("stored, ignored, or stored in part", schema("WebhookResult")),
                "202": reply(
                    "authentic but unreadable: parked for replay", schema("WebhookParked")
                ),
                "400": error("`malformed_body`: the body is not text"),
                "401": error(f"authentication failed: {SIGNATURE_CODES}"),
                "404": error(
                    "`not_found` (no such route): an unknown tenant, one whose configuration is "
                    "invalid, or a carrier it does not have, answered alike before any check"
                ),
                "413": shared("PayloadTooLarge"),
                "415": shared("UnsupportedMediaType"),
                "429": shared("Throttled"),
                "503": shared("StoreUnavailable"),
            },
        ),
        "issueCarrierToken": operation(
            "OAuth2 client credentials: a bearer token for a carrier's webhook calls",
            [{"carrierClient": []}],
            parameters=params["TokenPath"],
            requestBody={
                "required": True,
                "content": {
                    "application/x-www-form-urlencoded": {"schema": schema("TokenRequest")}
                },
            },
            responses={
                "200": reply(
                    "a token valid for `expires_in` seconds",
                    schema("TokenResponse"),
                    {"Cache-Control": header("no-store", const="no-store")},
                ),
                "400": reply(
                    "RFC 6749 §5.2: `invalid_request` or `unsupported_grant_type`",
                    schema("TokenError"),
                ),
                "401": reply(
                    "RFC 6749 §5.2: `invalid_client`: client authentication failed",
                    schema("TokenError"),
                    {"WWW-Authenticate": header("the scheme to use: Basic")},
                ),
                "404": error(
                    "`oauth_not_enabled` for this tenant and carrier; `not_found` (no such "
                    "route) for an unknown or invalid tenant or a carrier it does not have"
                ),
                "413": shared("PayloadTooLarge"),
                "429": shared("Throttled"),
                "503": shared("StoreUnavailable"),
            },
        ),
    }


def ops_operations() -> Json:
    """Health and this document, by operation id."""
    return {
        "health": operation(
            "Liveness",
            PUBLIC,
            responses={"200": reply("alive", schema("Health"))},
        ),
        "openapi": operation(
            "This document",
            PUBLIC,
            responses={"200": reply("the OpenAPI document", {"type": "object"})},
        ),
    }
