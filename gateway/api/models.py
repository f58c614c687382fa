"""Pydantic models of every request and response body of the HTTP surface.

They are the source of the OpenAPI document (:mod:`gateway.api.openapi`); the canonical event,
its summary, statuses and locations are :mod:`gateway.models`' own, and the submit body is
:mod:`gateway.carriers.canonical_format`'s. Response models forbid unknown fields, so a drift
between a handler and its documented shape fails schemathesis.

Example:
    >>> ErrorResponse.model_validate({"error": {"code": "throttled", "message": "slow down"}})
    ErrorResponse(error=ErrorDetail(code='throttled', message='slow down'))
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from gateway.carriers.canonical_format import CanonicalBatch, CanonicalItem
from gateway.ingest.answers import WebhookIgnored, WebhookPartlyParked, WebhookStored
from gateway.models import CanonicalEvent, EventSummary, Status


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ErrorDetail(_Body):
    """What failed: a stable code and a message that never carries secrets or bodies."""

    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$", examples=["shipment_not_found"])
    message: str


class ErrorResponse(_Body):
    """Every error answer: ``{"error": {"code", "message"}}``."""

    error: ErrorDetail


class Health(_Body):
    """``GET /healthz``."""

    status: Literal["ok"]


# --- the query API -------------------------------------------------------------------


class Freshness(_Body):
    """How current a carrier's state is: when Waybill last knew it, how, and what is next."""

    last_checked_at: datetime = Field(
        description="when the state was last known current: the latest push or submit "
        "received, or check of the carrier's API"
    )
    source: Literal["push", "poll", "submit"] = Field(
        description="how: the carrier's webhook, a check of its tracking API, or the "
        "tenant's canonical submit"
    )
    next_check_at: datetime | None = Field(
        description="the next check of the carrier's API while the shipment is tracked "
        "(`/v1/trackers`); null otherwise"
    )


class CarrierShipment(_Body):
    """The current state of a tracking number for one carrier."""

    carrier: str
    status: Status
    detail: str | None
    estimated_delivery: str | None
    last_event_at: datetime = Field(description="time of the latest event (the current state)")
    last_received_at: datetime = Field(description="when Waybill last received an event")
    event_count: int = Field(ge=1)
    last_event: EventSummary
    freshness: Freshness


class ShipmentResponse(_Body):
    """``GET /v1/shipments/{tracking_number}``: one entry per carrier."""

    tracking_number: str
    shipments: list[CarrierShipment] = Field(min_length=1)


class EventsPage(_Body):
    """``GET /v1/shipments/{tracking_number}/events``: history in event-time order."""

    tracking_number: str
    events: list[CanonicalEvent]
    next_cursor: str | None = Field(description="null on the last page")


class LocationPoint(_Body):
    """One point of the location trail; place parts and coordinates where known."""

    occurred_at: datetime
    carrier: str
    status: Status
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = Field(default=None, description="ISO 3166-1 alpha-2")
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)


class LocationsPage(_Body):
    """``GET /v1/shipments/{tracking_number}/locations``: the trail in event-time order."""

    tracking_number: str
    locations: list[LocationPoint]
    next_cursor: str | None = Field(description="null on the last page")


class ShipmentSummary(_Body):
    """One search hit: the shipment's current state for one carrier."""

    tracking_number: str
    carrier: str
    status: Status
    detail: str | None
    last_event_at: datetime
    status_changed_at: datetime


class SearchPage(_Body):
    """``GET /v1/shipments``: newest first."""

    shipments: list[ShipmentSummary]
    next_cursor: str | None = Field(description="null on the last page")


# --- POST /v1/events -------------------------------------------------------------------


class SubmitRequest(RootModel[CanonicalItem | CanonicalBatch]):
    """One canonical item, or a batch ``{"events": [...]}`` of 1..500 items."""


class ItemResult(_Body):
    """The outcome of one submitted item, by its position in the request."""

    index: int = Field(ge=0)
    status: Literal["accepted", "duplicate", "rejected"]
    event_id: str | None = Field(default=None, description="when accepted or duplicate")
    error: ErrorDetail | None = Field(default=None, description="when rejected")


class SubmitResult(_Body):
    """Per-item results in input order, and their totals."""

    results: list[ItemResult]
    accepted: int = Field(ge=0)
    duplicates: int = Field(ge=0)
    rejected: int = Field(ge=0)


class SubmitRejected(SubmitResult):
    """Every item was rejected (``no_valid_items``): the error and the per-item reasons."""

    error: ErrorDetail


class SubmitFailure(RootModel[SubmitRejected | ErrorResponse]):
    """A 400 of ``POST /v1/events``: every item rejected, or the body unusable as a whole."""


# --- the webhook and the OAuth token endpoint ------------------------------------------


class WebhookResult(RootModel[WebhookStored | WebhookIgnored | WebhookPartlyParked]):
    """A 200 of the webhook: stored, ignored, or stored in part with the delivery parked."""


class TokenRequest(_Body):
    """``application/x-www-form-urlencoded`` body of the token request (RFC 6749 §4.4)."""

    grant_type: Literal["client_credentials"]


class TokenError(_Body):
    """A refused token request, as RFC 6749 §5.2 shapes it (not Waybill's error envelope)."""

    error: Literal["invalid_request", "invalid_client", "unsupported_grant_type"]
    error_description: str


class TokenResponse(_Body):
    """A short-lived bearer token for the carrier's webhook calls."""

    access_token: str
    token_type: Literal["Bearer"]
    expires_in: int = Field(gt=0, description="seconds")
