"""``/v1/endpoints``: a tenant's notification endpoints, their messages, resends, recovery.

Thin: each function reads and checks the request, calls
:class:`~gateway.notify.service.Notifications` for the authenticated tenant, and shapes
the answer. An id that is not one Waybill issues, or that belongs to another tenant, is
answered 404 ``not_found`` like an unknown one (endpoints and messages live under the
tenant's own keys, so another tenant's never even reach the store).

Refusals (400) with their stable codes: ``malformed_body`` (not a JSON object),
``unknown_field``, ``endpoint_url_invalid`` / ``endpoint_url_forbidden`` (the URL, by
:mod:`gateway.notify.addresses`), ``invalid_endpoint`` (types, statuses, carriers,
description), ``invalid_grace``, ``invalid_since``, ``invalid_status`` (the messages'
state filter), ``invalid_limit``, ``invalid_cursor``; 415 when a body is not JSON.

Example:
    >>> is_endpoint_id("ep_mfrgg2lbnfxgc3tf"), is_endpoint_id("ep_../x")
    (True, False)
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from gateway.api.cursors import CursorCodec
from gateway.api.notify_models import RotateSecretRequest
from gateway.api.params import DEFAULT_MESSAGES, MAX_MESSAGES
from gateway.api.queries import read_cursor, wrong_cursor
from gateway.errors import (
    BadRequestError,
    NotFoundError,
    UnsupportedMediaTypeError,
    describe_errors,
)
from gateway.notify.endpoints import ENDPOINT_ID
from gateway.notify.messages import MESSAGE_ID, STATES
from gateway.notify.service import EndpointSpec

if TYPE_CHECKING:
    from gateway.services import Services

Answer = tuple[int, dict[str, Any]]
Headers = Mapping[str, tuple[str, ...]]
M = TypeVar("M", bound=BaseModel)

_RFC3339 = re.compile(r"\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(\.\d{1,9})?([Zz]|[+-]\d\d:\d\d)")


def is_endpoint_id(value: str) -> bool:
    """True for an id of the form Waybill gives endpoints."""
    return ENDPOINT_ID.fullmatch(value) is not None


def is_message_id(value: str) -> bool:
    """True for an id of the form Waybill gives messages (``webhook-id``)."""
    return MESSAGE_ID.fullmatch(value) is not None


def endpoint_id(value: str) -> str:
    """``value`` when it can name an endpoint; 404 otherwise (as an unknown one)."""
    if not is_endpoint_id(value):
        raise NotFoundError("no such endpoint")
    return value


def message_id(value: str) -> str:
    """``value`` when it can name a message; 404 otherwise (as an unknown one)."""
    if not is_message_id(value):
        raise NotFoundError("no such message")
    return value


def json_object(headers: Headers, body: bytes, *, required: bool) -> dict[str, Any]:
    """The body as a JSON object; ``{}`` for an empty body unless ``required``."""
    if not body.strip():
        if required:
            raise BadRequestError("the body must be a JSON object", code="malformed_body")
        return {}
    types = {v.split(";")[0].strip().lower() for v in headers.get("content-type", ())}
    if types != {"application/json"}:
        raise UnsupportedMediaTypeError("expected application/json")
    try:
        value = json.loads(body.decode("utf-8"))
    except (ValueError, RecursionError):  # invalid JSON or UTF-8, too deep
        raise BadRequestError("the body is not valid UTF-8 JSON", code="malformed_body") from None
    if not isinstance(value, dict):
        raise BadRequestError("the body must be a JSON object", code="malformed_body")
    return value


def read_model(model: type[M], data: dict[str, Any], codes: Mapping[str, str], default: str) -> M:
    """``data`` as ``model``; 400 ``unknown_field``, or the code of the first bad field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        field = str(first["loc"][0]) if first["loc"] else ""
        if first["type"] == "extra_forbidden":
            known = ", ".join(model.model_fields)
            message = f"unknown field {field[:64]!r}; known: {known}"
            raise BadRequestError(message, code="unknown_field") from None
        raise BadRequestError(describe_errors(exc), code=codes.get(field, default)) from None


def _changed(services: Services) -> None:
    """Write the audit of an endpoint change now (the invocation may end next)."""
    services.pipeline.audit.flush()


def create(services: Services, tenant: str, headers: Headers, body: bytes) -> Answer:
    """``POST /v1/endpoints``: 201 the endpoint and its secret (shown here only)."""
    data = json_object(headers, body, required=True)
    spec = read_model(EndpointSpec, data, {"url": "endpoint_url_invalid"}, "invalid_endpoint")
    endpoint, secret = services.notifications.create_endpoint(tenant, spec)
    _changed(services)
    return 201, endpoint.public() | {"secret": secret}


def listing(services: Services, tenant: str) -> Answer:
    """``GET /v1/endpoints``: every endpoint, never a secret."""
    return 200, {"endpoints": [e.public() for e in services.notifications.endpoints(tenant)]}


def get(services: Services, tenant: str, endpoint: str) -> Answer:
    """``GET /v1/endpoints/{endpoint_id}``."""
    return 200, services.notifications.endpoint(tenant, endpoint_id(endpoint)).public()


def delete(services: Services, tenant: str, endpoint: str) -> int:
    """``DELETE /v1/endpoints/{endpoint_id}``: 204; its unsent messages are dropped."""
    services.notifications.delete_endpoint(tenant, endpoint_id(endpoint))
    _changed(services)
    return 204


def rotate(services: Services, tenant: str, endpoint: str, headers: Headers, body: bytes) -> Answer:
    """``POST …/rotate-secret``: a new secret; the old one signs too for the grace."""
    wanted = endpoint_id(endpoint)
    data = json_object(headers, body, required=False)
    grace = read_model(RotateSecretRequest, data, {}, "invalid_grace").grace_seconds
    rotated, secret = services.notifications.rotate_secret(tenant, wanted, grace)
    _changed(services)
    return 200, rotated.public() | {"secret": secret}


def set_enabled(services: Services, tenant: str, endpoint: str, enabled: bool) -> Answer:
    """``POST …/enable`` or ``…/disable``."""
    changed = services.notifications.set_enabled(tenant, endpoint_id(endpoint), enabled)
    _changed(services)
    return 200, changed.public()


def messages(services: Services, tenant: str, endpoint: str, params: Mapping[str, str]) -> Answer:
    """``GET …/messages``: newest first, ``status`` one state, ``limit``, ``cursor``."""
    wanted = endpoint_id(endpoint)
    state = params.get("status") or None
    if state is not None and state not in STATES:
        message = f"status must be one of: {', '.join(STATES)}"
        raise BadRequestError(message, code="invalid_status")
    raw = params.get("limit", str(DEFAULT_MESSAGES))
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_MESSAGES:
        raise BadRequestError(f"limit must be 1..{MAX_MESSAGES}", code="invalid_limit")
    limit = int(raw)
    cursor = read_cursor(services, tenant, params)
    asked = {"k": "messages", "e": wanted, "s": state}
    before = cursor.get("a")
    if cursor and (
        {k: cursor.get(k) for k in asked} != asked
        or not isinstance(before, str)
        or not is_message_id(before)
    ):
        raise wrong_cursor()
    page = services.notifications.messages(tenant, wanted, state=state, limit=limit, before=before)
    next_cursor = None
    if len(page) == limit:
        position = asked | {"a": page[-1].id}
        next_cursor = CursorCodec(services.cursor_key).encode(tenant, position)
    return 200, {"messages": [m.public() for m in page], "next_cursor": next_cursor}


def resend(services: Services, tenant: str, endpoint: str, message: str) -> Answer:
    """``POST …/messages/{message_id}/resend``: one attempt now; the message with it."""
    wanted = endpoint_id(endpoint)
    return 200, services.notifications.resend(tenant, wanted, message_id(message)).public()


def since_of(value: object, now: datetime, retention_days: int) -> datetime:
    """``since`` of a recover: an RFC 3339 instant within the retention, not in the future."""
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise BadRequestError(
            "since must be an RFC 3339 instant, e.g. 2025-06-01T12:00:00Z", code="invalid_since"
        )
    try:
        since = datetime.fromisoformat(value.upper())
    except ValueError:
        raise BadRequestError("since is not a valid instant", code="invalid_since") from None
    if since > now:
        raise BadRequestError("since is in the future", code="invalid_since")
    if since < now - timedelta(days=retention_days):
        message = f"since is older than the tenant's retention ({retention_days} days)"
        raise BadRequestError(message, code="invalid_since")
    return since


def recover(
    services: Services, tenant: str, endpoint: str, headers: Headers, body: bytes
) -> Answer:
    """``POST …/recover``: 202 how many failed messages since ``since`` were queued."""
    wanted = endpoint_id(endpoint)
    data = json_object(headers, body, required=True)
    unknown = sorted(set(data) - {"since"})
    if unknown:
        message = f"unknown field {unknown[0][:64]!r}; known: since"
        raise BadRequestError(message, code="unknown_field")
    config = services.pipeline.tenants(tenant)
    if config is None:
        raise NotFoundError("no such tenant")
    since = since_of(data.get("since"), services.clock(), config.retention_days)
    return 202, {"queued": services.notifications.recover(tenant, wanted, since)}
