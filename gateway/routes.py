"""The HTTP surface as one table, and the one rule by which a path matches a route.

:data:`ROUTES` is the only list of routes: the handler's resolver binds each operation
by its name (:mod:`gateway.api.app`), the local edge matches paths and answers 405
from it (:mod:`gateway.local.server`), the OpenAPI document takes its paths, methods
and operation ids from it (:mod:`gateway.api.openapi`), and the infra program builds
API Gateway's resources and methods from it (``infra/routes.py``). A new route is one
line here plus its operation.

A path is matched once percent-decoded (as API Gateway does), each parameter being one
whole, non-empty segment (no ``/``), with no trailing slash. The edge
(:func:`match_route`) and the resolver (:func:`route_pattern`) apply the same rule, so
a path reaches the same route with the same parameters in every layer:
``/webhooks/acme/easypost%2F`` is no route anywhere, and a parameter that decodes to
text with a ``#`` reaches the handler exactly as the edge matched it.

Example:
    >>> found = match_route("/v1/shipments/1Z999/events")
    >>> found.resource, found.path_parameters, found.methods
    ('/v1/shipments/{tracking_number}/events', {'tracking_number': '1Z999'}, ('GET',))
    >>> match_route("/webhooks/acme/easypost/") is None
    True
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

NO_ROUTE = "no such route"
"""The message of the 404 ``not_found`` for a path that names no route, answered alike by
the edge, the resolver, and ingest for an unknown or broken tenant or carrier."""

Auth = Literal["carrier", "key", "public"]
"""Who may call a route: a carrier with its own scheme (checked in ingest, or the OAuth
client credentials), a tenant with its ``x-api-key`` (checked at the edge), anyone."""


@dataclass(frozen=True)
class Endpoint:
    """One method of one path: ``path`` in API Gateway's ``{param}`` syntax."""

    method: Literal["GET", "POST", "PUT", "DELETE"]
    path: str
    operation: str  # the OpenAPI operationId, and the name the resolver binds
    tag: str
    auth: Auth

    @property
    def rule(self) -> str:
        """The path in Powertools' ``<param>`` syntax."""
        return re.sub(r"\{(\w+)\}", r"<\1>", self.path)

    @property
    def writes(self) -> bool:
        """True for a route that stores something (its refusals are audited)."""
        return self.method != "GET"


ROUTES: tuple[Endpoint, ...] = (
    Endpoint("POST", "/webhooks/{tenant}/{carrier}", "receiveWebhook", "carriers", "carrier"),
    Endpoint("POST", "/oauth/{tenant}/{carrier}/token", "issueCarrierToken", "carriers", "carrier"),
    Endpoint("POST", "/v1/events", "submitEvents", "tenant API", "key"),
    Endpoint("GET", "/v1/shipments", "searchShipments", "tenant API", "key"),
    Endpoint("GET", "/v1/shipments/{tracking_number}", "getShipment", "tenant API", "key"),
    Endpoint(
        "GET",
        "/v1/shipments/{tracking_number}/events",
        "listShipmentEvents",
        "tenant API",
        "key",
    ),
    Endpoint(
        "GET",
        "/v1/shipments/{tracking_number}/locations",
        "listShipmentLocations",
        "tenant API",
        "key",
    ),
    Endpoint("POST", "/v1/endpoints", "createEndpoint", "notifications", "key"),
    Endpoint("GET", "/v1/endpoints", "listEndpoints", "notifications", "key"),
    Endpoint("GET", "/v1/endpoints/{endpoint_id}", "getEndpoint", "notifications", "key"),
    Endpoint("DELETE", "/v1/endpoints/{endpoint_id}", "deleteEndpoint", "notifications", "key"),
    Endpoint(
        "POST",
        "/v1/endpoints/{endpoint_id}/rotate-secret",
        "rotateEndpointSecret",
        "notifications",
        "key",
    ),
    Endpoint(
        "POST", "/v1/endpoints/{endpoint_id}/disable", "disableEndpoint", "notifications", "key"
    ),
    Endpoint(
        "POST", "/v1/endpoints/{endpoint_id}/enable", "enableEndpoint", "notifications", "key"
    ),
    Endpoint(
        "GET",
        "/v1/endpoints/{endpoint_id}/messages",
        "listEndpointMessages",
        "notifications",
        "key",
    ),
    Endpoint(
        "POST",
        "/v1/endpoints/{endpoint_id}/messages/{message_id}/resend",
        "resendEndpointMessage",
        "notifications",
        "key",
    ),
    Endpoint(
        "POST",
        "/v1/endpoints/{endpoint_id}/recover",
        "recoverEndpointMessages",
        "notifications",
        "key",
    ),
    # The fixed paths come before /v1/trackers/{tracking_number}: a path is matched against
    # the resources in this order (match_route), as API Gateway prefers a literal segment.
    Endpoint("POST", "/v1/trackers", "createTracker", "trackers", "key"),
    Endpoint("GET", "/v1/trackers", "listTrackers", "trackers", "key"),
    Endpoint("GET", "/v1/trackers/usage", "getTrackerUsage", "trackers", "key"),
    Endpoint("POST", "/v1/trackers/refresh", "refreshTrackers", "trackers", "key"),
    Endpoint("GET", "/v1/trackers/{tracking_number}", "getTracker", "trackers", "key"),
    Endpoint("DELETE", "/v1/trackers/{tracking_number}", "deleteTracker", "trackers", "key"),
    Endpoint("POST", "/v1/trackers/{tracking_number}/refresh", "refreshTracker", "trackers", "key"),
    Endpoint("GET", "/healthz", "health", "ops", "public"),
    Endpoint("GET", "/openapi.json", "openapi", "ops", "public"),
)
RESOURCES: tuple[str, ...] = tuple(dict.fromkeys(route.path for route in ROUTES))
"""Every path, as API Gateway names it (``resource`` / ``resourcePath``)."""

_PARAMETER = re.compile(r"\{(\w+)\}|<(\w+)>")


def route_pattern(template: str) -> re.Pattern[str]:
    """The regular expression of a template, ``{name}`` (API Gateway) or ``<name>``
    (Powertools): each parameter one whole non-empty segment, the path matched exactly.

    >>> pattern = route_pattern("/v1/shipments/<tracking_number>")
    >>> pattern.match("/v1/shipments/A#B")["tracking_number"], pattern.match("/v1/shipments/A/")
    ('A#B', None)
    """
    pattern, end = "", 0
    for found in _PARAMETER.finditer(template):
        pattern += re.escape(template[end : found.start()])
        pattern += f"(?P<{found.group(1) or found.group(2)}>[^/]+)"
        end = found.end()
    return re.compile(f"^{pattern}{re.escape(template[end:])}$")


@dataclass(frozen=True)
class Route:
    """A matched path: its resource, its (decoded) parameters and the methods it has."""

    resource: str
    path_parameters: dict[str, str]
    methods: tuple[str, ...] = ()

    @property
    def needs_api_key(self) -> bool:
        """``/v1/*`` is authorised by ``x-api-key``; webhooks, health and docs are not."""
        return any(r.auth == "key" for r in ROUTES if r.path == self.resource)

    @property
    def named_tenant(self) -> str | None:
        """The tenant the path names (webhooks, OAuth): unauthenticated until verified."""
        return self.path_parameters.get("tenant")


_PATTERNS = [(path, route_pattern(path)) for path in RESOURCES]
_METHODS = {path: tuple(r.method for r in ROUTES if r.path == path) for path in RESOURCES}


def match_route(path: str) -> Route | None:
    """The route of a percent-decoded path, with its parameters; None when none matches."""
    for resource, pattern in _PATTERNS:
        found = pattern.match(path)
        if found:
            return Route(resource, found.groupdict(), _METHODS[resource])
    return None


def paths_with(auth: Auth) -> frozenset[str]:
    """The paths whose routes are called with ``auth``.

    >>> sorted(paths_with("carrier"))
    ['/oauth/{tenant}/{carrier}/token', '/webhooks/{tenant}/{carrier}']
    """
    return frozenset(route.path for route in ROUTES if route.auth == auth)
