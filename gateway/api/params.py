"""Pydantic models of the HTTP surface's path, query and header parameters.

:mod:`gateway.api.openapi` turns each field into one OpenAPI parameter (name, required,
schema with its limits, description); the handlers read the raw values themselves.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from gateway.api.notify_models import MessageState
from gateway.api.poll_models import TrackerState
from gateway.models import Status
from gateway.tenancy.tenants import CARRIER_ID_PATTERN, TENANT_ID_PATTERN

MAX_PAGE = 500
DEFAULT_PAGE = 100
MAX_MESSAGES = 100
DEFAULT_MESSAGES = 20
MAX_TRACKERS = 100
DEFAULT_TRACKERS = 50


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class PartnerPath(_Params):
    """Path of the webhook and the OAuth token endpoint."""

    tenant: str = Field(pattern=TENANT_ID_PATTERN, examples=["demo"], description="tenant id")
    carrier: str = Field(
        pattern=CARRIER_ID_PATTERN, examples=["easypost"], description="carrier (adapter) id"
    )


class TokenPath(PartnerPath):
    """Path of the OAuth token endpoint (for carriers that fetch a token, e.g. UPS)."""

    carrier: str = Field(
        pattern=CARRIER_ID_PATTERN, examples=["ups"], description="carrier (adapter) id"
    )


class ShipmentPath(_Params):
    """Path of the shipment reads."""

    tracking_number: str = Field(
        min_length=1,
        max_length=64,
        examples=["1Z999AA10123456784"],
        description="as the carrier prints it; whitespace is removed and letters upper-cased",
    )


class ShipmentHeaders(_Params):
    """Request headers of the shipment GET."""

    if_none_match: str | SkipJsonSchema[None] = Field(
        default=None,
        alias="If-None-Match",
        max_length=256,
        description="an `ETag` from an earlier answer: 304 while the shipment is unchanged",
    )


class PageQuery(_Params):
    """Query parameters of the paginated history and trail of one shipment."""

    carrier: str | SkipJsonSchema[None] = Field(
        default=None, max_length=64, description="only this carrier's entries"
    )
    limit: int = Field(default=DEFAULT_PAGE, ge=1, le=MAX_PAGE, description="page size")
    cursor: str | SkipJsonSchema[None] = Field(
        default=None,
        max_length=1024,
        description="`next_cursor` of the previous page (opaque, bound to the tenant)",
    )


class SearchQuery(_Params):
    """Query parameters of the shipment search (newest first)."""

    status: Status | SkipJsonSchema[None] = Field(default=None, description="current status")
    carrier: str | SkipJsonSchema[None] = Field(
        default=None, max_length=64, description="only this carrier's shipments"
    )
    updated_since: datetime | SkipJsonSchema[None] = Field(
        default=None, description="only shipments whose state changed at or after this instant"
    )
    limit: int = Field(default=DEFAULT_PAGE, ge=1, le=MAX_PAGE, description="page size")
    cursor: str | SkipJsonSchema[None] = Field(
        default=None,
        max_length=1024,
        description="`next_cursor` of the previous page (opaque, bound to the tenant)",
    )


class EndpointPath(_Params):
    """Path of one notification endpoint."""

    endpoint_id: str = Field(
        min_length=1, max_length=64, examples=["ep_mfrgg2lbnfxgc3tf"], description="endpoint id"
    )


class MessagePath(EndpointPath):
    """Path of one message of an endpoint."""

    message_id: str = Field(
        min_length=1,
        max_length=64,
        examples=["msg_01KDXFKR00VNE07P2FTDYW5BNT"],
        description="message id (its `webhook-id`)",
    )


class MessagesQuery(_Params):
    """Query parameters of an endpoint's messages (newest first)."""

    status: MessageState | SkipJsonSchema[None] = Field(
        default=None, description="only messages in this state"
    )
    limit: int = Field(default=DEFAULT_MESSAGES, ge=1, le=MAX_MESSAGES, description="page size")
    cursor: str | SkipJsonSchema[None] = Field(
        default=None,
        max_length=1024,
        description="`next_cursor` of the previous page (opaque, bound to the tenant)",
    )


class TrackerPath(_Params):
    """Path of one tracker."""

    tracking_number: str = Field(
        min_length=1,
        max_length=64,
        examples=["1Z999AA10123456784"],
        description="as the carrier prints it; whitespace is removed and letters upper-cased "
        "(`usage` and `refresh` in lower case name other routes: write such a number in "
        "upper case)",
    )


class TrackerQuery(_Params):
    """Query parameter of the routes of one tracker: a number is tracked per carrier."""

    carrier: str = Field(
        pattern=CARRIER_ID_PATTERN, examples=["ups"], description="the tracker's carrier"
    )


class TrackersQuery(_Params):
    """Query parameters of the tenant's trackers (by carrier, then tracking number)."""

    state: TrackerState = Field(default="active", description="only trackers in this state")
    carrier: str | SkipJsonSchema[None] = Field(
        default=None, pattern=CARRIER_ID_PATTERN, description="only this carrier's trackers"
    )
    limit: int = Field(default=DEFAULT_TRACKERS, ge=1, le=MAX_TRACKERS, description="page size")
    cursor: str | SkipJsonSchema[None] = Field(
        default=None,
        max_length=1024,
        description="`next_cursor` of the previous page (opaque, bound to the tenant)",
    )
