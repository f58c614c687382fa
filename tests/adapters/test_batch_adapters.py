"""Carriers that post several shipments at once: FedEx, 17TRACK (list in ``data``), Ship24.

The shared suite compares events only; here: each shipment of a batch is read, an
unreadable item lands in ``ParseResult.failures`` (position and field, never a value)
while the others are returned, and through the handler such a delivery answers 200
with the good events stored and the delivery parked.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from adapters import fedex, seventeentrack, ship24
from gateway.carriers.adapter import Adapter, ParseResult
from gateway.errors import ParseError
from gateway.testkit.harness import Harness, moto_harness
from tests.adapters.conftest import build_delivery

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
NOW = datetime(2024, 6, 3, 17, 0, tzinfo=UTC)
FEDEX_TOKEN = "batchco-fedex-security-token"  # a throwaway test value


def fixture(carrier: str, name: str) -> bytes:
    return (FIXTURES / carrier / f"{name}.json").read_bytes()


def parse(adapter: Adapter, body: bytes | dict[str, Any]) -> ParseResult:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return adapter.parse(build_delivery(adapter.id, raw, {"content-type": "application/json"}))


def per_number(result: ParseResult) -> dict[str, int]:
    return dict(Counter(e.tracking_number for e in result.events))


# --- FedEx ---------------------------------------------------------------------------


def test_fedex_every_scan_of_every_shipment_is_an_event() -> None:
    result = parse(fedex.ADAPTER, fixture("fedex", "track_multi_shipment_built"))
    assert per_number(result) == {"123456789012": 5, "128667043726": 3}
    assert result.failures == []
    unique_ids = {e.metadata["tracking_number_unique_id"] for e in result.events}
    assert unique_ids == {"245822~123456789012~FDEG", "2460~128667043726~FDEG"}


def test_fedex_bad_track_results_become_failures_and_the_good_one_is_returned() -> None:
    body = fixture("fedex", "track_bad_items_built")
    result = parse(fedex.ADAPTER, body)
    assert per_number(result) == {"794843185271": 1}
    assert result.failures == [
        "completeTrackResults[0].trackResults[1].trackingNumberInfo has no trackingNumber",
        "completeTrackResults[1].trackResults[0].scanEvents[0] has no readable date",
    ]
    assert not any("yesterday" in f or "794843185290" in f for f in result.failures)


def test_fedex_track_result_reporting_an_error_is_a_failure() -> None:
    body = json.loads(fixture("fedex", "track_multi_shipment_built"))
    body["output"]["completeTrackResults"][1]["trackResults"][0]["error"] = {
        "code": "TRACKING.TRACKINGNUMBER.NOTFOUND"
    }
    result = parse(fedex.ADAPTER, body)
    assert per_number(result) == {"123456789012": 5}
    assert result.failures == ["completeTrackResults[1].trackResults[0] reports an error"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[]", "body is not an object"),
        (b'{"output": {}}', "output.completeTrackResults is not a list"),
        (b'{"output": {"completeTrackResults": [7]}}', "completeTrackResults[0] is not an object"),
    ],
)
def test_fedex_body_that_cannot_be_read_at_all_is_a_parse_error(body: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=re.escape(message)):
        parse(fedex.ADAPTER, body)


# --- 17TRACK -------------------------------------------------------------------------


def test_seventeentrack_list_in_data_reads_each_shipment() -> None:
    result = parse(seventeentrack.ADAPTER, fixture("seventeentrack", "tracking_updated_list_built"))
    assert per_number(result) == {"LX987654321DE": 2, "1Z999AA10123456784": 2}
    assert result.failures == []


def test_seventeentrack_bad_list_item_is_a_failure_and_the_others_are_returned() -> None:
    body = json.loads(fixture("seventeentrack", "tracking_updated_list_built"))
    del body["data"][0]["number"]
    body["data"].append("not an object")
    result = parse(seventeentrack.ADAPTER, body)
    assert per_number(result) == {"1Z999AA10123456784": 2}
    assert result.failures == ["data[0] has no number", "data[2] is not an object"]


def test_seventeentrack_single_object_that_cannot_be_read_is_a_parse_error() -> None:
    body = json.loads(fixture("seventeentrack", "tracking_updated_two_providers_built"))
    body["data"]["track_info"]["tracking"]["providers"][0]["events"][0]["time_utc"] = "soon"
    body["data"]["track_info"]["tracking"]["providers"][0]["events"][0]["time_iso"] = None
    with pytest.raises(ParseError, match="has no readable time") as caught:
        parse(seventeentrack.ADAPTER, body)
    assert "soon" not in str(caught.value)


def test_seventeentrack_unreadable_local_time_is_dropped_when_utc_is_known() -> None:
    body = json.loads(fixture("seventeentrack", "tracking_updated_two_providers_built"))
    body["data"]["track_info"]["tracking"]["providers"][0]["events"][0]["time_iso"] = "late"
    first = parse(seventeentrack.ADAPTER, body).events[0]
    assert first.occurred_at == datetime(2024, 5, 8, 21, 40, tzinfo=UTC)
    assert first.occurred_at_local is None


# --- Ship24 --------------------------------------------------------------------------


def test_ship24_grouped_trackings_each_give_their_events() -> None:
    result = parse(ship24.ADAPTER, fixture("ship24", "trackings_grouped_built"))
    assert per_number(result) == {"S24DEMO456393": 1, "S24DEMO456394": 2}
    assert result.failures == []
    assert all(e.metadata["event_id"] for e in result.events)


def test_ship24_bad_tracking_is_a_failure_and_the_others_are_returned() -> None:
    body = json.loads(fixture("ship24", "trackings_grouped_built"))
    body["trackings"][1]["events"][0]["occurrenceDatetime"] = "2021-13-45"
    result = parse(ship24.ADAPTER, body)
    assert per_number(result) == {"S24DEMO456393": 1}
    assert result.failures == ["trackings[1].events[0] has no readable occurrenceDatetime"]


# --- end to end through the handler --------------------------------------------------


@pytest.fixture
def gw() -> Iterator[Harness]:
    with moto_harness(lambda: NOW) as harness:
        harness.secrets.values[("batchco", "fedex")] = [FEDEX_TOKEN]
        yield harness


def post_fedex(gw: Harness, body: bytes) -> Any:
    headers = fedex.ADAPTER.sign(body, FEDEX_TOKEN, NOW.timestamp())
    headers["content-type"] = "application/json"
    return gw.call("POST", "/webhooks/batchco/fedex", body=body, headers=headers)


def test_fedex_batch_with_one_bad_item_stores_the_good_and_parks_the_delivery(
    gw: Harness,
) -> None:
    payload = json.loads(fixture("fedex", "track_multi_shipment_built"))
    bad = payload["output"]["completeTrackResults"][1]["trackResults"][0]
    bad["trackingNumberInfo"]["trackingNumber"] = ""
    body = json.dumps(payload).encode()

    reply = post_fedex(gw, body)

    assert reply.status == 200
    assert reply.body["accepted"] == 5 and len(reply.body["events"]) == 5
    assert reply.body["parked"] is True and reply.body["failed_items"] == 1
    state = gw.call("GET", "/v1/shipments/123456789012", tenant="batchco")
    assert state.status == 200 and state.body["shipments"][0]["status"] == "delivered"
    assert gw.call("GET", "/v1/shipments/128667043726", tenant="batchco").status == 404
    (parked,) = gw.services.pipeline.parking.list("batchco")
    assert parked.body == body
    assert "trackResults[0].trackingNumberInfo has no trackingNumber" in parked.reason
    assert "fdx-signature" not in {h.lower() for h in parked.headers}

    again = post_fedex(gw, body)  # the carrier retries: nothing new, still parked once
    assert again.status == 200 and again.body["accepted"] == 0
    assert again.body["failed_items"] == 1 and again.body["already_parked"] is True
    assert len(gw.services.pipeline.parking.list("batchco")) == 1
