"""Bodies with a shipment-level status but no scan: the branches the fixtures do not show.

The fixtures (``*_no_checkpoint_*``, ``*_latest_status_only_*``, ``*_no_events_*``…) cover
the main cases through the shared suite; here, variations of them: which time is used,
what a batch does when some items say nothing, and the exact reasons given.
"""

from __future__ import annotations

import json
from typing import Any

from adapters import aftership, easypost, fedex, seventeentrack, ship24
from gateway.carriers.adapter import Adapter, ParseResult
from gateway.models import Status, TzSource
from gateway.testkit.fixtures import FIXTURES
from tests.adapters.conftest import build_delivery


def body_of(carrier: str, name: str) -> dict[str, Any]:
    return dict(json.loads((FIXTURES / carrier / f"{name}.json").read_bytes()))


def parse(adapter: Adapter, body: dict[str, Any]) -> ParseResult:
    return adapter.parse(build_delivery(adapter.id, json.dumps(body).encode(), {}))


def test_aftership_delivered_without_delivery_date_is_timed_by_updated_at() -> None:
    body = body_of("aftership", "tracking_update_delivered_no_checkpoint_built")
    del body["msg"]["shipment_delivery_date"]
    [event] = parse(aftership.ADAPTER, body).events
    assert (event.status, event.tz_source) == (Status.DELIVERED, TzSource.CARRIER_UTC)
    assert event.occurred_at.isoformat() == "2024-03-08T13:20:11+00:00"
    assert event.metadata["time_field"] == "updated_at" and event.signed_by == "A. MEYER"


def test_aftership_a_pending_tracking_is_a_pending_event_at_updated_at() -> None:
    body = body_of("aftership", "tracking_update_no_status_built")
    body["msg"].update(tag="Pending", subtag="Pending_001", subtag_message="Pending")
    [event] = parse(aftership.ADAPTER, body).events
    assert (event.status, event.carrier_code, event.signed_by) == (
        Status.PENDING,
        "Pending_001",
        None,
    )
    assert event.metadata["event_kind"] == "shipment_status"


def test_easypost_a_known_status_without_updated_at_is_ignored_with_the_reason() -> None:
    body = body_of("easypost", "event_tracker_updated_delivered_no_details_built")
    del body["result"]["updated_at"]
    result = parse(easypost.ADAPTER, body)
    assert not result.events
    assert result.ignored == "tracker has a status but no tracking detail and no time"


def _fedex_result(name: str) -> dict[str, Any]:
    return dict(body_of("fedex", name)["output"]["completeTrackResults"][0])


def test_fedex_a_silent_item_beside_scans_leaves_the_scans_alone() -> None:
    body = body_of("fedex", "track_multi_shipment_built")
    body["output"]["completeTrackResults"].append(_fedex_result("track_no_scans_no_time_built"))
    result = parse(fedex.ADAPTER, body)
    assert len(result.events) == 8 and result.ignored is None and result.failures == []


def test_fedex_reasons_name_each_item_and_count_the_rest() -> None:
    silent = _fedex_result("track_no_scans_no_time_built")
    bare = json.loads(json.dumps(silent))
    del bare["trackResults"][0]["latestStatusDetail"]
    body = {"output": {"completeTrackResults": [bare, silent]}}
    result = parse(fedex.ADAPTER, body)
    assert result.ignored_items == [
        "completeTrackResults[0].trackResults[0] has no scan event and no status",
        "completeTrackResults[1].trackResults[0] has a status but no scan event and no time for it",
    ]
    empty = parse(fedex.ADAPTER, {"output": {"completeTrackResults": []}})
    assert (empty.events, empty.ignored, empty.ignored_items) == ([], None, [])


def test_fedex_a_pickup_status_is_timed_by_actual_pickup() -> None:
    body = body_of("fedex", "track_latest_status_only_built")
    result = body["output"]["completeTrackResults"][0]["trackResults"][0]
    result["latestStatusDetail"].update(code="PU", derivedCode="PU", description="Picked up")
    [event] = parse(fedex.ADAPTER, body).events
    assert (event.status, event.signed_by) == (Status.IN_TRANSIT, None)
    assert event.occurred_at.isoformat() == "2024-05-01T22:05:00+00:00"
    assert event.metadata["time_field"] == "ACTUAL_PICKUP"


def test_seventeentrack_a_list_of_silent_items_is_ignored_with_the_first_reason() -> None:
    found = body_of("seventeentrack", "tracking_updated_not_found_built")["data"]
    bare = json.loads(json.dumps(found))
    bare["track_info"]["latest_status"] = None
    result = parse(seventeentrack.ADAPTER, {"event": "TRACKING_UPDATED", "data": [bare, found]})
    assert result.ignored_items[0] == "data[0] has no event and no status"
    assert len(result.ignored_items) == 2 and not result.events
    empty = parse(seventeentrack.ADAPTER, {"event": "TRACKING_UPDATED", "data": []})
    assert (empty.events, empty.ignored, empty.ignored_items) == ([], None, [])


def test_seventeentrack_a_status_without_sub_status_uses_the_main_status() -> None:
    body = body_of("seventeentrack", "tracking_updated_latest_status_only_built")
    body["data"]["track_info"]["latest_status"]["sub_status"] = None
    [event] = parse(seventeentrack.ADAPTER, body).events
    assert (event.status, event.carrier_code) == (Status.DELIVERED, "Delivered")


def test_ship24_reasons_for_trackings_without_events() -> None:
    body = body_of("ship24", "trackings_no_events_statistics_built")
    body["trackings"][0]["statistics"]["timestamps"]["deliveredDatetime"] = None
    result = parse(ship24.ADAPTER, body)
    assert result.ignored_items == ["trackings[0] has a status but no event and no time for it"]
    body["trackings"][0]["shipment"].update(statusMilestone=None, statusCode=None)
    assert parse(ship24.ADAPTER, body).ignored_items == ["trackings[0] has no event and no status"]
    assert not parse(ship24.ADAPTER, {"trackings": []}).ignored_items
