"""The Lambda handler: thin. Routes with Powertools, logs with the request id as the
correlation id, counts outcomes as EMF metrics (no per-tenant dimensions).

``make_handler(services)`` builds a handler from injected services (the local
server does this); ``lambda_handler`` builds them once from the environment.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from gateway.api import oauth, queries, search, submit
from gateway.api.http import (
    error_body,
    etag_of,
    not_modified,
    query_params,
    raw_body,
    request_headers,
)
from gateway.api.routes import route_pattern
from gateway.audit.refusals import audit_error
from gateway.carriers.adapter import Delivery
from gateway.errors import AuthenticationError, GatewayError, ThrottledError
from gateway.services import Services

# A request that counts nothing (e.g. /healthz) is normal, not worth a warning per call.
warnings.filterwarnings("ignore", "No application metrics to publish", UserWarning)

# The service is the metrics' dimension: ``waybill-{stack}`` on AWS (infra/functions.py).
SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "waybill")
logger = Logger(service=SERVICE)
metrics = Metrics(namespace="Waybill", service=SERVICE)

LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]

# Per tenant (``private``: never in a shared cache); 5 s absorbs a page's refresh bursts,
# and revalidation with the ETag answers 304 without the body once it is stale.
SHIPMENT_CACHE = "private, max-age=5"


def count(name: str, value: float = 1) -> None:
    """Add to an EMF counter; zero counts are not emitted."""
    if value:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response[str]:
    return Response(status, "application/json", json.dumps(body, default=str), headers)


class _Resolver(APIGatewayRestResolver):
    """Powertools' REST resolver, matching paths by :func:`gateway.api.routes.route_pattern`.

    Its own rule admits trailing slashes and only some characters in a parameter, so the
    edge and the handler would route different paths; with ours they route the same.
    """

    @staticmethod
    def _compile_regex(rule: str, base_regex: str = "") -> re.Pattern[str]:
        return route_pattern(rule)


def build_resolver(services: Services) -> APIGatewayRestResolver:
    """The routes of DESIGN.md's HTTP surface, bound to ``services``."""
    app = _Resolver()
    if services.limits is not None:  # the daily hard cap of /v1 requests (keyed tenants)
        app.use(middlewares=[services.limits.middleware])

    def tenant_of_request() -> str:
        authorizer = app.current_event.request_context.authorizer.raw_event or {}
        tenant = authorizer.get("tenant")
        if not isinstance(tenant, str) or not tenant:
            raise AuthenticationError("missing or unknown API key")
        return tenant

    @app.post("/webhooks/<tenant>/<carrier>")
    def webhook(tenant: str, carrier: str) -> Response[str]:
        event = app.current_event.raw_event
        delivery = Delivery(
            tenant=tenant,
            carrier=carrier,
            body=raw_body(event),
            headers=request_headers(event),
            query=query_params(event),
            received_at=services.clock(),
            method="POST",
            path=str(event.get("path", "")),
        )
        outcome = services.pipeline.ingest(delivery)
        return _json(outcome.status, outcome.body)

    @app.post("/oauth/<tenant>/<carrier>/token")
    def oauth_token(tenant: str, carrier: str) -> Response[str]:
        event = app.current_event.raw_event
        status, body = oauth.token_endpoint(
            services, tenant, carrier, request_headers(event), raw_body(event)
        )
        return _json(status, body, {"Cache-Control": "no-store"})

    @app.post("/v1/events")
    def submit_events() -> Response[str]:
        event = app.current_event.raw_event
        status, body = submit.submit(
            services, tenant_of_request(), request_headers(event), raw_body(event)
        )
        return _json(status, body)

    @app.get("/v1/shipments")
    def shipments_search() -> Response[str]:
        params = query_params(app.current_event.raw_event)
        return _json(200, search.search(services, tenant_of_request(), params))

    @app.get("/v1/shipments/<tracking_number>")
    def shipment(tracking_number: str) -> Response[str]:
        text = json.dumps(queries.shipment(services, tenant_of_request(), tracking_number))
        headers = {"ETag": etag_of(text), "Cache-Control": SHIPMENT_CACHE, "Vary": "x-api-key"}
        asked = request_headers(app.current_event.raw_event).get("if-none-match", ())
        if not_modified(asked, headers["ETag"]):
            return Response(304, None, None, headers)
        return Response(200, "application/json", text, headers)

    @app.get("/v1/shipments/<tracking_number>/events")
    def shipment_events(tracking_number: str) -> Response[str]:
        params = query_params(app.current_event.raw_event)
        body = queries.events(services, tenant_of_request(), tracking_number, params)
        return _json(200, body)

    @app.get("/v1/shipments/<tracking_number>/locations")
    def shipment_locations(tracking_number: str) -> Response[str]:
        params = query_params(app.current_event.raw_event)
        body = queries.locations(services, tenant_of_request(), tracking_number, params)
        return _json(200, body)

    @app.get("/healthz")
    def healthz() -> Response[str]:
        return _json(200, {"status": "ok"})

    @app.get("/openapi.json")
    def openapi_document() -> Response[str]:
        from gateway.api.openapi import openapi_text  # built on first use, not at cold start

        return Response(200, "application/json", openapi_text())

    @app.exception_handler(GatewayError)  # type: ignore[untyped-decorator]
    def gateway_error(error: GatewayError) -> Response[str]:
        headers = (
            {"Retry-After": str(error.retry_after)} if isinstance(error, ThrottledError) else {}
        )
        if challenge := getattr(error, "www_authenticate", None):
            headers["WWW-Authenticate"] = challenge  # RFC 6749 §5.2: a 401 names the scheme
        count(f"Rejected_{error.code}")
        audit_error(services.pipeline.audit, app.current_event.raw_event, error, services.clock())
        return Response(error.status, "application/json", error_body(error), headers)

    @app.not_found
    def not_found(_: Exception) -> Response[str]:
        return _json(404, {"error": {"code": "not_found", "message": "no such route"}})

    @app.exception_handler(Exception)  # type: ignore[untyped-decorator]
    def unexpected(error: Exception) -> Response[str]:
        logger.exception("unhandled error", extra={"error_type": type(error).__name__})
        return _json(500, {"error": {"code": "internal_error", "message": "internal error"}})

    return app


def make_handler(services: Services) -> LambdaHandler:
    """A Lambda handler serving ``services``."""
    app = build_resolver(services)

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
    @metrics.log_metrics
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return app.resolve(event, context)

    return handler


_handler: LambdaHandler | None = None


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The AWS entry point: services are built once per container from the environment."""
    global _handler
    if _handler is None:
        from gateway.services import services_from_environment

        _handler = make_handler(services_from_environment())
    return _handler(event, context)
