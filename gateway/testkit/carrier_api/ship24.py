"""Ship24 Tracking API (POLLING.md §4), under ``/ship24``.

Auth: ``Authorization: Bearer <key>`` (400 ``auth_missing_header`` / ``auth_invalid_header``
without one, 401 ``auth_invalid_api_key`` for a wrong key).

- ``POST /public/v1/trackers/track`` ``{"trackingNumber"}`` → 200 ``{data:{trackings:[…]}}``
  (the tracker is created if needed);
- ``POST /public/v1/trackers`` → 201 ``{data:{tracker}}`` (200 when it exists already);
- ``GET /public/v1/trackers/{trackerId}/results`` → 200, or 404 ``tracker_not_found``;
- ``GET /public/v1/trackers/search/{trackingNumber}/results`` → 200, or 404.

A tracking is ``{tracker, shipment, events, statistics}``; ``events`` newest first with
``order`` (1 = oldest) and a naive local ``occurrenceDatetime``. A number the carriers do
not know is a tracking with ``statusMilestone: "pending"`` and no events. Errors are
``{"errors":[{code, message}], "data": null}``; a 429 is plain text.
"""

from __future__ import annotations

import re
import uuid
from http import HTTPStatus
from typing import Any, NamedTuple

from gateway.models import Status
from gateway.testkit.carrier_api.core import (
    CarrierSpec,
    Incoming,
    Ref,
    Reply,
    SimEvent,
    World,
    json_reply,
    stable_id,
    text_reply,
)

ID = "ship24"
COURIER = "us-post"
_RESULTS = re.compile(r"/public/v1/trackers/([^/]+)/results")
_SEARCH = re.compile(r"/public/v1/trackers/search/([^/]+)/results")
_TIMESTAMPS = {
    "info_received": "infoReceivedDatetime",
    "in_transit": "inTransitDatetime",
    "out_for_delivery": "outForDeliveryDatetime",
    "failed_attempt": "failedAttemptDatetime",
    "available_for_pickup": "availableForPickupDatetime",
    "exception": "exceptionDatetime",
    "delivered": "deliveredDatetime",
}


class Code(NamedTuple):
    """``statusMilestone``, ``statusCode`` and ``statusCategory`` (null on minor events), text."""

    milestone: str
    status_code: str | None
    category: str | None
    text: str


# adapters/ship24.py: the milestone, overridden by the statusCodes it lists.
CODES: dict[Status, Code] = {
    Status.INFO_RECEIVED: Code(
        "info_received", "data_order_created", "data", "Shipment information received"
    ),
    Status.IN_TRANSIT: Code("in_transit", None, None, "Arrived at Regional Facility"),
    Status.OUT_FOR_DELIVERY: Code(
        "out_for_delivery", "delivery_out_for_delivery", "delivery", "Out for Delivery"
    ),
    Status.ATTEMPT_FAIL: Code(
        "failed_attempt", "delivery_attempted", "delivery", "Delivery attempted"
    ),
    Status.AVAILABLE_FOR_PICKUP: Code(
        "available_for_pickup", "delivery_available_for_pickup", "delivery", "Available for pickup"
    ),
    Status.DELIVERED: Code(
        "delivered", "delivery_delivered", "delivery", "Delivered to the addressee"
    ),
    Status.EXCEPTION: Code("exception", "delivery_exception", "delivery", "Delivery exception"),
    Status.RETURNED: Code("exception", "exception_return", "exception", "Returned to sender"),
    Status.CANCELLED: Code("exception", "data_order_cancelled", "data", "Order cancelled"),
}


def _errors(status: int, code: str, message: str) -> Reply:
    return json_reply(status, {"errors": [{"code": code, "message": message}], "data": None})


def fault(status: int) -> Reply:
    if status == 429:
        return text_reply(429, "Too Many Requests")
    code = {500: "internal_server_error", 503: "service_unavailable"}.get(status, f"http_{status}")
    return _errors(status, code, HTTPStatus(status).phrase)


def _local(event: SimEvent) -> str:
    return event.local.strftime("%Y-%m-%dT%H:%M:%S")


def _event(event: SimEvent, number: str, order: int) -> dict[str, Any]:
    code = CODES[event.status]
    return {
        "eventId": stable_id(ID, number, order, event.at.isoformat()),
        "trackingNumber": number,
        "eventTrackingNumber": number,
        "status": event.text(code.text),
        "occurrenceDatetime": _local(event),
        "order": order,
        "location": event.place(),
        "sourceCode": f"{COURIER}-tracking",
        "courierCode": COURIER,
        "statusCode": code.status_code,
        "statusCategory": code.category,
        "statusMilestone": code.milestone,
    }


def _tracker(ref: Ref, tracked: bool = True) -> dict[str, Any]:
    return {
        "trackerId": ref.id,
        "trackingNumber": ref.number,
        "shipmentReference": None,
        "clientTrackerId": None,
        "isSubscribed": True,
        "isTracked": tracked,
        "createdAt": ref.created_at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
    }


def tracking(world: World, ref: Ref) -> dict[str, Any]:
    """One tracking of a tracker, as the carriers know it now (``pending`` if they do not)."""
    shipment = world.shipment(ID, ref.number)
    events = shipment.visible(world.now()) if shipment else []
    latest = CODES[events[-1].status] if events else Code("pending", None, None, "")
    stamps: dict[str, str | None] = dict.fromkeys(_TIMESTAMPS.values())
    for event in events:
        key = _TIMESTAMPS.get(CODES[event.status].milestone)
        if key and stamps[key] is None:
            stamps[key] = _local(event)
    delivered = latest.milestone == "delivered"
    return {
        "tracker": _tracker(ref, tracked=not delivered),
        "shipment": {
            "shipmentId": stable_id(ID, ref.id),
            "statusCode": latest.status_code,
            "statusCategory": latest.category,
            "statusMilestone": latest.milestone,
            "originCountryCode": events[0].country if events else None,
            "destinationCountryCode": events[-1].country if events else None,
            "delivery": {
                "estimatedDeliveryDate": shipment.estimated_delivery if shipment else None,
                "courierEstimatedDeliveryDate": {"from": None, "to": None},
                "service": None,
                "signedBy": shipment.signed_by if shipment and delivered else None,
            },
            "trackingNumbers": [{"tn": ref.number}],
            "recipient": {
                "name": None,
                "address": None,
                "postCode": None,
                "city": None,
                "subdivision": None,
            },
        },
        "events": [_event(e, ref.number, i + 1) for i, e in reversed(list(enumerate(events)))],
        "statistics": {"timestamps": stamps},
    }


def _number(request: Incoming) -> str | Reply:
    try:
        number = str(request.json()["trackingNumber"]).strip()
    except (ValueError, KeyError, TypeError):
        return _errors(400, "missing_mandatory_field", "trackingNumber is required.")
    if not 5 <= len(number) <= 50:
        return _errors(400, "validation_error", "The trackingNumber provided seems invalid.")
    return number


def _auth(world: World, request: Incoming) -> Reply | None:
    header = request.header("authorization")
    if not header:
        return _errors(400, "auth_missing_header", "The Authorization header is missing.")
    token = request.bearer()
    if token is None:
        return _errors(400, "auth_invalid_header", "The Authorization header is invalid.")
    if not world.api_key_ok(ID, token):
        return _errors(401, "auth_invalid_api_key", "The API key is invalid.")
    return None


def handle(world: World, request: Incoming) -> Reply:
    refused = _auth(world, request)
    if refused is not None:
        return refused
    method, path = request.method, request.path
    if method == "POST" and path in ("/public/v1/trackers/track", "/public/v1/trackers"):
        number = _number(request)
        if isinstance(number, Reply):
            return number
        ref, new = world.ref(ID, number, lambda: str(uuid.uuid4()))
        if path.endswith("/track"):
            return json_reply(200, {"data": {"trackings": [tracking(world, ref)]}})
        return json_reply(201 if new else 200, {"data": {"tracker": _tracker(ref)}})
    search, results = _SEARCH.fullmatch(path), _RESULTS.fullmatch(path)
    found: Ref | None = None
    if method == "GET" and search:
        found = world.known_ref(ID, search.group(1))
    elif method == "GET" and results:
        found = world.by_ref(ID, results.group(1))
    if found is None:
        return _errors(404, "tracker_not_found", "Tracker not found.")
    return json_reply(200, {"data": {"trackings": [tracking(world, found)]}})


SPEC = CarrierSpec(id=ID, kind="api_key", codes=CODES, handle=handle, fault=fault)
