"""Every native code that CARRIERS.md (or the vendor list it cites) documents maps as it says.

The fixtures only hold some codes; these rows hold the rest, for the carriers that publish
a code list (a new carrier may add rows here, and need not). Each row is a native code
(or code pair), the canonical status ``CARRIERS.md`` gives it, and the body is one of the
adapter's own fixtures with its first event rewritten to that code, so the row goes
through the real ``parse``. A code that is documented nowhere is not listed: it stays
``unknown`` (see ``unknown_on_purpose`` in the fixtures).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from gateway.carriers import discovery
from gateway.models import Status
from gateway.testkit.fixtures import FIXTURES
from tests.adapters.conftest import build_delivery

S = Status
Rewrite = Callable[[dict[str, Any], tuple[str, ...]], None]


def _aftership(body: dict[str, Any], code: tuple[str, ...]) -> None:
    body["msg"]["checkpoints"][0].update(tag=code[0], subtag=code[1])


def _easypost(body: dict[str, Any], code: tuple[str, ...]) -> None:
    detail = body["result"]["tracking_details"][0]
    detail.update(status=code[0], status_detail=code[1] if len(code) > 1 else "unknown")
    body["result"]["tracking_details"] = [detail]


def _fedex(body: dict[str, Any], code: tuple[str, ...]) -> None:
    result = body["output"]["completeTrackResults"][0]["trackResults"][0]
    result["scanEvents"] = [result["scanEvents"][0] | {"eventType": code[0]}]
    result["scanEvents"][0]["derivedStatusCode"] = code[0]
    body["output"]["completeTrackResults"] = body["output"]["completeTrackResults"][:1]


def _seventeentrack(body: dict[str, Any], code: tuple[str, ...]) -> None:
    provider = body["data"]["track_info"]["tracking"]["providers"][0]
    provider["events"] = [provider["events"][0] | {"sub_status": code[0]}]
    body["data"]["track_info"]["tracking"]["providers"] = [provider]


def _ship24(body: dict[str, Any], code: tuple[str, ...]) -> None:
    event = body["trackings"][0]["events"][0]
    event.update(statusMilestone=code[0], statusCode=code[1] if len(code) > 1 else None)
    body["trackings"][0]["events"] = [event]


def _shippo(body: dict[str, Any], code: tuple[str, ...]) -> None:
    entry = dict(body["data"]["tracking_history"][1], status=code[0])
    entry.pop("substatus")
    if len(code) > 1:
        entry["substatus"] = {"code": code[1], "text": "-", "action_required": False}
    body["data"]["tracking_history"] = [entry]


def _ups(body: dict[str, Any], code: tuple[str, ...]) -> None:
    body["activityStatus"].update(type=code[0], code=code[1] if len(code) > 1 else "")


def _standard_webhooks(body: dict[str, Any], code: tuple[str, ...]) -> None:
    body["data"]["events"] = [body["data"]["events"][0] | {"status": code[0]}]
    del body["data"]["events"][0]["code"]


# adapter id -> (fixture the rows rewrite, how to rewrite its first event)
BASES: dict[str, tuple[str, Rewrite]] = {
    "aftership": ("tracking_update_in_transit_docs_trimmed", _aftership),
    "easypost": ("event_tracker_updated_full_history", _easypost),
    "fedex": ("track_multi_shipment_built", _fedex),
    "seventeentrack": ("tracking_updated_two_providers_built", _seventeentrack),
    "ship24": ("trackings_single_built", _ship24),
    "shippo": ("track_updated_substatus_synthetic", _shippo),
    "ups": ("v1_departure_DP", _ups),
    "standard_webhooks": ("tracking_updated_waybill_format", _standard_webhooks),
}


def _aftership_rows() -> list[tuple[tuple[str, ...], Status]]:
    """CARRIERS.md §7: the tag decides, Exception_010/011 refine to returned."""
    by_tag = {
        "Pending": (S.PENDING, [1]),
        "InfoReceived": (S.INFO_RECEIVED, [1]),
        "InTransit": (S.IN_TRANSIT, range(1, 10)),
        "OutForDelivery": (S.OUT_FOR_DELIVERY, range(1, 5)),
        "AttemptFail": (S.ATTEMPT_FAIL, range(1, 4)),
        "Delivered": (S.DELIVERED, range(1, 6)),
        "AvailableForPickup": (S.AVAILABLE_FOR_PICKUP, [1]),
        "Exception": (S.EXCEPTION, [*range(1, 10), 12, 13, 16, 17, 18]),
        "Expired": (S.EXPIRED, [1]),
    }
    rows = [((tag, f"{tag}_{n:03d}"), status) for tag, (status, ns) in by_tag.items() for n in ns]
    returns = [(("Exception", f"Exception_{n}"), S.RETURNED) for n in ("010", "011")]
    return rows + returns


def _seventeentrack_rows() -> list[tuple[tuple[str, ...], Status]]:
    """CARRIERS.md §8: the main status decides; returning/returned/cancel refine it."""
    subs = {
        S.PENDING: ["NotFound_Other", "NotFound_InvalidCode"],
        S.INFO_RECEIVED: ["InfoReceived"],
        S.IN_TRANSIT: [
            f"InTransit_{s}"
            for s in (
                "PickedUp",
                "Other",
                "Departure",
                "Arrival",
                "CustomsProcessing",
                "CustomsReleased",
                "CustomsRequiringInformation",
            )
        ],
        S.EXPIRED: ["Expired_Other"],
        S.AVAILABLE_FOR_PICKUP: ["AvailableForPickup_Other"],
        S.OUT_FOR_DELIVERY: ["OutForDelivery_Other"],
        S.ATTEMPT_FAIL: [
            f"DeliveryFailure_{s}"
            for s in ("Other", "NoBody", "Security", "Rejected", "InvalidAddress")
        ],
        S.DELIVERED: ["Delivered_Other"],
        S.EXCEPTION: [
            f"Exception_{s}"
            for s in ("Other", "NoBody", "Security", "Damage", "Rejected", "Delayed", "Lost")
        ]
        + ["Exception_Destroyed"],
        S.RETURNED: ["Exception_Returning", "Exception_Returned"],
        S.CANCELLED: ["Exception_Cancel"],
    }
    return [((sub,), status) for status, names in subs.items() for sub in names]


ROWS: dict[str, list[tuple[tuple[str, ...], Status]]] = {
    "aftership": _aftership_rows(),
    # CARRIERS.md §5 (docs.easypost.com/docs/trackers); failure + a delivery attempt.
    "easypost": [
        (("unknown",), S.UNKNOWN),  # EasyPost's own "no status yet": unknown by definition
        (("pre_transit",), S.INFO_RECEIVED),
        (("in_transit",), S.IN_TRANSIT),
        (("out_for_delivery",), S.OUT_FOR_DELIVERY),
        (("available_for_pickup",), S.AVAILABLE_FOR_PICKUP),
        (("delivered",), S.DELIVERED),
        (("return_to_sender",), S.RETURNED),
        (("failure",), S.EXCEPTION),
        (("failure", "delivery_exception"), S.ATTEMPT_FAIL),
        (("cancelled",), S.CANCELLED),
        (("error",), S.EXCEPTION),
    ],
    # CARRIERS.md §2 (Track API codes; the list itself is UNCONFIRMED there).
    "fedex": [((c,), S.INFO_RECEIVED) for c in ("OC", "IN")]
    + [((c,), S.IN_TRANSIT) for c in ("PU", "IT", "AR", "DP", "AF")]
    + [(("OD",), S.OUT_FOR_DELIVERY), (("DL",), S.DELIVERED)]
    + [(("DE",), S.EXCEPTION), (("SE",), S.EXCEPTION), (("CA",), S.CANCELLED)]
    + [(("HL",), S.AVAILABLE_FOR_PICKUP), (("RS",), S.RETURNED)]
    + [((c,), S.IN_TRANSIT) for c in ("AE", "AO")],  # POLLING.md §5: FedEx changelog
    "seventeentrack": _seventeentrack_rows(),
    # CARRIERS.md §10 and POLLING.md §4 (docs.ship24.com/status): milestones, then codes.
    "ship24": [
        (("pending",), S.PENDING),
        (("info_received",), S.INFO_RECEIVED),
        (("in_transit",), S.IN_TRANSIT),
        (("out_for_delivery",), S.OUT_FOR_DELIVERY),
        (("failed_attempt",), S.ATTEMPT_FAIL),
        (("available_for_pickup",), S.AVAILABLE_FOR_PICKUP),
        (("delivered",), S.DELIVERED),
        (("exception",), S.EXCEPTION),
        (("in_transit", "delivery_delivered"), S.DELIVERED),
        (("in_transit", "delivery_out_for_delivery"), S.OUT_FOR_DELIVERY),
        (("out_for_delivery", "delivery_attempted"), S.ATTEMPT_FAIL),
        (("in_transit", "delivery_available_for_pickup"), S.AVAILABLE_FOR_PICKUP),
        (("exception", "exception_return"), S.RETURNED),
        (("info_received", "data_order_cancelled"), S.CANCELLED),
        (("in_transit", "customs_cleared"), S.IN_TRANSIT),  # leaves the milestone's
    ],
    # CARRIERS.md §6: status, refined by substatus.code while not terminal.
    "shippo": [
        (("UNKNOWN",), S.PENDING),
        (("PRE_TRANSIT",), S.INFO_RECEIVED),
        (("TRANSIT",), S.IN_TRANSIT),
        (("TRANSIT", "out_for_delivery"), S.OUT_FOR_DELIVERY),
        (("TRANSIT", "delivery_attempted"), S.ATTEMPT_FAIL),
        (("TRANSIT", "pickup_available"), S.AVAILABLE_FOR_PICKUP),
        (("PRE_TRANSIT", "information_received"), S.INFO_RECEIVED),
        (("DELIVERED",), S.DELIVERED),
        (("DELIVERED", "out_for_delivery"), S.DELIVERED),  # terminal: never refined
        (("RETURNED",), S.RETURNED),
        (("FAILURE",), S.EXCEPTION),
    ],
    # CARRIERS.md §1: code first (OT), then type.
    "ups": [
        (("M", "MP"), S.INFO_RECEIVED),
        (("MV",), S.CANCELLED),
        (("I", "OR"), S.IN_TRANSIT),
        (("I", "DP"), S.IN_TRANSIT),
        (("I", "YP"), S.IN_TRANSIT),
        (("I", "OT"), S.OUT_FOR_DELIVERY),
        (("U",), S.IN_TRANSIT),
        (("X",), S.EXCEPTION),
        (("D", "FS"), S.DELIVERED),
    ],
    # Waybill's own format: the canonical names, and "failed" for exception.
    "standard_webhooks": [((s.value,), s) for s in Status] + [(("failed",), S.EXCEPTION)],
}

CASES = [(adapter_id, code, status) for adapter_id, rows in ROWS.items() for code, status in rows]


def test_the_rows_name_discovered_webhook_adapters_only() -> None:
    """Rows are an extra oracle for carriers that publish a code list; a new carrier needs
    none (its fixtures' own codes are checked by test_status_tables.py), but no row may
    outlive its adapter."""
    webhooks = {a.id for a in discovery.load_adapters().adapters.values() if a.webhook}
    assert set(ROWS) == set(BASES) <= webhooks


@pytest.mark.parametrize(
    ("adapter_id", "code", "status"),
    CASES,
    ids=[f"{adapter_id}/{'+'.join(code)}" for adapter_id, code, _ in CASES],
)
def test_a_documented_code_maps_as_documented(
    adapter_id: str, code: tuple[str, ...], status: Status
) -> None:
    adapter = discovery.load_adapters().adapters[adapter_id]
    name, rewrite = BASES[adapter_id]
    body = json.loads((FIXTURES / adapter_id / f"{name}.json").read_bytes())
    rewrite(body, code)
    result = adapter.parse(build_delivery(adapter_id, json.dumps(body).encode(), {}))
    assert result.events, result.ignored
    assert result.events[0].status is status
