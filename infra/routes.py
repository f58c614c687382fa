"""The REST API's surface: its routes, and the fingerprint that redeploys the stage.

:data:`ROUTES` is the gateway's own route table (:mod:`gateway.routes`, also read by the
handler's resolver, the local edge and the OpenAPI document) without the carriers'
routes, which the webhook edge serves (:mod:`infra.webhook_edge`): a write goes to the
ingest alias, a read to the query alias. A route is *public* (no authorizer, no API key)
when it names no tenant (``/healthz``, ``/openapi.json``): the others require the REQUEST
authorizer and an API key, which API Gateway takes from the authorizer's
``usageIdentifierKey`` (key source ``AUTHORIZER``) to apply the tenant's plan.

The ops console's routes (:data:`CONSOLE_ROUTES`) are not the tenant API's, so not in
:mod:`gateway.routes` nor the OpenAPI document: they go to the console alias with no API
key. ``ANY /console`` (a redirect), ``ANY /console/login`` and ``GET
/console/static/{file}`` have no authorizer; ``ANY /console/{proxy+}``, every page and
action, is behind the console's own REQUEST authorizer (the console function's
:func:`gateway.aws.console.authorize`, no cache), and the console checks the session
again (``docs/deploy.md``).

API Gateway's own answers and the WAF rule are in :mod:`infra.edge_guards`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict

import pulumi
import pulumi_aws as aws

from gateway.aws.console import GUARDED_ROUTE, OPEN_ROUTES
from gateway.routes import ROUTES as GATEWAY_ROUTES
from gateway.routes import Endpoint
from infra.edge_guards import GATEWAY_RESPONSES

ROUTES: tuple[Endpoint, ...] = tuple(r for r in GATEWAY_ROUTES if r.auth != "carrier")
"""The HTTP surface's one route table (``gateway/routes.py``) less the carriers' routes."""
CONSOLE = "console"
"""The alias of the console's routes."""
CONSOLE_ROUTES: tuple[tuple[str, str], ...] = (*OPEN_ROUTES, GUARDED_ROUTE)
"""(method, path) of the ops console's routes; only :data:`GUARDED_ROUTE` has an authorizer."""


def is_public(route: Endpoint) -> bool:
    """No authorizer and no API key: only where no tenant is named."""
    return route.auth == "public"


def function_of(route: Endpoint) -> str:
    """The alias serving the route: ``ingest`` for writes, ``query`` for reads."""
    return "ingest" if route.writes else "query"


def fingerprint() -> str:
    """Changes whenever the routes or the gateway responses change: the redeploy trigger."""
    data = {
        "routes": [asdict(r) for r in ROUTES],
        "console": [list(route) for route in CONSOLE_ROUTES],
        "responses": {k: asdict(v) for k, v in sorted(GATEWAY_RESPONSES.items())},
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def resource_name(path: str) -> str:
    """A Pulumi name for a path: ``/v1/shipments/{n}/events`` → ``v1-shipments-n-events``
    (``/console/{proxy+}`` → ``console-proxy``)."""
    name = path.strip("/").replace("/", "-")
    return name.replace("{", "").replace("}", "").replace("+", "") or "root"


def build_routes(
    name: str,
    rest_api: aws.apigateway.RestApi,
    authorizers: tuple[aws.apigateway.Authorizer, aws.apigateway.Authorizer],
    aliases: Mapping[str, aws.lambda_.Alias],
    parent: pulumi.Resource,
) -> list[pulumi.Resource]:
    """Resources, methods and AWS_PROXY integrations of :data:`ROUTES` and
    :data:`CONSOLE_ROUTES` (to ``aliases["console"]``); what a deployment needs.
    ``authorizers``: the tenant API's, and the console's."""
    authorizer, console_authorizer = authorizers
    child = pulumi.ResourceOptions(parent=parent)
    resources: dict[str, pulumi.Output[str]] = {"": rest_api.root_resource_id}
    built: list[pulumi.Resource] = []
    paths = [r.path for r in ROUTES] + [path for _, path in CONSOLE_ROUTES]
    for path in sorted({p for route_path in paths for p in _prefixes(route_path)}, key=len):
        head, _, part = path.rpartition("/")
        resource = aws.apigateway.Resource(
            f"{name}-{resource_name(path)}",
            rest_api=rest_api.id,
            parent_id=resources[head],
            path_part=part,
            opts=child,
        )
        resources[path] = resource.id
    for route in ROUTES:
        ident = f"{name}-{route.method.lower()}-{resource_name(route.path)}"
        method = aws.apigateway.Method(
            ident,
            rest_api=rest_api.id,
            resource_id=resources[route.path],
            http_method=route.method,
            authorization="NONE" if is_public(route) else "CUSTOM",
            authorizer_id=None if is_public(route) else authorizer.id,
            api_key_required=not is_public(route),
            opts=child,
        )
        integration = aws.apigateway.Integration(
            f"{ident}-integration",
            rest_api=rest_api.id,
            resource_id=resources[route.path],
            http_method=method.http_method,
            type="AWS_PROXY",
            integration_http_method="POST",
            uri=aliases[function_of(route)].invoke_arn,
            opts=child,
        )
        built += [method, integration]
    for verb, path in CONSOLE_ROUTES:
        ident = f"{name}-{verb.lower()}-{resource_name(path)}"
        guarded = (verb, path) == GUARDED_ROUTE
        method = aws.apigateway.Method(
            ident,
            rest_api=rest_api.id,
            resource_id=resources[path],
            http_method=verb,
            authorization="CUSTOM" if guarded else "NONE",  # and the console's own check
            authorizer_id=console_authorizer.id if guarded else None,
            api_key_required=False,
            opts=child,
        )
        integration = aws.apigateway.Integration(
            f"{ident}-integration",
            rest_api=rest_api.id,
            resource_id=resources[path],
            http_method=method.http_method,
            type="AWS_PROXY",
            integration_http_method="POST",
            uri=aliases[CONSOLE].invoke_arn,
            opts=child,
        )
        built += [method, integration]
    return built


def _prefixes(path: str) -> list[str]:
    """``/a/b/c`` → ``["/a", "/a/b", "/a/b/c"]``."""
    parts = path.strip("/").split("/")
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]
