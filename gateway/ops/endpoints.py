"""Endpoint changes ops make (``waybill endpoints enable|disable|recover`` and the console)."""

from __future__ import annotations

from datetime import datetime, timedelta

from gateway.errors import BadRequestError
from gateway.models import utc_text
from gateway.notify.endpoints import Endpoint
from gateway.notify.messages import Message
from gateway.notify.service import Notifications
from gateway.ops.audit import Auditing


def set_enabled(
    notifications: Notifications, audit: Auditing, tenant: str, endpoint_id: str, enabled: bool
) -> Endpoint:
    """Enable (the messages that waited are sent) or disable an endpoint; audited."""
    endpoint = notifications.set_enabled(tenant, endpoint_id, enabled)
    audit.record(f"endpoint.{'enable' if enabled else 'disable'}", tenant, endpoint.id)
    return endpoint


def check_since(since: datetime, now: datetime, retention_days: int) -> datetime:
    """``since`` if it lies within the tenant's retention and not in the future."""
    if since > now:
        raise BadRequestError("since is in the future")
    if since < now - timedelta(days=retention_days):
        raise BadRequestError(f"since is older than the tenant's retention ({retention_days} days)")
    return since


def recover(
    notifications: Notifications,
    audit: Auditing,
    tenant: str,
    endpoint_id: str,
    since: datetime,
) -> int:
    """Queue every message of the endpoint that failed at or after ``since``; audited."""
    queued = notifications.recover(tenant, endpoint_id, since)
    shown = utc_text(since, to_second=True)
    audit.record("endpoint.recover", tenant, endpoint_id, since=shown, queued=queued)
    return queued


def resend(
    notifications: Notifications, audit: Auditing, tenant: str, endpoint_id: str, message_id: str
) -> Message:
    """Send one message again now (an attempt of its own, trigger ``resend``); audited with
    what the endpoint answered."""
    message = notifications.resend(tenant, endpoint_id, message_id)
    last = message.attempts[-1] if message.attempts else None
    answered = (last.status or last.error) if last is not None else None
    audit.record("endpoint.resend", tenant, endpoint_id, message=message.id, answered=answered)
    return message
