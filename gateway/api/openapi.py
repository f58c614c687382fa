"""The OpenAPI 3.1 document of the HTTP surface, generated from the pydantic models.

One ``models_json_schema`` call gives every body its schema in a shared
``components/schemas`` section (references rewritten to ``#/components/schemas/…``);
parameter models become parameter lists; :mod:`gateway.api.openapi_paths` and
:mod:`gateway.api.openapi_tenant` say which route answers what. Served at ``GET /openapi.json``
and committed as ``docs/openapi.json`` (``waybill adapters docs`` writes it; a test fails
when it is stale).

Example:
    >>> doc = document()
    >>> doc["openapi"], sorted(doc["paths"])[:2]
    ('3.1.0', ['/healthz', '/oauth/{tenant}/{carrier}/token'])
"""

from __future__ import annotations

import functools
import json
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from gateway.api import models as bodies
from gateway.api import notify_models as notify
from gateway.api import params
from gateway.api import poll_models as poll
from gateway.api.openapi_notify import notification_operations, webhooks
from gateway.api.openapi_paths import SHARED_RESPONSES, Json, carrier_operations, ops_operations
from gateway.api.openapi_tenant import tenant_operations
from gateway.api.openapi_trackers import tracker_operations
from gateway.ingest.answers import WebhookParked
from gateway.notify.service import EndpointSpec
from gateway.routes import ROUTES

OPENAPI_PATH = "docs/openapi.json"
API_VERSION = "1.0.0"
REF_TEMPLATE = "#/components/schemas/{model}"

RESPONSES: tuple[type[BaseModel], ...] = (
    bodies.ErrorResponse,
    bodies.Health,
    bodies.ShipmentResponse,
    bodies.EventsPage,
    bodies.LocationsPage,
    bodies.SearchPage,
    bodies.SubmitResult,
    bodies.SubmitFailure,
    bodies.WebhookResult,
    WebhookParked,
    bodies.TokenResponse,
    bodies.TokenError,
    notify.NotificationEndpoint,
    notify.EndpointCreated,
    notify.EndpointList,
    notify.EndpointMessage,
    notify.MessagesPage,
    notify.Recovered,
    notify.StatusChangedMessage,
    notify.EventAddedMessage,
    poll.Tracker,
    poll.TrackerDetail,
    poll.TrackersPage,
    poll.Refreshed,
    poll.RefreshQueued,
    poll.RefreshesQueued,
    poll.PollUsage,
)
REQUESTS: tuple[type[BaseModel], ...] = (
    bodies.SubmitRequest,
    bodies.TokenRequest,
    EndpointSpec,
    notify.RotateSecretRequest,
    notify.RecoverRequest,
    poll.TrackerRequest,
    poll.RefreshRequest,
)
Where = Literal["path", "query", "header"]
PARAMETERS: dict[type[BaseModel], Where] = {
    params.PartnerPath: "path",
    params.TokenPath: "path",
    params.ShipmentPath: "path",
    params.ShipmentHeaders: "header",
    params.PageQuery: "query",
    params.SearchQuery: "query",
    params.EndpointPath: "path",
    params.MessagePath: "path",
    params.MessagesQuery: "query",
    params.TrackerPath: "path",
    params.TrackerQuery: "query",
    params.TrackersQuery: "query",
}
DESCRIPTION = (
    "Waybill verifies carrier webhooks, translates them into one canonical tracking event "
    "model, removes duplicates, polls the carriers' tracking APIs for the shipments a tenant "
    "tracks (`/v1/trackers`), serves each tenant its shipments and posts their changes, "
    "signed (Standard Webhooks), to the tenant's endpoints (`webhooks`). Errors are always "
    '`{"error": {"code": "...", "message": "..."}}` with a stable `code`. Generated from '
    "the code (gateway/api/models.py, gateway/api/openapi.py) by `waybill adapters docs`; do "
    "not edit by hand."
)


def parameters(schema: Json, where: Where) -> list[Json]:
    """One OpenAPI parameter per property of a parameter model's schema."""
    required = set(schema.get("required", ()))
    out = []
    for name, prop in schema["properties"].items():
        shown = {
            key: value
            for key, value in prop.items()
            if key not in ("title", "description") and not (key == "default" and value is None)
        }
        param: Json = {"name": name, "in": where, "required": where == "path" or name in required}
        if "description" in prop:
            param["description"] = prop["description"]
        out.append(param | {"schema": shown})
    return out


def _allows_null(node: Json) -> bool:
    kind = node.get("type")
    alternatives = [*node.get("anyOf", ()), *node.get("oneOf", ())]
    return (
        kind == "null"
        or (isinstance(kind, list) and "null" in kind)
        or any(_allows_null(alternative) for alternative in alternatives)
    )


def without_null_defaults(node: Any) -> Any:
    """``node`` less every ``"default": null`` on a schema that does not allow null.

    pydantic writes the default of ``X | SkipJsonSchema[None] = None`` although the schema
    says ``X``; OpenAPI validators (rightly) refuse a default the schema does not admit.
    """
    if isinstance(node, list):
        return [without_null_defaults(item) for item in node]
    if not isinstance(node, dict):
        return node
    drop = "default" in node and node["default"] is None and not _allows_null(node)
    return {k: without_null_defaults(v) for k, v in node.items() if not (drop and k == "default")}


def paths(operations: Json) -> Json:
    """The document's paths: each route of the table with what its operation says.

    >>> paths({r.operation: {} for r in ROUTES})["/healthz"]
    {'get': {'operationId': 'health', 'tags': ['ops']}}
    """
    if set(operations) != {route.operation for route in ROUTES}:
        missing = {route.operation for route in ROUTES} ^ set(operations)
        raise ValueError(f"operations and routes disagree: {sorted(missing)}")
    found: Json = {}
    for route in ROUTES:
        entry = {"operationId": route.operation, "tags": [route.tag], **operations[route.operation]}
        found.setdefault(route.path, {})[route.method.lower()] = entry
    return found


def security_schemes() -> Json:
    """The tenant's API key on ``/v1``; HTTP Basic client credentials on the token endpoint."""
    return {
        "apiKey": {
            "type": "apiKey",
            "in": "header",
            "name": "x-api-key",
            "description": "the tenant's API key (`waybill keys issue`)",
        },
        "carrierClient": {
            "type": "http",
            "scheme": "basic",
            "description": "the carrier's OAuth client id and secret (RFC 6749 §2.3.1)",
        },
    }


def document() -> dict[str, Any]:
    """The whole OpenAPI document, built anew (a fresh dict the caller may change)."""
    modes: list[tuple[type[BaseModel], JsonSchemaMode]] = [
        *((model, "serialization") for model in RESPONSES),
        *((model, "validation") for model in (*REQUESTS, *PARAMETERS)),
    ]
    _, definitions = models_json_schema(modes, ref_template=REF_TEMPLATE)
    schemas: Json = without_null_defaults(definitions["$defs"])
    lists = {
        model.__name__: parameters(schemas.pop(model.__name__), where)
        for model, where in PARAMETERS.items()
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Waybill", "version": API_VERSION, "description": DESCRIPTION},
        "tags": [
            {"name": "carriers", "description": "carrier deliveries, each in its own scheme"},
            {"name": "tenant API", "description": "the tenant's reads and canonical submits"},
            {
                "name": "notifications",
                "description": "the tenant's endpoints, and the signed messages they receive",
            },
            {
                "name": "trackers",
                "description": "shipments Waybill polls their carrier for, within a daily budget",
            },
            {"name": "ops", "description": "health and this document"},
        ],
        "paths": paths(
            carrier_operations(lists)
            | tenant_operations(lists)
            | notification_operations(lists)
            | tracker_operations(lists)
            | ops_operations()
        ),
        "webhooks": webhooks(),
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "responses": SHARED_RESPONSES,
            "securitySchemes": security_schemes(),
        },
    }


@functools.cache
def openapi_text() -> str:
    """The document as committed in ``docs/openapi.json`` and served at ``/openapi.json``
    (built once per process)."""
    return json.dumps(document(), indent=2, ensure_ascii=False) + "\n"
