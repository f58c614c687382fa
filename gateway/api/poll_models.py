"""Pydantic models of the trackers' bodies: ``/v1/trackers`` and its refreshes and usage.

The OpenAPI document (:mod:`gateway.api.openapi`) takes its schemas from them, like the
other bodies' (:mod:`gateway.api.models`, :mod:`gateway.api.notify_models`). A tracker as
answered is :func:`gateway.poll.service.tracker_json`, a check
:meth:`gateway.poll.checks.Check.as_json`; ``tests/functional/test_trackers_api.py``
validates every answer against these models, so the two cannot drift.

Example:
    >>> TrackerRequest.model_validate({"tracking_number": "1Z999AA10123456784", "carrier": "ups"})
    TrackerRequest(tracking_number='1Z999AA10123456784', carrier='ups')
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from gateway.models import TRACKING_NUMBER_MAX_BYTES, Status
from gateway.poll.checks import RECENT
from gateway.poll.service import MAX_BATCH_REFRESH
from gateway.tenancy.tenants import CARRIER_ID_PATTERN

TrackerState = Literal["active", "failing", "retired"]
Source = Literal["push", "poll", "submit"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- requests --------------------------------------------------------------------------


class TrackerRequest(_Body):
    """``POST /v1/trackers``: what to track, and one entry of a batch refresh."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    tracking_number: str = Field(
        min_length=1,
        max_length=TRACKING_NUMBER_MAX_BYTES,
        examples=["1Z999AA10123456784"],
        description="as the carrier prints it; whitespace is removed and letters upper-cased",
    )
    carrier: str = Field(
        pattern=CARRIER_ID_PATTERN,
        examples=["ups"],
        description="a carrier the tenant polls (its tenant file's `[carriers.<id>.polling]`)",
    )


class RefreshRequest(_Body):
    """``POST /v1/trackers/refresh``: trackers to check first, at the next pass."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    trackers: list[TrackerRequest] = Field(
        min_length=1, max_length=MAX_BATCH_REFRESH, description="1 to 100 trackers"
    )


# --- answers ---------------------------------------------------------------------------


class Tracker(_Body):
    """A tracker: a shipment Waybill polls its carrier for, and how that goes."""

    tracking_number: str
    carrier: str
    state: TrackerState = Field(
        description="`active` (checked on schedule), `failing` (3 or more checks in a row "
        "failed; still checked, backing off) or `retired` (no longer checked: removed, "
        "delivered or otherwise ended, or idle too long; kept 30 days)"
    )
    status: Status = Field(description="the shipment's status as last known")
    created_at: datetime
    last_checked_at: datetime | None = Field(
        description="when the shipment was last known current: a check, or a push or submit "
        "that brought news; null before the first"
    )
    last_source: Source | None = Field(description="what made the last check")
    next_check_at: datetime | None = Field(
        description="the next scheduled check; null when retired"
    )
    consecutive_failures: int = Field(ge=0)
    last_error: str | None = Field(
        description="the code of the last failed check (`rate_limited`, `carrier_error`, "
        "`unauthorized`, `timeout`, `budget_spent`, `credentials_missing`…); null after a "
        "successful one"
    )
    checks: int = Field(ge=0, description="checks made by polling")
    retired_reason: str | None = Field(
        description="why it was retired: `removed`, `idle`, or the final status "
        "(`delivered`…); null while it is polled"
    )


class TrackerCheck(_Body):
    """One check of a tracker (the per-check log)."""

    carrier: str
    tracking_number: str
    checked_at: datetime
    duration_ms: float = Field(ge=0, description="how long the carrier took")
    http_status: int | None = Field(description="the carrier's HTTP status; null when none came")
    events_added: int = Field(ge=0, description="events new to Waybill")
    status_changed: bool
    error: str | None = Field(description="why the check failed; null when it did not")
    trigger: Literal["schedule", "refresh"] = Field(description="on schedule, or a manual refresh")


class TrackerDetail(Tracker):
    """``GET /v1/trackers/{tracking_number}``: the tracker and its latest checks."""

    recent_checks: list[TrackerCheck] = Field(
        max_length=RECENT, description=f"its last {RECENT} checks, newest first"
    )


class TrackersPage(_Body):
    """``GET /v1/trackers``: a page of the tenant's trackers in one state."""

    trackers: list[Tracker]
    next_cursor: str | None = Field(description="null on the last page")


class Refreshed(_Body):
    """A manual refresh that checked the carrier now."""

    events_added: int = Field(ge=0)
    status: Status = Field(description="the shipment's status after the check")
    checked_at: datetime
    error: str | SkipJsonSchema[None] = Field(
        default=None,
        description="present when the check failed: its code (the tracker's `last_error`)",
    )
    tracker: Tracker


class RefreshQueued(_Body):
    """A manual refresh that could not check now: the tracker is first in the next pass."""

    queued: Literal[True]
    tracker: Tracker


class RefreshesQueued(_Body):
    """``POST /v1/trackers/refresh``: the trackers queued first for the next pass."""

    queued: int = Field(ge=1, le=MAX_BATCH_REFRESH)
    trackers: list[Tracker]


class CarrierPollUsage(_Body):
    """One polled carrier of the tenant, today (UTC)."""

    carrier: str
    requests_today: int = Field(ge=0, description="requests made to the carrier's API today")
    daily_budget: int = Field(ge=0, description="requests allowed per UTC day")
    due: int = Field(ge=0, description="trackers due for a check now")
    overdue: int = Field(ge=0, description="trackers due for more than 5 minutes")
    failing: int = Field(ge=0, description="trackers in the `failing` state")


class PollUsage(_Body):
    """``GET /v1/trackers/usage``: the tenant's polling today, per polled carrier."""

    day: str = Field(
        pattern=r"^\d{4}-\d\d-\d\d$",
        description="the UTC day the budgets count (renew at 00:00 UTC)",
    )
    carriers: list[CarrierPollUsage]
