"""``POST /v1/events``: canonical updates from a tenant's own systems (one or a batch).

Placeholder until the canonical adapter lands: answers 404 so nothing is half-served.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gateway.errors import NotFoundError

if TYPE_CHECKING:
    from gateway.services import Services


def submit(
    services: Services, tenant: str, headers: Mapping[str, tuple[str, ...]], body: bytes
) -> tuple[int, dict[str, Any]]:
    """Store each canonical item on its own; per-item results."""
    raise NotFoundError("canonical submit is not enabled", code="unknown_route")
