"""17TRACK API v2.2 (POLLING.md §3), under ``/seventeentrack``.

Auth: header ``17token`` (HTTP 401 and code -18010002 otherwise). Both calls take a JSON
array ``[{"number": …}, …]`` of at most 40 (code -18010014 otherwise) and answer HTTP 200
``{code: 0, data: {accepted: [], rejected: []}}``:

- ``POST /track/v2.2/register``: ``accepted[{number, carrier}]``; already registered →
  ``rejected[{number, error:{code: -18019901, message}}]``.
- ``POST /track/v2.2/gettrackinfo``: ``accepted[{number, carrier, param, tag, track_info}]``
  where ``track_info`` is what a ``TRACKING_UPDATED`` webhook carries (``latest_status``,
  ``latest_event``, ``time_metrics``, ``milestone``, ``tracking.providers[].events[]``,
  newest first); not registered → rejected -18019902; registered but unknown to the
  carrier → rejected -18019909.

A whole-request error is ``{code: <error>, data: {errors: [{code, message}]}}``.
"""

from __future__ import annotations

import functools
import zlib
from datetime import datetime
from typing import Any, NamedTuple

from gateway.models import Status
from gateway.testkit.carrier_api.core import (
    CarrierSpec,
    Incoming,
    Reply,
    SimEvent,
    World,
    iso_offset,
    iso_z,
    json_reply,
)

ID = "seventeentrack"
BATCH_LIMIT = 40
PROVIDER_KEY = 21051
PROVIDER = {
    "key": PROVIDER_KEY,
    "name": "USPS",
    "alias": "USPS",
    "tel": "",
    "homepage": "https://www.usps.com",
    "country": "US",
}
STAGES = (
    "InfoReceived",
    "PickedUp",
    "Departure",
    "Arrival",
    "AvailableForPickup",
    "OutForDelivery",
    "Delivered",
    "Returning",
    "Returned",
)


class Code(NamedTuple):
    """``sub_status`` (its part before ``_`` is the main status), ``stage`` and a description."""

    sub_status: str
    stage: str | None
    text: str


# adapters/seventeentrack.py: the main status of sub_status, refined by a few sub-statuses.
CODES: dict[Status, Code] = {
    Status.INFO_RECEIVED: Code("InfoReceived", "InfoReceived", "Electronic information received"),
    Status.IN_TRANSIT: Code("InTransit_Arrival", "Arrival", "Arrived at facility"),
    Status.OUT_FOR_DELIVERY: Code("OutForDelivery", "OutForDelivery", "Out for delivery"),
    Status.AVAILABLE_FOR_PICKUP: Code(
        "AvailableForPickup", "AvailableForPickup", "Available for pickup"
    ),
    Status.ATTEMPT_FAIL: Code(
        "DeliveryFailure_Other", None, "Delivery attempted, addressee absent"
    ),
    Status.DELIVERED: Code("Delivered_Other", "Delivered", "Delivered"),
    Status.EXCEPTION: Code("Exception_Other", None, "Exception"),
    Status.RETURNED: Code("Exception_Returned", "Returned", "Returned to sender"),
    Status.CANCELLED: Code("Exception_Cancel", None, "Shipment cancelled"),
    Status.EXPIRED: Code("Expired_Other", None, "No tracking updates for a long time"),
}

_MESSAGES = {
    -18010002: "Invalid security key.",
    -18010003: "Internal service error, please try again later.",
    -18010012: "The format of the request data is invalid.",
    -18010014: "The number of tracking numbers exceeds the limit of 40.",
}


def _failure(status: int, code: int, message: str) -> Reply:
    return json_reply(
        status, {"code": code, "data": {"errors": [{"code": code, "message": message}]}}
    )


def fault(status: int) -> Reply:
    if status >= 500:
        return _failure(status, -18010003, _MESSAGES[-18010003])
    return _failure(status, status, "Too many requests." if status == 429 else f"HTTP {status}")


def _rejected(number: str, code: int, message: str) -> dict[str, Any]:
    return {"number": number, "error": {"code": code, "message": message}}


def _event(event: SimEvent) -> dict[str, Any]:
    code = CODES[event.status]
    return {
        "time_iso": iso_offset(event.local),
        "time_utc": iso_z(event.at),
        "time_raw": {
            "date": event.local.strftime("%Y-%m-%d"),
            "time": event.local.strftime("%H:%M:%S"),
            "timezone": None,
        },
        "description": event.text(code.text),
        "location": event.place() or "",
        "stage": code.stage,
        "sub_status": code.sub_status,
        "address": {
            "country": event.country or None,
            "state": event.region or None,
            "city": event.city or None,
            "street": None,
            "postal_code": event.postal_code or None,
            "coordinates": {"longitude": None, "latitude": None},
        },
    }


def _address(country: str | None) -> dict[str, Any]:
    return {
        "country": country,
        "state": None,
        "city": None,
        "street": None,
        "postal_code": None,
        "coordinates": {"longitude": None, "latitude": None},
    }


def _days(start: datetime, end: datetime) -> int:
    return max(0, (end - start).days)


def track_info(world: World, number: str) -> dict[str, Any]:
    """The ``track_info`` of a known number, as the carrier knows it now."""
    shipment = world.shipment(ID, number)
    assert shipment is not None
    now = world.now()
    events = shipment.visible(now)
    rendered = [_event(e) for e in reversed(events)]
    latest = CODES[events[-1].status].sub_status if events else "NotFound_Other"
    first, last = (events[0].at, events[-1].at) if events else (now, now)
    eta = shipment.estimated_delivery
    milestones = []
    for stage in STAGES:
        hit = next((e for e in events if CODES[e.status].stage == stage), None)
        milestones.append(
            {
                "key_stage": stage,
                "time_iso": iso_offset(hit.local) if hit else None,
                "time_utc": iso_z(hit.at) if hit else None,
            }
        )
    events_hash = zlib.crc32(repr(rendered).encode()) - 2**31
    return {
        "shipping_info": {
            "shipper_address": _address(events[0].country if events else None),
            "recipient_address": _address(events[-1].country if events else None),
        },
        "latest_status": {
            "status": latest.split("_", 1)[0],
            "sub_status": latest,
            "sub_status_descr": None,
        },
        "latest_event": rendered[0] if rendered else None,
        "time_metrics": {
            "days_after_order": _days(first, now),
            "days_of_transit": _days(first, last),
            "days_of_transit_done": _days(first, last),
            "days_after_last_update": _days(last, now),
            "estimated_delivery_date": {
                "source": "17TRACK" if eta else None,
                "from": eta,
                "to": eta,
            },
        },
        "milestone": milestones,
        "misc_info": {
            "risk_factor": 0,
            "service_type": None,
            "weight_raw": None,
            "weight_kg": None,
            "pieces": None,
            "dimensions": None,
        },
        "tracking": {
            "providers_hash": events_hash ^ PROVIDER_KEY,
            "providers": [
                {
                    "provider": PROVIDER,
                    "service_type": None,
                    "latest_sync_status": "Success",
                    "latest_sync_time": iso_z(now),
                    "events_hash": events_hash,
                    "events": rendered,
                }
            ]
            if events
            else [],
        },
    }


def _numbers(request: Incoming) -> list[dict[str, Any]] | Reply:
    try:
        items = request.json()
        if not isinstance(items, list) or not all(
            isinstance(i, dict) and i.get("number") for i in items
        ):
            raise ValueError("not a list of numbers")
    except ValueError:
        return _failure(200, -18010012, _MESSAGES[-18010012])
    if len(items) > BATCH_LIMIT:
        return _failure(200, -18010014, _MESSAGES[-18010014])
    return items


def _register(world: World, items: list[dict[str, Any]]) -> Reply:
    accepted, rejected = [], []
    for item in items:
        number = str(item["number"]).strip()
        carrier = item.get("carrier") if isinstance(item.get("carrier"), int) else PROVIDER_KEY
        _, new = world.ref(ID, number, functools.partial(str, number))
        if new:
            accepted.append({"origin": 1, "number": number, "carrier": carrier})
        else:
            message = f"The tracking number '{number}' has already been registered."
            rejected.append(_rejected(number, -18019901, message))
    return json_reply(200, {"code": 0, "data": {"accepted": accepted, "rejected": rejected}})


def _track(world: World, items: list[dict[str, Any]]) -> Reply:
    accepted, rejected = [], []
    for item in items:
        number = str(item["number"]).strip()
        if world.known_ref(ID, number) is None:
            message = f"The tracking number '{number}' needs to be registered first."
            rejected.append(_rejected(number, -18019902, message))
        elif world.shipment(ID, number) is None:
            message = f"The tracking number '{number}' has no tracking information yet."
            rejected.append(_rejected(number, -18019909, message))
        else:
            info = track_info(world, number)
            accepted.append(
                {
                    "number": number,
                    "carrier": PROVIDER_KEY,
                    "param": None,
                    "tag": None,
                    "track_info": info,
                }
            )
    return json_reply(200, {"code": 0, "data": {"accepted": accepted, "rejected": rejected}})


def handle(world: World, request: Incoming) -> Reply:
    if not world.api_key_ok(ID, request.header("17token") or None):
        return _failure(401, -18010002, _MESSAGES[-18010002])
    calls = {"/track/v2.2/register": _register, "/track/v2.2/gettrackinfo": _track}
    call = calls.get(request.path) if request.method == "POST" else None
    if call is None:
        return _failure(404, 404, "Not found.")
    items = _numbers(request)
    return items if isinstance(items, Reply) else call(world, items)


SPEC = CarrierSpec(id=ID, kind="api_key", codes=CODES, handle=handle, fault=fault)
