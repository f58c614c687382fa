"""``POST /v1/events`` end to end through the Lambda handler (moto DynamoDB).

Tenant ``submitco`` enables ``[carriers.canonical]``; ``acme`` does not.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.canonical import ADAPTER
from gateway.carriers.adapter import Delivery, map_status
from gateway.errors import SignatureError
from gateway.models import Status
from gateway.testkit.harness import Harness, Reply, moto_harness

NOW = datetime(2024, 6, 3, 17, 0, tzinfo=UTC)
JSON = {"content-type": "application/json"}


@pytest.fixture
def gw() -> Iterator[Harness]:
    with moto_harness(lambda: NOW) as harness:
        yield harness


def item(status: str = "in_transit", at: str = "2024-06-01T10:00:00Z", **extra: Any) -> Any:
    return {"tracking_id": "1ZSUBMIT1", "status": status, "timestamp": at, **extra}


def submit(
    gw: Harness,
    body: Any,
    *,
    tenant: str | None = "submitco",
    headers: dict[str, str] = JSON,
) -> Reply:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return gw.call("POST", "/v1/events", body=raw, headers=headers, tenant=tenant)


def test_single_item_is_stored_with_its_location(gw: Harness) -> None:
    sent = item(
        "out_for_delivery",
        "2024-06-03T08:05:00-05:00",
        lat=41.88,
        lon=-87.63,
        location={"city": "Chicago", "region": "IL", "postal_code": "60601", "country": "us"},
        carrier="ups",
        description="Out for delivery",
        metadata={"order": "A-17", "parcels": 2},
    )
    reply = submit(gw, sent)
    assert reply.status == 200, reply.body
    assert reply.body["accepted"] == 1 and reply.body["duplicates"] == reply.body["rejected"] == 0
    [result] = reply.body["results"]
    assert result["index"] == 0 and result["status"] == "accepted"
    assert result["event_id"].startswith("ev_")
    [event] = gw.call("GET", "/v1/shipments/1zsubmit1/events", tenant="submitco").body["events"]
    assert event["carrier"] == "canonical" and event["status"] == "out_for_delivery"
    assert event["occurred_at"].startswith("2024-06-03T13:05:00")
    assert event["occurred_at_local"] == "2024-06-03T08:05:00"
    assert event["tz_source"] == "carrier_offset"
    assert event["location"] == {
        "city": "Chicago",
        "region": "IL",
        "postal_code": "60601",
        "country": "US",
        "lat": 41.88,
        "lon": -87.63,
    }
    assert event["metadata"] == {"order": "A-17", "parcels": "2", "upstream_carrier": "ups"}
    assert gw.counts["EventsAccepted"] == 1


def test_batch_stores_good_items_and_reports_each_bad_one(gw: Harness) -> None:
    events = [
        item("info_received", "2024-06-01T09:00:00+02:00"),
        item("in_transit", "2024-06-01T10:00:00"),  # naive: refused
        {"tracking_number": "1ZSUBMIT2", "status": "delivered", "timestamp": "2024-06-02T10:00Z"},
        item("delivered", "2024-06-02T10:00:00Z", lat=123.0),  # latitude out of range
        item("in_transit", "2024-06-01T12:00:00Z", tracking_number="1ZOTHER"),  # two numbers
        "not an object",
        item("in_transit", "2024-06-01T12:00:00Z", colour="red"),  # unknown field
    ]
    reply = submit(gw, {"events": events})
    assert reply.status == 200, reply.body
    body = reply.body
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (2, 0, 5)
    assert [r["index"] for r in body["results"]] == list(range(7))
    assert [r["status"] for r in body["results"]] == [
        "accepted",
        "rejected",
        "accepted",
        "rejected",
        "rejected",
        "rejected",
        "rejected",
    ]
    errors = {r["index"]: r["error"] for r in body["results"] if r["status"] == "rejected"}
    assert {e["code"] for e in errors.values()} == {"invalid_item"}
    assert errors[1]["message"] == "timestamp: must carry an offset or Z"
    assert errors[3]["message"].startswith("lat: ")
    assert "exactly one of tracking_number and tracking_id" in errors[4]["message"]
    assert "colour" in errors[6]["message"]
    assert "red" not in json.dumps(errors), "messages never echo the values sent"
    assert "event_id" not in body["results"][1]
    assert gw.counts["SubmitItemsRejected"] == 5
    shipment = gw.call("GET", "/v1/shipments/1ZSUBMIT2", tenant="submitco").body
    assert shipment["shipments"][0]["status"] == "delivered"


def test_resending_reports_duplicates_and_stores_nothing_twice(gw: Harness) -> None:
    batch = {"events": [item("in_transit"), item("delivered", "2024-06-02T10:00:00Z")]}
    assert submit(gw, batch).body["accepted"] == 2
    again = submit(gw, batch)
    assert again.status == 200
    assert (again.body["accepted"], again.body["duplicates"]) == (0, 2)
    assert {r["status"] for r in again.body["results"]} == {"duplicate"}
    history = gw.call("GET", "/v1/shipments/1ZSUBMIT1/events", tenant="submitco").body
    assert [e["status"] for e in history["events"]] == ["in_transit", "delivered"]


def test_the_same_item_twice_in_one_batch_is_accepted_once(gw: Harness) -> None:
    reply = submit(gw, {"events": [item(), item()]})
    assert [r["status"] for r in reply.body["results"]] == ["accepted", "duplicate"]
    assert reply.body["results"][0]["event_id"] == reply.body["results"][1]["event_id"]


def test_failed_is_an_alias_of_exception_and_unknown_names_are_kept(gw: Harness) -> None:
    reply = submit(gw, {"events": [item("failed"), item("teleported", "2024-06-01T11:00Z")]})
    assert reply.body["accepted"] == 2
    history = gw.call("GET", "/v1/shipments/1ZSUBMIT1/events", tenant="submitco").body
    assert [(e["status"], e["carrier_code"]) for e in history["events"]] == [
        ("exception", "failed"),
        ("unknown", "teleported"),
    ]
    assert gw.counts["UnmappedStatus"] == 1


def test_all_items_rejected_is_400_with_per_item_results(gw: Harness) -> None:
    reply = submit(gw, item("in_transit", "2024-06-01"))
    assert reply.status == 400
    assert reply.body["error"]["code"] == "no_valid_items"
    assert reply.body["rejected"] == 1
    assert reply.body["results"][0]["error"]["message"] == "timestamp: must carry an offset or Z"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"events": [item()] * 501}, "batch_too_large"),
        ({"events": []}, "empty_batch"),
        (b"", "empty_batch"),
        (b"{not json", "malformed_body"),
        (b"\xff\xfe{}", "malformed_body"),
        ([item()], "malformed_body"),  # a bare array is not a batch
        ({"events": item()}, "malformed_body"),
        ({"events": [item()], "extra": 1}, "malformed_body"),
        (42, "malformed_body"),
    ],
)
def test_unreadable_bodies_are_400_with_a_stable_code(gw: Harness, body: Any, code: str) -> None:
    reply = submit(gw, body)
    assert reply.status == 400
    assert reply.body == {"error": {"code": code, "message": reply.body["error"]["message"]}}
    assert gw.counts.get("EventsAccepted") is None


def test_a_full_batch_of_500_is_accepted(gw: Harness) -> None:
    events = [item(at=f"2024-06-01T{i // 60:02d}:{i % 60:02d}:00Z") for i in range(500)]
    reply = submit(gw, {"events": events})
    assert reply.status == 200 and reply.body["accepted"] == 500


def test_no_api_key_tenant_is_401(gw: Harness) -> None:
    reply = submit(gw, item(), tenant=None)
    assert reply.status == 401 and reply.body["error"]["code"] == "unauthenticated"


@pytest.mark.parametrize("tenant", ["acme", "nosuchtenant"])
def test_tenant_without_canonical_is_404(gw: Harness, tenant: str) -> None:
    reply = submit(gw, item(), tenant=tenant)
    assert reply.status == 404 and reply.body["error"]["code"] == "unknown_route"


@pytest.mark.parametrize(
    "headers", [{"content-type": "text/plain"}, {}, {"content-type": "application/x-www-form"}]
)
def test_wrong_content_type_is_415(gw: Harness, headers: dict[str, str]) -> None:
    reply = submit(gw, item(), headers=headers)
    assert reply.status == 415 and reply.body["error"]["code"] == "unsupported_media_type"


def test_content_type_parameters_are_allowed(gw: Harness) -> None:
    reply = submit(gw, item(), headers={"Content-Type": "application/json; charset=utf-8"})
    assert reply.status == 200


def test_the_webhook_route_never_accepts_canonical(gw: Harness) -> None:
    gw.secrets.values[("submitco", "canonical")] = ["a-partner-secret-that-must-not-count"]
    reply = gw.call(
        "POST",
        "/webhooks/submitco/canonical",
        body=json.dumps(item()).encode(),
        headers={**JSON, "x-api-key": "a-partner-secret-that-must-not-count"},
    )
    assert reply.status == 401 and reply.body["error"]["code"] == "not_a_webhook"


def test_the_adapter_is_declarative_and_refuses_to_verify_or_sign() -> None:
    assert ADAPTER.id == "canonical" and not ADAPTER.webhook
    assert all(code == code.lower() for code in ADAPTER.status_map)
    assert map_status(ADAPTER.status_map, "FAILED") is Status.EXCEPTION
    assert map_status(ADAPTER.status_map, "no-such-status") is Status.UNKNOWN
    delivery = Delivery("submitco", "canonical", b"{}", {}, NOW)
    with pytest.raises(SignatureError):
        ADAPTER.verify(delivery, ["anything"], NOW.timestamp())
    with pytest.raises(SignatureError):
        ADAPTER.sign(b"{}", "anything", NOW.timestamp())


def test_the_adapter_parse_keeps_good_items_and_names_bad_ones() -> None:
    body = json.dumps({"events": [item(), item(at="yesterday")]}).encode()
    result = ADAPTER.parse(Delivery("submitco", "canonical", body, {}, NOW))
    assert [e.status for e in result.events] == [Status.IN_TRANSIT]
    assert result.failures == ["item 1: timestamp: is not an ISO-8601 instant"]
