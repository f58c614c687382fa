"""OAuth2 client-credentials token endpoint for carriers that fetch a token from us (UPS v2).

Placeholder until the UPS adapter lands: answers 404 so nothing is half-served.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gateway.errors import NotFoundError

if TYPE_CHECKING:
    from gateway.services import Services


def token_endpoint(
    services: Services,
    tenant: str,
    carrier: str,
    headers: Mapping[str, tuple[str, ...]],
    body: bytes,
) -> tuple[int, dict[str, Any]]:
    """Issue a short-lived bearer token for (tenant, carrier) to an authenticated client."""
    raise NotFoundError("no token endpoint for this carrier", code="unknown_route")
