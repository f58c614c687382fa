"""Pydantic models of the notification bodies: ``/v1/endpoints`` and the messages we send.

The OpenAPI document (:mod:`gateway.api.openapi`) takes its schemas from them, like the
other bodies' (:mod:`gateway.api.models`); the request body of ``POST /v1/endpoints`` is
:class:`gateway.notify.service.EndpointSpec` itself. :class:`StatusChangedMessage` and
:class:`EventAddedMessage` are what a tenant's endpoint receives (``webhooks`` in the
document); a test validates what :meth:`gateway.notify.messages.Message.body` produces
against their schemas, so the two cannot drift.

Example:
    >>> Recovered.model_validate({"queued": 2})
    Recovered(queued=2)
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.models import CanonicalEvent, Status

MessageType = Literal["shipment.status_changed", "shipment.event_added"]
MessageState = Literal["sending", "pending", "delivered", "failed", "paused", "dropped"]
MAX_GRACE_SECONDS = 7 * 24 * 3600
DEFAULT_GRACE_SECONDS = 24 * 3600


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- endpoints -------------------------------------------------------------------------


class NotificationEndpoint(_Body):
    """A tenant's endpoint: where its notifications go, which ones, and whether it is on."""

    id: str = Field(examples=["ep_mfrgg2lbnfxgc3tf"])
    url: str
    description: str
    types: list[MessageType] = Field(description="the message types it receives")
    statuses: list[Status] = Field(description="only shipments in these statuses (empty: all)")
    carriers: list[str] = Field(description="only these carriers' shipments (empty: all)")
    enabled: bool
    disabled_reason: str | None = Field(
        description="why it is off: `by request`, `gone` (it answered 410) or `failing` (5 "
        "days without a success); null while enabled"
    )
    created_at: datetime


class EndpointCreated(NotificationEndpoint):
    """A new endpoint, or one whose secret was rotated, with its signing secret."""

    secret: str = Field(
        pattern=r"^whsec_[A-Za-z0-9+/]+={0,2}$",
        description="the Standard Webhooks signing secret: shown in this answer only",
    )


class EndpointList(_Body):
    """``GET /v1/endpoints``: every endpoint of the tenant, oldest first."""

    endpoints: list[NotificationEndpoint]


class RotateSecretRequest(_Body):
    """``POST /v1/endpoints/{endpoint_id}/rotate-secret`` (the body may be omitted)."""

    grace_seconds: int = Field(
        default=DEFAULT_GRACE_SECONDS,
        ge=0,
        le=MAX_GRACE_SECONDS,
        strict=True,
        description="how long the previous secret keeps signing too (default a day, at most 7)",
    )


class RecoverRequest(_Body):
    """``POST /v1/endpoints/{endpoint_id}/recover``."""

    since: datetime = Field(
        description="an RFC 3339 instant, not in the future nor older than the tenant's "
        "retention: every failed message of an event received since then is sent again"
    )


class Recovered(_Body):
    """How many failed messages were queued for one more attempt."""

    queued: int = Field(ge=0)


# --- messages --------------------------------------------------------------------------


class MessageAttempt(_Body):
    """One attempt to deliver a message."""

    at: datetime
    status: int | None = Field(description="the endpoint's HTTP status; null when none came")
    latency_ms: int = Field(ge=0)
    error: str | None = Field(
        description="why it failed: `timeout`, `dns_failed`, `address_forbidden`, "
        "`connect_failed`, `tls_failed`, `bad_response`, `url_invalid`, `event_gone`, or null"
    )
    trigger: Literal["stream", "retry", "resend"] = Field(
        description="the first attempt, a scheduled retry, or a resend"
    )


class EndpointMessage(_Body):
    """One message for one endpoint, with its latest attempts (at most 12)."""

    id: str = Field(
        description="also its `webhook-id`", examples=["msg_01KDXFKR00VNE07P2FTDYW5BNT"]
    )
    type: MessageType
    tracking_number: str
    carrier: str
    status: Status | None = Field(description="the shipment's status the message carries")
    state: MessageState = Field(
        description="`sending` (first attempt under way), `pending` (a retry is due), "
        "`delivered`, `failed`, `paused` (its endpoint is disabled), `dropped`"
    )
    created_at: datetime = Field(description="when Waybill received the event")
    next_attempt_at: datetime | None
    attempts: list[MessageAttempt]


class MessagesPage(_Body):
    """``GET /v1/endpoints/{endpoint_id}/messages``: newest first."""

    messages: list[EndpointMessage]
    next_cursor: str | None = Field(description="null on the last page")


# --- what a tenant's endpoint receives ---------------------------------------------------


class NotificationData(_Body):
    """The shipment's current state and the canonical event that caused the message."""

    tracking_number: str
    carrier: str
    status: Status = Field(description="the shipment's status after this event")
    previous_status: Status | None = Field(
        description="the status this event moved the shipment from; null when it did not move it"
    )
    status_changed_at: datetime | None = Field(
        description="when the status last changed: discard a message older than one you have"
    )
    estimated_delivery: str | None
    event: CanonicalEvent


class StatusChangedMessage(_Body):
    """``shipment.status_changed``: the shipment's current status moved."""

    type: Literal["shipment.status_changed"]
    timestamp: datetime = Field(description="when Waybill received the event")
    data: NotificationData


class EventAddedMessage(_Body):
    """``shipment.event_added``: a new event joined the shipment's history."""

    type: Literal["shipment.event_added"]
    timestamp: datetime = Field(description="when Waybill received the event")
    data: NotificationData
