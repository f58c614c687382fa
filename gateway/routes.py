"""The HTTP surface's resources, and the one rule by which a path matches one.

A path is matched once percent-decoded (as API Gateway does), each parameter being one
whole, non-empty segment (no ``/``), with no trailing slash. The local edge
(:func:`match_route`) and the handler's resolver (:func:`route_pattern`) apply the same
rule, so a path reaches the same resource with the same parameters in every layer:
``/webhooks/acme/easypost%2F`` is no route anywhere, and a parameter that decodes to
text with a ``#`` reaches the handler exactly as the edge matched it.

Example:
    >>> route = match_route("/v1/shipments/1Z999/events")
    >>> route.resource, route.path_parameters
    ('/v1/shipments/{tracking_number}/events', {'tracking_number': '1Z999'})
    >>> match_route("/webhooks/acme/easypost/") is None
    True
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: The API's resources, as API Gateway names them (``resource`` / ``resourcePath``).
RESOURCES = (
    "/webhooks/{tenant}/{carrier}",
    "/oauth/{tenant}/{carrier}/token",
    "/v1/events",
    "/v1/shipments",
    "/v1/shipments/{tracking_number}",
    "/v1/shipments/{tracking_number}/events",
    "/v1/shipments/{tracking_number}/locations",
    "/healthz",
    "/openapi.json",
)
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
    """A matched resource: its template and its (decoded) path parameters."""

    resource: str
    path_parameters: dict[str, str]

    @property
    def needs_api_key(self) -> bool:
        """``/v1/*`` is authorised by ``x-api-key``; webhooks, health and docs are not."""
        return self.resource.startswith("/v1/")

    @property
    def named_tenant(self) -> str | None:
        """The tenant the path names (webhooks, OAuth): unauthenticated until verified."""
        return self.path_parameters.get("tenant")


_PATTERNS = [(template, route_pattern(template)) for template in RESOURCES]


def match_route(path: str) -> Route | None:
    """The resource of a percent-decoded path, with its parameters; None when none matches."""
    for template, pattern in _PATTERNS:
        found = pattern.match(path)
        if found:
            return Route(template, found.groupdict())
    return None
