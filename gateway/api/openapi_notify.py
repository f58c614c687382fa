"""Notifications in the OpenAPI document: the ``/v1/endpoints`` operations, and the
``webhooks`` a tenant's endpoint receives (OpenAPI 3.1), with how to verify them."""

from __future__ import annotations

from collections.abc import Mapping

from gateway.api.openapi_paths import (
    API_KEY,
    KEYED_ERRORS,
    NO_ROUTE,
    Json,
    error,
    header,
    operation,
    reply,
    schema,
    shared,
)

WITH_BODY: Json = {"413": shared("PayloadTooLarge"), "415": shared("UnsupportedMediaType")}
NO_STORE = {"Cache-Control": header("no-store: the answer holds a secret", const="no-store")}
UNKNOWN = error("`not_found`: no such endpoint for this tenant" + NO_ROUTE)
CHANGED = error("`endpoint_changed`: the endpoint changed meanwhile; read it and try again")
BODY_CODES = "`malformed_body` (not a JSON object), `unknown_field`"
VERIFY = (
    "Verify before you parse, over the raw body bytes. The signed content is "
    "`{webhook-id}.{webhook-timestamp}.{body}`; `webhook-signature` holds one "
    "`v1,{base64 HMAC-SHA256}` per secret that signs now (two during a rotation's grace), "
    "keyed with the base64-decoded part of the endpoint's `whsec_` secret. Accept the "
    "message when any one matches (compare in constant time) and `webhook-timestamp` is "
    "within 5 minutes of your clock: any Standard Webhooks library does this (e.g. "
    "`standardwebhooks`: `Webhook(secret).verify(body, headers)`). `webhook-id` is the same "
    "on every retry of one message: deduplicate on it. A message may arrive after a newer "
    "one: compare `data.status_changed_at` (as an instant, not as text) with what you hold. "
    "Answer 2xx within 15 s; anything else is retried (immediately, then after 5 s, 5 min, "
    "30 min, 2 h, 5 h, 10 h and 10 h; `Retry-After` is honoured), and 410 disables the endpoint."
)


def _json_body(name: str, required: bool = True) -> Json:
    return {"required": required, "content": {"application/json": {"schema": schema(name)}}}


def notification_operations(params: Mapping[str, list[Json]]) -> Json:
    """``/v1/endpoints…`` by operation id; ``params`` are parameter lists by model name."""
    one = params["EndpointPath"]
    return {
        "createEndpoint": operation(
            "Register an endpoint: Waybill posts the tenant's shipment changes to it, signed",
            API_KEY,
            requestBody=_json_body("EndpointSpec"),
            responses={
                "201": reply(
                    "the endpoint, with its signing secret (shown this once)",
                    schema("EndpointCreated"),
                    NO_STORE,
                ),
                "400": error(
                    f"{BODY_CODES}; `endpoint_url_invalid` (not an http(s) URL Waybill can "
                    "use); `endpoint_url_forbidden` (http, or an address no endpoint may "
                    "have, where the stack allows https and public addresses only); "
                    "`invalid_endpoint` (types, statuses, carriers or description)"
                ),
                "409": error("`endpoint_limit`: the tenant has 20 endpoints already"),
                **WITH_BODY,
                **KEYED_ERRORS,
            },
        ),
        "listEndpoints": operation(
            "The tenant's endpoints, oldest first (never their secrets)",
            API_KEY,
            responses={"200": reply("every endpoint", schema("EndpointList")), **KEYED_ERRORS},
        ),
        "getEndpoint": operation(
            "One endpoint (never its secret)",
            API_KEY,
            parameters=one,
            responses={
                "200": reply("the endpoint", schema("NotificationEndpoint")),
                "404": UNKNOWN,
                **KEYED_ERRORS,
            },
        ),
        "deleteEndpoint": operation(
            "Remove an endpoint; its unsent messages are dropped",
            API_KEY,
            parameters=one,
            responses={"204": reply("removed"), "404": UNKNOWN, **KEYED_ERRORS},
        ),
        "rotateEndpointSecret": operation(
            "A new signing secret; the previous one keeps signing too until the grace ends",
            API_KEY,
            parameters=one,
            requestBody=_json_body("RotateSecretRequest", required=False),
            responses={
                "200": reply(
                    "the endpoint, with its new secret (shown this once)",
                    schema("EndpointCreated"),
                    NO_STORE,
                ),
                "400": error(f"{BODY_CODES}; `invalid_grace` (not an integer 0..604800)"),
                "404": UNKNOWN,
                "409": CHANGED,
                **WITH_BODY,
                **KEYED_ERRORS,
            },
        ),
        "disableEndpoint": operation(
            "Pause an endpoint: its messages wait (as `paused`) until it is enabled",
            API_KEY,
            parameters=one,
            responses={
                "200": reply("the endpoint, disabled", schema("NotificationEndpoint")),
                "404": UNKNOWN,
                "409": CHANGED,
                **KEYED_ERRORS,
            },
        ),
        "enableEndpoint": operation(
            "Enable an endpoint: the messages that waited are sent",
            API_KEY,
            parameters=one,
            responses={
                "200": reply("the endpoint, enabled", schema("NotificationEndpoint")),
                "404": UNKNOWN,
                "409": CHANGED,
                **KEYED_ERRORS,
            },
        ),
        "listEndpointMessages": operation(
            "An endpoint's messages with their attempts, newest first, paginated",
            API_KEY,
            parameters=one + params["MessagesQuery"],
            responses={
                "200": reply("a page of messages", schema("MessagesPage")),
                "400": error(
                    "`invalid_status` (not a message state); `invalid_limit` (not 1..100); "
                    "`invalid_cursor` (not ours, or issued to another tenant or request)"
                ),
                "404": UNKNOWN,
                **KEYED_ERRORS,
            },
        ),
        "resendEndpointMessage": operation(
            "Send one message again now (a new attempt with the same `webhook-id`)",
            API_KEY,
            parameters=params["MessagePath"],
            responses={
                "200": reply("the message, with this attempt", schema("EndpointMessage")),
                "404": error("`not_found`: no such endpoint or message" + NO_ROUTE),
                "409": error("`message_changed`: another sender has the message; try again"),
                **KEYED_ERRORS,
            },
        ),
        "recoverEndpointMessages": operation(
            "Queue every failed message of events received since a time for another attempt",
            API_KEY,
            parameters=one,
            requestBody=_json_body("RecoverRequest"),
            responses={
                "202": reply("queued: they are sent within seconds", schema("Recovered")),
                "400": error(
                    f"{BODY_CODES}; `invalid_since` (not an RFC 3339 instant, in the future, "
                    "or older than the tenant's retention)"
                ),
                "404": UNKNOWN,
                **WITH_BODY,
                **KEYED_ERRORS,
            },
        ),
    }


def _signed_header(name: str, description: str, **rules: str) -> Json:
    return {
        "name": name,
        "in": "header",
        "required": True,
        "description": description,
        "schema": {"type": "string", **rules},
    }


SIGNATURE_HEADERS: list[Json] = [
    _signed_header(
        "webhook-id",
        "the message id: the same on every attempt of one message (deduplicate on it)",
        pattern="^msg_[0-9A-Z]{26}$",
    ),
    _signed_header("webhook-timestamp", "this attempt's Unix time, in seconds", pattern="^[0-9]+$"),
    _signed_header(
        "webhook-signature",
        "space-separated `v1,{base64}` signatures, one per secret that signs now",
        pattern="^v1,[A-Za-z0-9+/=]+( v1,[A-Za-z0-9+/=]+)*$",
    ),
]


def _webhook(name: str, summary: str, body: str) -> Json:
    return {
        "post": {
            "operationId": name,
            "tags": ["notifications"],
            "summary": summary,
            "description": VERIFY,
            "parameters": SIGNATURE_HEADERS,
            "requestBody": _json_body(body),
            "responses": {
                "2XX": {"description": "received"},
                "410": {"description": "gone: Waybill disables the endpoint"},
                "default": {"description": "not received: the message is retried"},
            },
        }
    }


def webhooks() -> Json:
    """What Waybill posts to a tenant's endpoints, by message type."""
    return {
        "shipment.status_changed": _webhook(
            "shipmentStatusChanged",
            "A shipment's current status moved",
            "StatusChangedMessage",
        ),
        "shipment.event_added": _webhook(
            "shipmentEventAdded", "A new event joined a shipment's history", "EventAddedMessage"
        ),
    }
