"""Auditing refusals: errors answered by the handler, and throttling done by an edge.

``audit_error`` is called by the handler's error handler for every
:class:`~gateway.errors.GatewayError`; ``audited_admission`` wraps an edge's
``admit(tenant)`` (the local edge's throttle) so that its refusals are recorded too.
Both record a counted ``rejected``, ``throttled`` or ``failed`` outcome (never one
write per request) and never raise: the refusal must be answered whatever happens.

Example:
    >>> from datetime import UTC, datetime
    >>> from gateway.errors import NotFoundError
    >>> event = {"resource": "/webhooks/{tenant}/{carrier}",
    ...          "pathParameters": {"tenant": "acme", "carrier": "ups"}}
    >>> found = error_outcome(event, NotFoundError("x", code="unknown_route"), datetime.now(UTC))
    >>> found.outcome, found.code, found.carrier
    ('rejected', 'unknown_route', 'ups')
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from gateway.audit.outcomes import AuditEvent, Auditor
from gateway.errors import GatewayError, ThrottledError
from gateway.routes import ROUTES

log = logging.getLogger("waybill.audit")

AUDITED_RESOURCES = frozenset(route.path for route in ROUTES if route.writes)
"""The routes whose refusals are recorded: those that store something; reads are not."""
Admit = Callable[[str], float | None]


def error_outcome(
    raw_event: Mapping[str, Any], error: GatewayError, at: datetime
) -> AuditEvent | None:
    """The outcome of a refused delivery (webhook, token or submit); ``None`` for reads.

    The tenant is the path's (webhooks) or the authorizer's (``/v1/events``).
    """
    resource = str(raw_event.get("resource") or "")
    if resource not in AUDITED_RESOURCES:
        return None
    params = raw_event.get("pathParameters") or {}
    context = raw_event.get("requestContext") or {}
    tenant = params.get("tenant") or (context.get("authorizer") or {}).get("tenant")
    if not isinstance(tenant, str) or not tenant:
        return None
    outcome = "rejected"
    if error.status == 429:
        outcome = "throttled"
    elif error.status >= 500:
        outcome = "failed"
    carrier = "canonical" if resource == "/v1/events" else str(params.get("carrier") or "")
    return AuditEvent(tenant, outcome, at, code=error.code, carrier=carrier)


def audit_error(
    auditor: Auditor, raw_event: Mapping[str, Any], error: GatewayError, at: datetime
) -> None:
    """Record a refused request and flush; never raises (the error answer must go out)."""
    try:
        event = error_outcome(raw_event, error, at)
        if event is not None:
            auditor.record(event)
        auditor.flush()
    except Exception as exc:
        log.warning("audit of a refusal failed: %s", type(exc).__name__)


def audited_admission(admit: Admit, auditor: Auditor, clock: Callable[[], datetime]) -> Admit:
    """``admit`` whose refusals (a wait in seconds, or a ThrottledError) are audited."""

    def checked(tenant: str) -> float | None:
        try:
            wait = admit(tenant)
        except ThrottledError as error:
            _throttled(auditor, tenant, error.code, clock())
            raise
        if wait is not None:
            _throttled(auditor, tenant, ThrottledError.code, clock())
        return wait

    return checked


def _throttled(auditor: Auditor, tenant: str, code: str, at: datetime) -> None:
    try:
        auditor.record(AuditEvent(tenant, "throttled", at, code=code))
        auditor.flush()
    except Exception as exc:
        log.warning("audit of a throttled request failed: %s", type(exc).__name__)
