"""The examples an adversarial run found (issue 11), end to end through the handler (moto).

Each test is one reported example; the classes they belong to are tested over every
adapter and fixture in ``tests/reliability/test_hostile_content.py``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from adapters import aftership, fedex, ups
from gateway.api.app import make_handler
from gateway.carriers.adapter import Delivery, ParseResult
from gateway.carriers.discovery import Registry
from gateway.routes import RESOURCES
from gateway.testkit.fixtures import FIXTURES
from gateway.testkit.harness import Harness, Reply, moto_harness

NOW = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)
JSON = {"content-type": "application/json"}
AFTERSHIP_SECRET = "aftership-adversarial-secret"
UPS_CREDENTIAL = "ups-adversarial-credential"


@pytest.fixture
def gw() -> Iterator[Harness]:
    with moto_harness(lambda: NOW) as harness:
        harness.secrets.values[("upsco", "ups")] = [UPS_CREDENTIAL]
        harness.secrets.values[("acme", "aftership")] = [AFTERSHIP_SECRET]
        yield harness


def post_ups(gw: Harness, **changes: Any) -> Reply:
    body = json.loads((FIXTURES / "ups" / "v1_out_for_delivery_OT.json").read_bytes())
    raw = json.dumps(body | changes).encode()
    headers = ups.ADAPTER.sign(raw, UPS_CREDENTIAL, NOW.timestamp()) | JSON
    return gw.call("POST", "/webhooks/upsco/ups", body=raw, headers=headers)


def shipment(gw: Harness, number: str, tenant: str) -> dict[str, Any]:
    reply = gw.call("GET", f"/v1/shipments/{number}", tenant=tenant)
    assert reply.status == 200, reply
    (state,) = reply.body["shipments"]
    return dict(state)


DELIVERED = {"activityStatus": {"type": "D", "code": "FS", "description": "Delivered"}}


# 1. Event times that sort wrong.


def test_a_delivered_shipment_stays_delivered_after_an_event_of_year_999(gw: Harness) -> None:
    assert post_ups(gw, **DELIVERED, gmtActivityDate="20250601").status == 200
    assert post_ups(gw, gmtActivityDate="09990101").status == 200  # type I, code OT
    state = shipment(gw, "1Z204W4R0308071865", "upsco")
    assert state["status"] == "delivered"
    assert state["last_event_at"].startswith("2025-06-01")
    history = gw.call("GET", "/v1/shipments/1Z204W4R0308071865/events", tenant="upsco")
    assert [e["occurred_at"][:4] for e in history.body["events"]] == ["0999", "2025"]


def test_an_event_days_in_the_future_joins_the_history_without_moving_the_status(
    gw: Harness,
) -> None:
    assert post_ups(gw, **DELIVERED, gmtActivityDate="20250601").status == 200
    assert post_ups(gw, gmtActivityDate="20250620").status == 200  # 18 days after receipt
    assert shipment(gw, "1Z204W4R0308071865", "upsco")["status"] == "delivered"
    assert post_ups(gw, gmtActivityDate="20250603").status == 200  # within 3 days: believed
    assert shipment(gw, "1Z204W4R0308071865", "upsco")["status"] == "out_for_delivery"


@pytest.mark.parametrize(
    "stamp", ["0500-06-01T00:00:00Z", "1969-12-31T23:59:59Z", "2099-01-01T00:00:00Z"]
)
def test_a_submitted_event_of_an_implausible_time_is_refused_with_a_reason(
    gw: Harness, stamp: str
) -> None:
    body = {"tracking_id": "1ZSUBMIT1", "status": "delivered", "timestamp": stamp}
    reply = gw.call(
        "POST", "/v1/events", body=json.dumps(body).encode(), headers=JSON, tenant="submitco"
    )
    assert (reply.status, reply.body["error"]["code"]) == (400, "no_valid_items")
    (result,) = reply.body["results"]
    assert result["error"]["code"] == "invalid_item"
    assert "1970" in result["error"]["message"]


# 2. Invalid text.


@pytest.mark.parametrize(
    "field", ["event_id", "msg.signed_by", "msg.expected_delivery", "msg.checkpoints.0.message"]
)
def test_a_lone_surrogate_in_an_authentic_delivery_parks_it(gw: Harness, field: str) -> None:
    path = FIXTURES / "aftership" / "tracking_update_in_transit_docs_trimmed.json"
    document = json.loads(path.read_bytes())
    target, *rest = field.split(".")
    holder: Any = document
    for step in [target, *rest][:-1]:
        holder = holder[int(step)] if isinstance(holder, list) else holder[step]
    last = [target, *rest][-1]
    holder[int(last) if isinstance(holder, list) else last] = "x\ud800y"
    raw = json.dumps(document).encode()  # the surrogate as the escape \ud800
    headers = aftership.ADAPTER.sign(raw, AFTERSHIP_SECRET, NOW.timestamp()) | JSON
    reply = gw.call("POST", "/webhooks/acme/aftership", body=raw, headers=headers)
    assert (reply.status, reply.body["parked"]) == (202, True)
    (parked,) = gw.services.pipeline.parking.list("acme")
    assert "not valid Unicode" in parked.reason and "\ud800" not in parked.reason


def test_a_submitted_item_with_a_lone_surrogate_is_rejected_alone(gw: Harness) -> None:
    good = {"tracking_id": "1ZSUBMIT1", "status": "in_transit", "timestamp": "2025-06-01T10:00Z"}
    bad = good | {"tracking_id": "1ZSUBMIT2", "description": "\ud800"}
    raw = json.dumps({"events": [good, bad]}).encode()
    reply = gw.call("POST", "/v1/events", body=raw, headers=JSON, tenant="submitco")
    assert reply.status == 200, reply
    assert [r["status"] for r in reply.body["results"]] == ["accepted", "rejected"]


# 5. Stored but unreadable tracking numbers; canonical routing.


@pytest.mark.parametrize("number", ["X%23Y", "X%3FY", "X%25Y", "%C3%84BC", "X%00"])
def test_a_tracking_number_that_cannot_be_stored_is_a_400_not_a_missing_route(
    gw: Harness, number: str
) -> None:
    reply = gw.call("GET", f"/v1/shipments/{number}", tenant="acme")
    assert (reply.status, reply.body["error"]["code"]) == (400, "invalid_tracking_number")


def test_a_carrier_tracking_number_with_a_hash_is_parked(gw: Harness) -> None:
    reply = post_ups(gw, trackingNumber="1Z204W4R#0308071865")
    assert (reply.status, reply.body["parked"]) == (202, True)
    (parked,) = gw.services.pipeline.parking.list("upsco")
    assert "tracking number may hold only" in parked.reason


@pytest.mark.parametrize("path", ["/webhooks/acme/easypost/", "/v1/shipments/1Z9/events/"])
def test_the_handler_routes_no_path_the_edge_would_not(gw: Harness, path: str) -> None:
    event = {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": "POST" if path.startswith("/webhooks") else "GET",
        "headers": JSON,
        "multiValueHeaders": None,
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "requestContext": {"requestId": "r", "stage": "local", "authorizer": {"tenant": "acme"}},
        "body": "{}",
        "isBase64Encoded": False,
    }
    from gateway.local.proxy_event import LocalContext

    response = gw.handler(event, LocalContext.new())
    assert response["statusCode"] == 404
    assert json.loads(response["body"])["error"]["code"] == "not_found"
    assert all(not r.endswith("/") for r in RESOURCES)


# 8. An unmapped status never overwrites a known one.


def test_an_unmapped_code_after_delivered_joins_history_and_is_counted(gw: Harness) -> None:
    assert post_ups(gw, **DELIVERED, gmtActivityDate="20250601").status == 200
    later = {"activityStatus": {"type": "Q", "code": "ZZ", "description": "Unheard of"}}
    assert post_ups(gw, **later, gmtActivityDate="20250602").status == 200
    state = shipment(gw, "1Z204W4R0308071865", "upsco")
    assert (state["status"], state["last_event_at"][:10]) == ("delivered", "2025-06-01")
    history = gw.call("GET", "/v1/shipments/1Z204W4R0308071865/events", tenant="upsco")
    assert [e["carrier_code"] for e in history.body["events"]] == ["D/FS", "Q/ZZ"]
    assert gw.counts["UnmappedStatus"] == 1


def test_a_known_status_replaces_an_unknown_one_whatever_its_time(gw: Harness) -> None:
    later = {"activityStatus": {"type": "Q", "code": "ZZ", "description": "Unheard of"}}
    assert post_ups(gw, **later, gmtActivityDate="20250602").status == 200
    assert shipment(gw, "1Z204W4R0308071865", "upsco")["status"] == "unknown"
    assert post_ups(gw, gmtActivityDate="20250601").status == 200  # older, but says something
    assert shipment(gw, "1Z204W4R0308071865", "upsco")["status"] == "out_for_delivery"


# 9. Authentic deliveries that store nothing say why.


def test_an_adapter_that_finds_nothing_gets_an_explicit_ignored_reason(gw: Harness) -> None:
    def parse(delivery: Delivery) -> ParseResult:
        return ParseResult()  # no event, no failure, no reason

    quiet = replace(aftership.ADAPTER, parse=parse)
    adapters = Registry({**gw.services.pipeline.adapters.adapters, "aftership": quiet})
    pipeline = replace(gw.services.pipeline, adapters=adapters)
    gw.handler = make_handler(replace(gw.services, pipeline=pipeline))
    raw = b"{}"
    headers = aftership.ADAPTER.sign(raw, AFTERSHIP_SECRET, NOW.timestamp()) | JSON
    reply = gw.call("POST", "/webhooks/acme/aftership", body=raw, headers=headers)
    assert reply.status == 200, reply
    assert reply.body["accepted"] == 0
    assert reply.body["ignored"] == "the delivery carries no tracking event"


def test_a_batch_says_why_the_items_it_did_not_store_carried_nothing(gw: Harness) -> None:
    def results(name: str) -> list[Any]:
        body = json.loads((FIXTURES / "fedex" / f"{name}.json").read_bytes())
        return list(body["output"]["completeTrackResults"])

    groups = results("track_multi_shipment_built")[:1] + results("track_no_scans_no_time_built")
    raw = json.dumps({"output": {"completeTrackResults": groups}}).encode()
    gw.secrets.values[("batchco", "fedex")] = ["fedex-adversarial-secret"]
    headers = fedex.ADAPTER.sign(raw, "fedex-adversarial-secret", NOW.timestamp()) | JSON
    reply = gw.call("POST", "/webhooks/batchco/fedex", body=raw, headers=headers)
    assert reply.status == 200, reply
    assert reply.body["accepted"] > 0
    assert reply.body["ignored_items"] == [
        "completeTrackResults[1].trackResults[0] has a status but no scan event and no time for it"
    ]
