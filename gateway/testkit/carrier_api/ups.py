"""UPS Track API v1 and its OAuth token call (POLLING.md §1), under ``/ups``.

- ``POST /security/v1/oauth/token``: HTTP Basic ``client_id:client_secret``, form
  ``grant_type=client_credentials`` → ``{token_type, issued_at, client_id, access_token,
  scope, expires_in (a string), refresh_count, status}``.
- ``GET /api/track/v1/details/{n}``: Bearer, headers ``transId`` and ``transactionSrc``
  (400 without) → ``trackResponse.shipment[0].package[0].activity[]`` newest first; an
  unknown number is a 200 with ``shipment[0].warnings[0].code`` ``TW0001`` and no package.

Errors are ``{"response":{"errors":[{"code","message"}]}}``. The codes of the 401s (250002
for a bad token, 10401 for bad client credentials) and of the 400s are not in POLLING.md:
they are what UPS is reported to send, and only the HTTP status and envelope matter here.
"""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any, NamedTuple

from gateway.models import Status
from gateway.testkit.carrier_api.core import (
    CarrierSpec,
    Incoming,
    Reply,
    SimEvent,
    World,
    json_reply,
    offset_text,
)

ID = "ups"


class Code(NamedTuple):
    """``status.type``, ``status.code``, ``status.statusCode`` and the usual description."""

    type: str
    code: str
    status_code: str
    text: str


_LABEL = "Shipper created a label, UPS has not received the package yet."
_DELAY = "The package was delayed. A new delivery date will be provided."
# adapters/ups.py: type M/MV/I/X/D, refined to out_for_delivery by code OT.
CODES: dict[Status, Code] = {
    Status.INFO_RECEIVED: Code("M", "MP", "003", _LABEL),
    Status.IN_TRANSIT: Code("I", "DP", "005", "Departed from Facility"),
    Status.OUT_FOR_DELIVERY: Code("I", "OT", "021", "Out For Delivery Today"),
    Status.DELIVERED: Code("D", "FS", "011", "DELIVERED"),
    Status.EXCEPTION: Code("X", "XY", "007", _DELAY),
    Status.CANCELLED: Code("MV", "MV", "004", "Voided shipment"),
}

_DETAILS = re.compile(r"/api/track/v1/details/([^/]+)")


def _errors(status: int, code: str, message: str) -> Reply:
    return json_reply(status, {"response": {"errors": [{"code": code, "message": message}]}})


def fault(status: int) -> Reply:
    known = {
        429: ("10429", "Too Many Requests"),
        500: ("10500", "Internal Server Error"),
        503: ("10503", "Service Unavailable"),
    }
    code, message = known.get(status, (str(status), HTTPStatus(status).phrase))
    return _errors(status, code, message)


def _token(world: World, request: Incoming) -> Reply:
    basic = request.basic()
    if basic is None:
        return _errors(401, "10400", "Invalid/Missing Authorization Header")
    if not world.client_ok(ID, *basic):
        return _errors(401, "10401", "ClientId is Invalid")
    if request.form().get("grant_type") != "client_credentials":
        return _errors(400, "10400", "Invalid/Missing grant_type")
    token, seconds = world.issue_token(ID)
    return json_reply(
        200,
        {
            "token_type": "Bearer",
            "issued_at": str(int(world.clock() * 1000)),
            "client_id": basic[0],
            "access_token": token,
            "scope": "",
            "expires_in": str(seconds),
            "refresh_count": "0",
            "status": "approved",
        },
    )


def _status(code: Code, text: str) -> dict[str, str]:
    return {
        "type": code.type,
        "description": text,
        "simplifiedTextDescription": text,
        "statusCode": code.status_code,
        "code": code.code,
    }


def _activity(event: SimEvent) -> dict[str, Any]:
    code = CODES[event.status]
    local, gmt = event.local, event.utc
    address = {
        "city": event.city,
        "stateProvince": event.region,
        "postalCode": event.postal_code,
        "country": event.country,
        "countryCode": event.country,
    }
    return {
        "location": {"address": {k: v for k, v in address.items() if v}},
        "status": _status(code, event.text(code.text)),
        "date": local.strftime("%Y%m%d"),
        "time": local.strftime("%H%M%S"),
        "gmtDate": gmt.strftime("%Y%m%d"),
        "gmtTime": gmt.strftime("%H%M%S"),
        "gmtOffset": offset_text(event.utc_offset),
    }


def _details(world: World, number: str) -> Reply:
    shipment = world.shipment(ID, number)
    if shipment is None:
        warning = {"code": "TW0001", "message": "Tracking Information Not Found"}
        return json_reply(
            200, {"trackResponse": {"shipment": [{"inquiryNumber": number, "warnings": [warning]}]}}
        )
    events = shipment.visible(world.now())
    package: dict[str, Any] = {"trackingNumber": number, "packageCount": 1}
    if events:
        latest = events[-1]
        package["currentStatus"] = _status(
            CODES[latest.status], latest.text(CODES[latest.status].text)
        )
        if latest.status is Status.DELIVERED:
            package["deliveryDate"] = [{"type": "DEL", "date": latest.local.strftime("%Y%m%d")}]
            package["deliveryTime"] = {"type": "DEL", "endTime": latest.local.strftime("%H%M%S")}
            if shipment.signed_by:
                package["deliveryInformation"] = {"receivedBy": shipment.signed_by}
    if shipment.estimated_delivery and "deliveryDate" not in package:
        package["deliveryDate"] = [
            {"type": "SDD", "date": shipment.estimated_delivery.replace("-", "")[:8]}
        ]
    package["activity"] = [_activity(e) for e in reversed(events)]
    return json_reply(
        200,
        {
            "trackResponse": {
                "shipment": [{"inquiryNumber": number, "package": [package], "userRelation": []}]
            }
        },
    )


def handle(world: World, request: Incoming) -> Reply:
    if request.method == "POST" and request.path == "/security/v1/oauth/token":
        return _token(world, request)
    found = _DETAILS.fullmatch(request.path)
    if request.method != "GET" or found is None:
        return _errors(404, "10404", "Resource not found")
    if world.token_state(ID, request.bearer()) != "valid":
        return _errors(401, "250002", "Invalid Authentication Information.")
    if not request.header("transId") or not request.header("transactionSrc"):
        return _errors(400, "10400", "Missing transId or transactionSrc header")
    return _details(world, found.group(1))


SPEC = CarrierSpec(id=ID, kind="oauth_client", codes=CODES, handle=handle, fault=fault)
