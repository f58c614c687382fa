"""``GET /v1/shipments``: a tenant's shipments by status, newest status change first.

Query parameters (all optional):

- ``status``: one canonical status; without it, every status is searched (12 times the
  index partitions read: see docs/queries.md);
- ``carrier``: only this carrier's shipments (400 ``unknown_carrier`` when it names none
  of the tenant's carriers);
- ``updated_since``: an ISO 8601 instant with an offset: only shipments whose status
  changed at or after it. "Changed" is when Waybill recorded the event that moved the
  shipment into its current status (``status_changed_at``), not the carrier's event
  time, so a poller that passes its last poll time (less a few seconds: the index is
  eventually consistent) sees every change, late events included;
- ``limit`` (1..500, default 100) and ``cursor`` (the previous page's ``next_cursor``,
  with the same other parameters).

A page may hold fewer than ``limit`` shipments and still have a ``next_cursor``; the
end is ``next_cursor: null``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from gateway.api.cursors import CursorCodec
from gateway.api.queries import known_carrier, page_limit, read_cursor, wrong_cursor
from gateway.errors import BadRequestError
from gateway.models import Status, instant_text, utc_text
from gateway.store.index import is_position
from gateway.store.search import SearchHit

if TYPE_CHECKING:
    from gateway.services import Services


def _status(params: Mapping[str, str]) -> Status | None:
    raw = params.get("status") or None
    if raw is None:
        return None
    try:
        return Status(raw)
    except ValueError:
        raise BadRequestError(
            f"status must be one of: {', '.join(s.value for s in Status)}", code="invalid_status"
        ) from None


def _since(params: Mapping[str, str]) -> datetime | None:
    raw = params.get("updated_since") or None
    if raw is None:
        return None
    invalid = BadRequestError(
        "updated_since must be an ISO 8601 instant with an offset, e.g. 2025-06-01T12:00:00Z",
        code="invalid_updated_since",
    )
    try:
        value = datetime.fromisoformat(raw)
        if value.tzinfo is None:
            raise invalid
        return value.astimezone(UTC)
    except (ValueError, OverflowError):
        raise invalid from None


def _hit_json(hit: SearchHit) -> dict[str, Any]:
    state = hit.state
    return {
        "tracking_number": state.tracking_number,
        "carrier": state.carrier,
        "status": state.status.value,
        "detail": state.detail,
        "last_event_at": utc_text(state.last_event_at),
        "status_changed_at": utc_text(hit.status_changed_at),
    }


def search(services: Services, tenant: str, params: Mapping[str, str]) -> dict[str, Any]:
    """A page of the tenant's shipments, newest status change first."""
    status = _status(params)
    since = _since(params)
    limit = page_limit(params)
    cursor = read_cursor(services, tenant, params)
    asked = {
        "k": "search",
        "s": status.value if status else None,
        "c": known_carrier(services, tenant, params),
        "u": instant_text(since) if since else None,
    }
    before = cursor.get("a")
    if cursor and (
        {k: cursor.get(k) for k in asked} != asked
        or not isinstance(before, str)
        or not is_position(before)
    ):
        raise wrong_cursor()
    hits, position = services.store.search(
        tenant,
        now=services.clock(),
        status=status,
        carrier=asked["c"],
        since=since,
        limit=limit,
        before=before,
    )
    next_cursor = None
    if position is not None:
        next_cursor = CursorCodec(services.cursor_key).encode(tenant, asked | {"a": position})
    return {"shipments": [_hit_json(h) for h in hits], "next_cursor": next_cursor}
