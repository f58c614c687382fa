"""The handler of the HTTP surface: thin. Binds each route of :data:`~gateway.routes.ROUTES`
to its operation, logs with the request id as the correlation id, counts outcomes as EMF
metrics (no per-tenant dimensions), and turns every refusal into its stable error body.

``make_handler(services)`` is the Lambda handler over injected services: the AWS entry
point (:mod:`gateway.aws.handler`) and the local edge (:mod:`gateway.local.wiring`) both
serve it.
"""

from __future__ import annotations

import importlib
import json
import math
import re
import threading
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths

from gateway.api import oauth, queries, search, submit
from gateway.api.http import (
    error_body,
    etag_of,
    not_modified,
    query_params,
    raw_body,
    request_headers,
)
from gateway.audit.refusals import audit_error
from gateway.carriers.adapter import Delivery
from gateway.errors import (
    AuthenticationError,
    BadRequestError,
    GatewayError,
    MethodNotAllowedError,
)
from gateway.observability import count, logger, metrics
from gateway.routes import NO_ROUTE, ROUTES, match_route, route_pattern
from gateway.services import Services

LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]
Operation = Callable[..., Response[str]]

# Per tenant (``private``: never in a shared cache); 5 s absorbs a page's refresh bursts,
# and revalidation with the ETag answers 304 without the body once it is stale.
SHIPMENT_CACHE = "private, max-age=5"
NO_STORE = {"Cache-Control": "no-store"}  # answers that carry an endpoint's secret


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response[str]:
    return Response(status, "application/json", json.dumps(body, default=str), headers)


class _Resolver(APIGatewayRestResolver):
    """Powertools' REST resolver, matching paths by :func:`gateway.routes.route_pattern`,
    with each request's state kept per thread.

    Its own rule admits trailing slashes and only some characters in a parameter, so the
    edge and the handler would route different paths; with ours they route the same.

    Powertools keeps the request being resolved on its class (``BaseRouter.current_event``
    and ``lambda_context``) and the route arguments in the resolver's ``context``: one
    Lambda container resolves one request at a time, but ``waybill serve`` runs the handler
    on several threads, where a route could read another request's event, so another
    tenant's. Here all three are the calling thread's own.
    """

    def __init__(self) -> None:
        self._requests = threading.local()
        super().__init__()

    def resolve(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        """Resolve ``event`` with this thread's own copy of the request's state."""
        self._requests.event = self._to_proxy_event(dict(event))
        self._requests.lambda_context = context
        self._requests.context = {}
        return super().resolve(event, context)

    @property
    def current_event(self) -> Any:
        """The request this thread is resolving."""
        return self._requests.event

    @current_event.setter
    def current_event(self, value: Any) -> None:
        self._requests.event = value

    @property
    def lambda_context(self) -> Any:
        """The Lambda context of the request this thread is resolving."""
        return self._requests.lambda_context

    @lambda_context.setter
    def lambda_context(self, value: Any) -> None:
        self._requests.lambda_context = value

    @property
    def context(self) -> dict[str, Any]:
        """This thread's request context (route arguments, appended keys)."""
        found: dict[str, Any] | None = getattr(self._requests, "context", None)
        if found is None:
            found = self._requests.context = {}
        return found

    @context.setter
    def context(self, value: dict[str, Any]) -> None:
        self._requests.context = value

    @staticmethod
    def _compile_regex(rule: str, base_regex: str = "") -> re.Pattern[str]:
        return route_pattern(rule)


def operations(app: APIGatewayRestResolver, services: Services) -> dict[str, Operation]:
    """Every operation of the surface by its name in :data:`~gateway.routes.ROUTES`."""

    def event() -> dict[str, Any]:
        return app.current_event.raw_event

    def tenant() -> str:
        authorizer = app.current_event.request_context.authorizer.raw_event or {}
        found = authorizer.get("tenant")
        if not isinstance(found, str) or not found:
            raise AuthenticationError("missing or unknown API key")
        return found

    def receive_webhook(tenant: str, carrier: str) -> Response[str]:
        delivery = Delivery(
            tenant=tenant,
            carrier=carrier,
            body=raw_body(event()),
            headers=request_headers(event()),
            query=query_params(event()),
            received_at=services.clock(),
            method="POST",
            path=str(event().get("path", "")),
        )
        outcome = services.pipeline.ingest(delivery)
        return _json(outcome.status, outcome.body.model_dump(mode="json", exclude_none=True))

    def issue_carrier_token(tenant: str, carrier: str) -> Response[str]:
        try:
            headers, body = request_headers(event()), raw_body(event())
        except BadRequestError as exc:  # a body that is not text: a malformed token request
            raise oauth.InvalidRequestError(exc.message) from None
        status, answer = oauth.token_endpoint(services, tenant, carrier, headers, body)
        return _json(status, answer, {"Cache-Control": "no-store"})

    def submit_events() -> Response[str]:
        headers, body = request_headers(event()), raw_body(event())
        return _json(*submit.submit(services, tenant(), headers, body))

    def search_shipments() -> Response[str]:
        return _json(200, search.search(services, tenant(), query_params(event())))

    def get_shipment(tracking_number: str) -> Response[str]:
        text = json.dumps(queries.shipment(services, tenant(), tracking_number))
        headers = {"ETag": etag_of(text), "Cache-Control": SHIPMENT_CACHE, "Vary": "x-api-key"}
        if not_modified(request_headers(event()).get("if-none-match", ()), headers["ETag"]):
            return Response(304, None, None, headers)
        return Response(200, "application/json", text, headers)

    def list_shipment_events(tracking_number: str) -> Response[str]:
        params = query_params(event())
        return _json(200, queries.events(services, tenant(), tracking_number, params))

    def list_shipment_locations(tracking_number: str) -> Response[str]:
        params = query_params(event())
        return _json(200, queries.locations(services, tenant(), tracking_number, params))

    def create_endpoint() -> Response[str]:
        headers, body = request_headers(event()), raw_body(event())
        status, answer = _endpoints().create(services, tenant(), headers, body)
        return _json(status, answer, dict(NO_STORE))

    def list_endpoints() -> Response[str]:
        return _json(*_endpoints().listing(services, tenant()))

    def get_endpoint(endpoint_id: str) -> Response[str]:
        return _json(*_endpoints().get(services, tenant(), endpoint_id))

    def delete_endpoint(endpoint_id: str) -> Response[str]:
        return Response(_endpoints().delete(services, tenant(), endpoint_id), None, None)

    def rotate_endpoint_secret(endpoint_id: str) -> Response[str]:
        headers, body = request_headers(event()), raw_body(event())
        status, answer = _endpoints().rotate(services, tenant(), endpoint_id, headers, body)
        return _json(status, answer, dict(NO_STORE))

    def disable_endpoint(endpoint_id: str) -> Response[str]:
        return _json(*_endpoints().set_enabled(services, tenant(), endpoint_id, False))

    def enable_endpoint(endpoint_id: str) -> Response[str]:
        return _json(*_endpoints().set_enabled(services, tenant(), endpoint_id, True))

    def list_endpoint_messages(endpoint_id: str) -> Response[str]:
        params = query_params(event())
        return _json(*_endpoints().messages(services, tenant(), endpoint_id, params))

    def resend_endpoint_message(endpoint_id: str, message_id: str) -> Response[str]:
        return _json(*_endpoints().resend(services, tenant(), endpoint_id, message_id))

    def recover_endpoint_messages(endpoint_id: str) -> Response[str]:
        headers, body = request_headers(event()), raw_body(event())
        return _json(*_endpoints().recover(services, tenant(), endpoint_id, headers, body))

    def create_tracker() -> Response[str]:
        headers, body = request_headers(event()), raw_body(event())
        return _json(*_trackers().create(services, tenant(), headers, body))

    def list_trackers() -> Response[str]:
        return _json(*_trackers().listing(services, tenant(), query_params(event())))

    def get_tracker_usage() -> Response[str]:
        return _json(*_trackers().usage(services, tenant()))

    def refresh_trackers() -> Response[str]:
        headers, body = request_headers(event()), raw_body(event())
        return _json(*_trackers().refresh_many(services, tenant(), headers, body))

    def get_tracker(tracking_number: str) -> Response[str]:
        params = query_params(event())
        return _json(*_trackers().get(services, tenant(), tracking_number, params))

    def delete_tracker(tracking_number: str) -> Response[str]:
        params = query_params(event())
        return _json(*_trackers().delete(services, tenant(), tracking_number, params))

    def refresh_tracker(tracking_number: str) -> Response[str]:
        params = query_params(event())
        return _json(*_trackers().refresh(services, tenant(), tracking_number, params))

    def health() -> Response[str]:
        return _json(200, {"status": "ok"})

    def openapi() -> Response[str]:
        from gateway.api.openapi import openapi_text  # built on first use, not at cold start

        return Response(200, "application/json", openapi_text())

    return {
        "receiveWebhook": receive_webhook,
        "issueCarrierToken": issue_carrier_token,
        "submitEvents": submit_events,
        "searchShipments": search_shipments,
        "getShipment": get_shipment,
        "listShipmentEvents": list_shipment_events,
        "listShipmentLocations": list_shipment_locations,
        "createEndpoint": create_endpoint,
        "listEndpoints": list_endpoints,
        "getEndpoint": get_endpoint,
        "deleteEndpoint": delete_endpoint,
        "rotateEndpointSecret": rotate_endpoint_secret,
        "disableEndpoint": disable_endpoint,
        "enableEndpoint": enable_endpoint,
        "listEndpointMessages": list_endpoint_messages,
        "resendEndpointMessage": resend_endpoint_message,
        "recoverEndpointMessages": recover_endpoint_messages,
        "createTracker": create_tracker,
        "listTrackers": list_trackers,
        "getTrackerUsage": get_tracker_usage,
        "refreshTrackers": refresh_trackers,
        "getTracker": get_tracker,
        "deleteTracker": delete_tracker,
        "refreshTracker": refresh_tracker,
        "health": health,
        "openapi": openapi,
    }


def build_resolver(services: Services) -> APIGatewayRestResolver:
    """The routes of :data:`~gateway.routes.ROUTES`, bound to ``services``."""
    app = _Resolver()
    if services.limits is not None:  # quota and hard cap of /v1 requests (keyed tenants)
        app.use(middlewares=[services.limits.middleware])
    bound = operations(app, services)
    for route in ROUTES:
        app.route(route.rule, route.method)(bound[route.operation])

    @app.exception_handler(GatewayError)  # type: ignore[untyped-decorator]
    def gateway_error(error: GatewayError) -> Response[str]:
        # Throttling, a spent poll budget: every refusal that knows when to come back says so.
        retry_after = getattr(error, "retry_after", None)
        headers = {}
        if isinstance(retry_after, int | float) and not isinstance(retry_after, bool):
            headers["Retry-After"] = str(max(0, math.ceil(retry_after)))  # whole seconds
        if challenge := getattr(error, "www_authenticate", None):
            headers["WWW-Authenticate"] = challenge  # RFC 6749 §5.2: a 401 names the scheme
        count(f"Rejected_{error.code}")
        audit_error(services.pipeline.audit, app.current_event.raw_event, error, services.clock())
        return Response(error.status, "application/json", error_body(error), headers)

    @app.not_found
    def not_found(_: Exception) -> Response[str]:
        # A real route asked with another method is 405 with Allow, as at the local edge
        # (and, like there, only once a keyed route's caller has a key: no map for strangers).
        route = match_route(str(app.current_event.path))
        if route is None:
            return _json(404, {"error": {"code": "not_found", "message": NO_ROUTE}})
        authorizer = app.current_event.request_context.authorizer.raw_event or {}
        if route.needs_api_key and not authorizer.get("tenant"):
            refused: GatewayError = AuthenticationError("missing or unknown API key")
            return _json(refused.status, refused.body())
        method = app.current_event.http_method
        refused = MethodNotAllowedError(f"{method} is not allowed here", allow=route.methods)
        return _json(refused.status, refused.body(), {"Allow": ", ".join(route.methods)})

    @app.exception_handler(Exception)  # type: ignore[untyped-decorator]
    def unexpected(error: Exception) -> Response[str]:
        # Answered, so Lambda's Errors stays 0: this count is what the unhandled-errors alarm
        # watches (one is a bug). ``make_handler``'s ``log_metrics`` flushes it.
        count("UnhandledError")
        logger.exception("unhandled error", extra={"error_type": type(error).__name__})
        return _json(500, {"error": {"code": "internal_error", "message": "internal error"}})

    return app


def _endpoints() -> ModuleType:
    """The notification endpoints' operations, imported when first called (like the
    OpenAPI document): a cold start that serves a webhook never builds their models."""
    return importlib.import_module("gateway.api.endpoints")


def _trackers() -> ModuleType:
    """The trackers' operations, imported when first called (see :func:`_endpoints`)."""
    return importlib.import_module("gateway.api.trackers")


def make_handler(services: Services) -> LambdaHandler:
    """A Lambda handler serving ``services``."""
    app = build_resolver(services)

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
    @metrics.log_metrics
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return app.resolve(event, context)

    return handler
