"""EasyPost Trackers (POLLING.md §2), under ``/easypost``.

Auth: HTTP Basic with the API key as username (empty password), or ``Bearer <key>`` as
the official SDK sends it.

- ``POST /v2/trackers`` ``{"tracker":{"tracking_code"}}`` → 201 Tracker; the same code
  again → 200 and the same Tracker; a code the carrier does not know → 422
  ``TRACKER.CREATE.ERROR``.
- ``GET /v2/trackers/{trk_id}`` → Tracker; an unknown id → 404 ``NOT_FOUND``.
- ``POST /v2/trackers/batch`` ``{"tracking_codes":[…]}`` → ``{"trackers":[…],
  "has_more":false}`` (known codes only); ``GET /v2/trackers?tracking_code=`` lists.

The Tracker has the published fields; ``tracking_details`` are oldest first, times in
``Z``. Errors are ``{"error":{"code","message","errors"}}``.
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
    iso_z,
    json_reply,
)

ID = "easypost"
UPSTREAM = "USPS"


class Code(NamedTuple):
    """``status``, ``status_detail`` and the usual message."""

    status: str
    status_detail: str
    text: str


# adapters/easypost.py: status, refined by (failure, delivery_exception) → attempt_fail.
CODES: dict[Status, Code] = {
    Status.INFO_RECEIVED: Code("pre_transit", "label_created", "Shipping Label Created"),
    Status.IN_TRANSIT: Code("in_transit", "arrived_at_facility", "Arrived at Sort Facility"),
    Status.OUT_FOR_DELIVERY: Code("out_for_delivery", "out_for_delivery", "Out For Delivery"),
    Status.AVAILABLE_FOR_PICKUP: Code(
        "available_for_pickup", "arrived_at_pickup_location", "Available for Pickup"
    ),
    Status.ATTEMPT_FAIL: Code("failure", "delivery_exception", "Delivery Attempted - No Access"),
    Status.DELIVERED: Code("delivered", "arrived_at_destination", "Delivered"),
    Status.EXCEPTION: Code("failure", "transit_exception", "Delivery Exception"),
    Status.RETURNED: Code("return_to_sender", "return", "Return to Sender"),
    Status.CANCELLED: Code("cancelled", "cancelled", "Shipment Cancelled"),
}

_ONE = re.compile(r"/v2/trackers/(trk_[^/]+)")


def _error(status: int, code: str, message: str, errors: list[Any] | None = None) -> Reply:
    return json_reply(status, {"error": {"code": code, "message": message, "errors": errors or []}})


def fault(status: int) -> Reply:
    code = {429: "RATE_LIMITED", 500: "INTERNAL_SERVER_ERROR", 503: "SERVICE_UNAVAILABLE"}.get(
        status, f"HTTP_{status}"
    )
    return _error(status, code, HTTPStatus(status).phrase)


def _location(event: SimEvent | None) -> dict[str, Any]:
    place: dict[str, str | None] = dict.fromkeys(("city", "state", "country", "zip"))
    if event is not None:
        found = (event.city, event.region, event.country, event.postal_code)
        place = {k: v or None for k, v in zip(place, found, strict=True)}
    return {"object": "TrackingLocation", **place}


def _detail(event: SimEvent) -> dict[str, Any]:
    code = CODES[event.status]
    return {
        "object": "TrackingDetail",
        "message": event.text(code.text),
        "description": "",
        "status": code.status,
        "status_detail": code.status_detail,
        "datetime": iso_z(event.at),
        "source": UPSTREAM,
        "carrier_code": "",
        "tracking_location": _location(event),
        "est_delivery_date": None,
    }


def tracker(world: World, ref: Ref) -> dict[str, Any]:
    """The Tracker of a ref, as the carrier knows it now."""
    shipment = world.shipment(ID, ref.number)
    now = world.now()
    events = shipment.visible(now) if shipment else []
    latest = CODES[events[-1].status] if events else Code("unknown", "unknown", "")
    delivered = latest.status == "delivered"
    updated = max(ref.created_at, shipment.updated_at(now)) if shipment else ref.created_at
    return {
        "id": ref.id,
        "object": "Tracker",
        "mode": "test",
        "tracking_code": ref.number,
        "status": latest.status,
        "status_detail": latest.status_detail,
        "created_at": iso_z(ref.created_at),
        "updated_at": iso_z(updated),
        "signed_by": shipment.signed_by if shipment and delivered else None,
        "weight": None,
        "est_delivery_date": shipment.estimated_delivery if shipment else None,
        "shipment_id": None,
        "carrier": UPSTREAM,
        "tracking_details": [_detail(e) for e in events],
        "carrier_detail": {
            "object": "CarrierDetail",
            "service": "First-Class Package Service",
            "container_type": None,
            "est_delivery_date_local": None,
            "est_delivery_time_local": None,
            "origin_location": events[0].place() if events else None,
            "origin_tracking_location": _location(events[0] if events else None),
            "destination_location": None,
            "destination_tracking_location": None,
            "guaranteed_delivery_date": None,
            "alternate_identifier": None,
            "initial_delivery_attempt": iso_z(events[-1].at) if delivered else None,
        },
        "finalized": delivered,
        "is_return": latest.status == "return_to_sender",
        "fees": [
            {
                "object": "Fee",
                "type": "TrackerFee",
                "amount": "0.02000",
                "charged": False,
                "refunded": False,
            }
        ],
        "public_url": f"https://track.easypost.com/{ref.id}",
    }


def _make_id() -> str:
    return f"trk_{uuid.uuid4().hex}"


def _create(world: World, request: Incoming) -> Reply:
    try:
        code = str(request.json()["tracker"]["tracking_code"]).strip()
    except (ValueError, KeyError, TypeError):
        code = ""
    if not code:
        field = {"field": "tracker.tracking_code", "message": "cannot be blank"}
        return _error(422, "PARAMETER.REQUIRED", "Missing required parameter.", [field])
    if world.shipment(ID, code) is None:
        message = "The tracking number does not belong to the carrier."
        return _error(422, "TRACKER.CREATE.ERROR", message, [message])
    ref, new = world.ref(ID, code, _make_id)
    return json_reply(201 if new else 200, tracker(world, ref))


def _batch(world: World, request: Incoming) -> Reply:
    try:
        codes = [str(c).strip() for c in request.json()["tracking_codes"]]
    except (ValueError, KeyError, TypeError):
        field = {"field": "tracking_codes", "message": "cannot be blank"}
        return _error(422, "PARAMETER.REQUIRED", "Missing required parameter.", [field])
    known = [c for c in codes if world.shipment(ID, c) is not None]
    trackers = [tracker(world, world.ref(ID, c, _make_id)[0]) for c in known]
    return json_reply(200, {"trackers": trackers, "has_more": False})


def _authorised(world: World, request: Incoming) -> bool:
    basic = request.basic()
    return world.api_key_ok(ID, basic[0] if basic else request.bearer())


def handle(world: World, request: Incoming) -> Reply:
    if not _authorised(world, request):
        return _error(401, "APIKEY.REQUIRED", "Missing or invalid API key.")
    method, path = request.method, request.path.rstrip("/")
    if method == "POST" and path == "/v2/trackers":
        return _create(world, request)
    if method == "POST" and path == "/v2/trackers/batch":
        return _batch(world, request)
    if method == "GET" and path == "/v2/trackers":
        wanted = request.query.get("tracking_code")
        refs = [world.known_ref(ID, wanted)] if wanted else []
        return json_reply(
            200, {"trackers": [tracker(world, r) for r in refs if r], "has_more": False}
        )
    found = _ONE.fullmatch(path)
    ref = world.by_ref(ID, found.group(1)) if found and method == "GET" else None
    if ref is None:
        return _error(404, "NOT_FOUND", "The requested resource could not be found.")
    return json_reply(200, tracker(world, ref))


SPEC = CarrierSpec(id=ID, kind="api_key", codes=CODES, handle=handle, fault=fault)
