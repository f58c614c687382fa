"""``/v1/trackers``: the shipments a tenant has Waybill poll its carriers for.

Thin: each function reads and checks the request, calls
:class:`~gateway.poll.service.Trackers` for the authenticated tenant, and shapes the
answer (:func:`~gateway.poll.service.tracker_json`, :meth:`Check.as_json
<gateway.poll.checks.Check.as_json>`). Trackers live under the tenant's own keys, so
another tenant's are never even read: a tracking number the tenant does not track is
404 ``tracker_not_found``, whoever else may track it.

Refusals with their stable codes: 400 ``malformed_body`` (not a JSON object),
``unknown_field``, ``invalid_tracking_number``, ``invalid_carrier`` (missing or not a
carrier id), ``invalid_trackers`` (a batch of 0 or more than 100, or a bad entry),
``invalid_state``, ``invalid_limit``, ``invalid_cursor``, ``polling_not_configured``
(the tenant does not poll that carrier); 404 ``tracker_not_found``; 409
``tracker_retired`` (refresh: add it again first); 429 ``poll_budget_spent`` with
``Retry-After`` (today's budget for the carrier is spent: it renews at 00:00 UTC); 415
when a body is not JSON.

Example:
    >>> carrier_of({"carrier": "ups"}), carrier_filter({}), position_ok("ups#1Z999", "ups")
    ('ups', None, True)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from gateway.api.cursors import CursorCodec
from gateway.api.endpoints import Headers, json_object
from gateway.api.params import DEFAULT_TRACKERS, MAX_TRACKERS
from gateway.api.poll_models import RefreshRequest, TrackerRequest
from gateway.api.queries import known_carrier, read_cursor, tracking, wrong_cursor
from gateway.errors import BadRequestError, describe_errors
from gateway.models import utc_text
from gateway.poll.budget import utc_day
from gateway.poll.service import tracker_json
from gateway.poll.trackers import STATES
from gateway.tenancy.tenants import CARRIER_ID_PATTERN

if TYPE_CHECKING:
    from gateway.services import Services

Answer = tuple[int, dict[str, Any]]
M = TypeVar("M", bound=BaseModel)

_CARRIER = re.compile(CARRIER_ID_PATTERN)
_POSITION = re.compile(r"[a-z][a-z0-9_]{0,62}#[A-Z0-9._-]{1,64}")
CODES = {"tracking_number": "invalid_tracking_number", "carrier": "invalid_carrier"}


def carrier_of(params: Mapping[str, str]) -> str:
    """``carrier`` of the query, required: a carrier id; 400 ``invalid_carrier`` otherwise."""
    value = params.get("carrier", "")
    if not _CARRIER.fullmatch(value):
        raise BadRequestError(
            "carrier must be a carrier id, e.g. ?carrier=ups", code="invalid_carrier"
        )
    return value


def carrier_filter(params: Mapping[str, str]) -> str | None:
    """``carrier`` of the query when given (a carrier id); None when absent or empty."""
    return carrier_of(params) if params.get("carrier") else None


def position_ok(value: object, carrier: str | None) -> bool:
    """True for a page position as the store gives them (``{carrier}#{number}``)."""
    return (
        isinstance(value, str)
        and _POSITION.fullmatch(value) is not None
        and (carrier is None or value.startswith(f"{carrier}#"))
    )


def read_body(model: type[M], data: dict[str, Any], default: str) -> M:
    """``data`` as ``model``; 400 ``unknown_field`` (named by its path) when there is one,
    else the code of the first bad field (:data:`CODES`), else ``default``."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
        where = ".".join(str(part) for part in first["loc"])[:100]
        if first["type"] == "extra_forbidden":
            known = ", ".join(TrackerRequest.model_fields if "." in where else model.model_fields)
            message = f"unknown field {where!r}; known: {known}"
            raise BadRequestError(message, code="unknown_field") from None
        field = str(first["loc"][0]) if first["loc"] else ""
        raise BadRequestError(describe_errors(exc), code=CODES.get(field, default)) from None


def create(services: Services, tenant: str, headers: Headers, body: bytes) -> Answer:
    """``POST /v1/trackers``: 201 the new tracker; 200 the one already there."""
    data = json_object(headers, body, required=True)
    wanted = read_body(TrackerRequest, data, "malformed_body")
    number = tracking(wanted.tracking_number)
    tracker, created = services.trackers.add(tenant, number, wanted.carrier)
    return (201 if created else 200), tracker_json(tracker)


def listing(services: Services, tenant: str, params: Mapping[str, str]) -> Answer:
    """``GET /v1/trackers``: a page in one ``state`` (default active), by carrier then
    number; ``carrier``, ``limit`` (1..100, default 50), ``cursor``."""
    state = params.get("state") or "active"
    if state not in STATES:
        raise BadRequestError(f"state must be one of: {', '.join(STATES)}", code="invalid_state")
    carrier = carrier_filter(params)
    if carrier is not None:
        known_carrier(services, tenant, params)  # a typo is a 400, never an empty page
    raw = params.get("limit", str(DEFAULT_TRACKERS))
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_TRACKERS:
        raise BadRequestError(f"limit must be 1..{MAX_TRACKERS}", code="invalid_limit")
    cursor = read_cursor(services, tenant, params)
    asked = {"k": "trackers", "s": state, "c": carrier}
    after = cursor.get("a")
    if cursor and ({k: cursor.get(k) for k in asked} != asked or not position_ok(after, carrier)):
        raise wrong_cursor()
    page, position = services.trackers.page(tenant, state, carrier, int(raw), after)
    next_cursor = None
    if position is not None:
        next_cursor = CursorCodec(services.cursor_key).encode(tenant, asked | {"a": position})
    return 200, {"trackers": [tracker_json(t) for t in page], "next_cursor": next_cursor}


def get(services: Services, tenant: str, tracking_number: str, params: Mapping[str, str]) -> Answer:
    """``GET /v1/trackers/{tracking_number}?carrier=``: the tracker and its last 20 checks."""
    number, carrier = tracking(tracking_number), carrier_of(params)
    tracker = services.trackers.get(tenant, number, carrier)
    checks = services.trackers.recent_checks(tracker)
    return 200, tracker_json(tracker) | {"recent_checks": [c.as_json() for c in checks]}


def delete(
    services: Services, tenant: str, tracking_number: str, params: Mapping[str, str]
) -> Answer:
    """``DELETE /v1/trackers/{tracking_number}?carrier=``: 200 the retired tracker (its
    history, checks and shipment stay); again: the same answer."""
    number, carrier = tracking(tracking_number), carrier_of(params)
    return 200, tracker_json(services.trackers.remove(tenant, number, carrier))


def refresh(
    services: Services, tenant: str, tracking_number: str, params: Mapping[str, str]
) -> Answer:
    """``POST /v1/trackers/{tracking_number}/refresh?carrier=``: 200 the check made now;
    202 when the carrier cannot answer now (the tracker is first in the next pass)."""
    number, carrier = tracking(tracking_number), carrier_of(params)
    done = services.trackers.refresh(tenant, number, carrier)
    if done.check is None:
        return 202, {"queued": True, "tracker": tracker_json(done.tracker)}
    answer: dict[str, Any] = {
        "events_added": done.check.events_added,
        "status": done.tracker.status.value,
        "checked_at": utc_text(done.check.checked_at),
        "tracker": tracker_json(done.tracker),
    }
    if done.check.error:
        answer["error"] = done.check.error
    return 200, answer


def refresh_many(services: Services, tenant: str, headers: Headers, body: bytes) -> Answer:
    """``POST /v1/trackers/refresh``: 202, every tracker named first in the next pass (all
    or none: one unknown is 404, one retired 409)."""
    data = json_object(headers, body, required=True)
    batch = read_body(RefreshRequest, data, "invalid_trackers")
    wanted = dict.fromkeys((tracking(t.tracking_number), t.carrier) for t in batch.trackers)
    queued = services.trackers.refresh_many(tenant, list(wanted))
    return 202, {"queued": len(queued), "trackers": [tracker_json(t) for t in queued]}


def usage(services: Services, tenant: str) -> Answer:
    """``GET /v1/trackers/usage``: per polled carrier, today's requests and budget, and the
    trackers due, overdue and failing."""
    rows = services.trackers.usage(tenant)
    carriers = [
        {
            "carrier": row.carrier,
            "requests_today": row.requests_today,
            "daily_budget": row.daily_budget,
            "due": row.due,
            "overdue": row.overdue,
            "failing": row.failing,
        }
        for row in rows
    ]
    return 200, {"day": utc_day(services.clock()), "carriers": carriers}
