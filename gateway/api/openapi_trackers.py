"""Trackers in the OpenAPI document: the ``/v1/trackers`` operations (polling a carrier's
tracking API for the tenant's shipments, within a daily budget)."""

from __future__ import annotations

from collections.abc import Mapping

from gateway.api.openapi_paths import (
    API_KEY,
    KEYED_ERRORS,
    NO_ROUTE,
    Json,
    error,
    header,
    operation,
    reply,
    schema,
    shared,
)
from gateway.poll.checks import RECENT

WITH_BODY: Json = {"413": shared("PayloadTooLarge"), "415": shared("UnsupportedMediaType")}
BODY_CODES = "`malformed_body` (not a JSON object), `unknown_field`"
ONE_CODES = (
    "`invalid_tracking_number` (blank, longer than 64 characters, or characters a tracking "
    "number does not have); `invalid_carrier` (`carrier` missing or not a carrier id)"
)
UNKNOWN = error(
    "`tracker_not_found`: the tenant tracks no such number with that carrier (another "
    "tenant's trackers are never visible)" + NO_ROUTE
)
RETIRED = error("`tracker_retired`: the tracker is retired; add it again to poll it")
BUDGET = reply(
    "`poll_budget_spent`: today's poll budget for the carrier is spent (it renews at 00:00 "
    "UTC), or one of the tenant's plan limits (`rate_limited`, `quota_exceeded`, "
    "`hard_cap_reached`, `throttled`) was hit",
    schema("ErrorResponse"),
    {"Retry-After": header("seconds to wait", "integer", minimum=0)},
)
POLLING = (
    "`polling_not_configured` (the tenant does not poll that carrier: its tenant file needs "
    "`[carriers.<id>.polling]`)"
)


def _json_body(name: str) -> Json:
    return {"required": True, "content": {"application/json": {"schema": schema(name)}}}


def tracker_operations(params: Mapping[str, list[Json]]) -> Json:
    """``/v1/trackers…`` by operation id; ``params`` are parameter lists by model name."""
    one = params["TrackerPath"] + params["TrackerQuery"]
    return {
        "createTracker": operation(
            "Track a shipment: Waybill polls its carrier for it, on a schedule that follows "
            "its status, until it is delivered (or otherwise ends), idle, or removed",
            API_KEY,
            requestBody=_json_body("TrackerRequest"),
            responses={
                "200": reply("already tracked: the tracker", schema("Tracker")),
                "201": reply("tracked: the new tracker, due for a check now", schema("Tracker")),
                "400": error(f"{BODY_CODES}; {ONE_CODES}; {POLLING}"),
                **WITH_BODY,
                **KEYED_ERRORS,
            },
        ),
        "listTrackers": operation(
            "The tenant's trackers in one state, by carrier then tracking number, paginated",
            API_KEY,
            parameters=params["TrackersQuery"],
            responses={
                "200": reply("a page of trackers", schema("TrackersPage")),
                "400": error(
                    "`invalid_state` (not active, failing or retired); `invalid_carrier`; "
                    "`unknown_carrier` (none of the tenant's carriers); "
                    "`invalid_limit` (not 1..100); `invalid_cursor` (not ours, or issued to "
                    "another tenant or request)"
                ),
                **KEYED_ERRORS,
            },
        ),
        "getTrackerUsage": operation(
            "Today's polling of the tenant, per polled carrier: requests made and the daily "
            "budget, trackers due, overdue and failing",
            API_KEY,
            responses={"200": reply("the usage", schema("PollUsage")), **KEYED_ERRORS},
        ),
        "refreshTrackers": operation(
            "Check trackers first: each is due now, ahead of everything else due, at the "
            "next pass (within a minute); all or none",
            API_KEY,
            requestBody=_json_body("RefreshRequest"),
            responses={
                "202": reply("queued", schema("RefreshesQueued")),
                "400": error(
                    f"{BODY_CODES}; `invalid_trackers` (not 1..100 trackers, or an entry "
                    "without a tracking number and a carrier id); `invalid_tracking_number`"
                ),
                "404": error("`tracker_not_found`: one of them is not tracked; none was queued"),
                "409": error("`tracker_retired`: one of them is retired; none was queued"),
                **WITH_BODY,
                **KEYED_ERRORS,
            },
        ),
        "getTracker": operation(
            "One tracker: its state, the shipment's status, its last and next check, "
            f"consecutive failures, last error, and its last {RECENT} checks",
            API_KEY,
            parameters=one,
            responses={
                "200": reply("the tracker", schema("TrackerDetail")),
                "400": error(ONE_CODES),
                "404": UNKNOWN,
                **KEYED_ERRORS,
            },
        ),
        "deleteTracker": operation(
            "Stop polling a shipment; its history, its checks and the tracker (retired, for "
            "30 days) stay. Removing a retired tracker answers it again",
            API_KEY,
            parameters=one,
            responses={
                "200": reply("the tracker, retired (`retired_reason`: removed)", schema("Tracker")),
                "400": error(ONE_CODES),
                "404": UNKNOWN,
                **KEYED_ERRORS,
            },
        ),
        "refreshTracker": operation(
            "Check a tracker now, within the daily budget (a check counts against it)",
            API_KEY,
            parameters=one,
            responses={
                "200": reply(
                    "checked now: what the check found (`error` when it failed)",
                    schema("Refreshed"),
                ),
                "202": reply(
                    "the carrier cannot answer now (it rate-limits, fails with a 5xx, times "
                    "out or cannot be reached, or another check of the tracker is under way): "
                    "the tracker is first in the next pass",
                    schema("RefreshQueued"),
                ),
                "400": error(f"{ONE_CODES}; {POLLING}"),
                "404": UNKNOWN,
                "409": RETIRED,
                **KEYED_ERRORS,
                "429": BUDGET,  # the plan's limits, and the carrier's poll budget
            },
        ),
    }
