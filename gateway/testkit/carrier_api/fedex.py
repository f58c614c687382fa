"""FedEx Track API and its OAuth token call (POLLING.md §5), under ``/fedex``.

- ``POST /oauth/token``: form ``grant_type=client_credentials&client_id=…&client_secret=…``
  → ``{access_token, token_type: "bearer", expires_in, scope: "CXS"}``.
- ``POST /track/v1/trackingnumbers``: Bearer; ``{"trackingInfo":[{"trackingNumberInfo":
  {"trackingNumber"}}], "includeDetailedScans"}``, at most 30 → ``output.completeTrackResults[]
  .trackResults[]`` with ``scanEvents[]`` (newest first, as FedEx shows them) and
  ``latestStatusDetail``; an unknown number is a trackResult whose ``error.code`` is
  ``TRACKING.TRACKINGNUMBER.NOTFOUND``.

Errors are ``{transactionId, customerTransactionId?, errors:[{code, message}]}`` with the
published codes (401 ``NOT.AUTHORIZED.ERROR``, 500 ``INTERNAL.SERVER.ERROR``, 503
``SERVICE.UNAVAILABLE.ERROR``, 400 ``TRACKING.TRACKINGNUMBER.EMPTY``). FedEx publishes no
code for more than 30 numbers or for a 429: ``TRACKING.TRACKINGNUMBER.LIMIT.EXCEEDED`` and
``TOO.MANY.REQUESTS.ERROR`` stand in for them.
"""

from __future__ import annotations

import uuid
from http import HTTPStatus
from typing import Any, NamedTuple

from gateway.models import Status
from gateway.testkit.carrier_api.core import (
    CarrierSpec,
    Incoming,
    Reply,
    SimEvent,
    World,
    iso_offset,
    json_reply,
)

ID = "fedex"
BATCH_LIMIT = 30


class Code(NamedTuple):
    """``eventType``, ``derivedStatusCode``, ``derivedStatus`` and the usual description."""

    event_type: str
    derived: str
    derived_text: str
    text: str


# adapters/fedex.py: derivedStatusCode first, then eventType; both name the same status here.
CODES: dict[Status, Code] = {
    Status.INFO_RECEIVED: Code("OC", "OC", "Label created", "Shipment information sent to FedEx"),
    Status.IN_TRANSIT: Code("AR", "IT", "In transit", "Arrived at FedEx location"),
    Status.OUT_FOR_DELIVERY: Code("OD", "OD", "Out for delivery", "On FedEx vehicle for delivery"),
    Status.AVAILABLE_FOR_PICKUP: Code(
        "HL", "HL", "Ready for pickup", "Ready for pickup at FedEx location"
    ),
    Status.DELIVERED: Code("DL", "DL", "Delivered", "Delivered"),
    Status.EXCEPTION: Code("DE", "DE", "Delivery exception", "Delivery exception"),
    Status.RETURNED: Code("RS", "RS", "Return to shipper", "Returning package to shipper"),
    Status.CANCELLED: Code("CA", "CA", "Cancelled", "Shipment cancelled by sender"),
}

_MESSAGES = {
    "NOT.AUTHORIZED.ERROR": "Access token expired. Please modify your request and try again.",
    "INVALID.TOKEN": "The given JWT is invalid. Please modify your request and try again.",
    "BAD.CLIENT": "The given client credentials were not valid. Please modify your request "
    "and try again.",
    "TRACKING.TRACKINGNUMBER.EMPTY": "Please provide tracking number.",
    "TRACKING.TRACKINGNUMBER.LIMIT.EXCEEDED": "Please limit the request to 30 tracking numbers.",
    "INTERNAL.SERVER.ERROR": "We encountered an unexpected error and are working to resolve "
    "the issue. We apologize for any inconvenience. Please check back at a later time.",
    "SERVICE.UNAVAILABLE.ERROR": "The service is currently unavailable and we are working to "
    "resolve the issue. We apologize for any inconvenience. Please check back at a later time.",
    "TOO.MANY.REQUESTS.ERROR": "We have received too many requests in a short duration. "
    "Please wait a while to try again.",
}


def _errors(status: int, code: str, message: str, customer_id: str = "") -> Reply:
    body: dict[str, Any] = {"transactionId": str(uuid.uuid4())}
    if customer_id:
        body["customerTransactionId"] = customer_id
    body["errors"] = [{"code": code, "message": message}]
    return json_reply(status, body)


def fault(status: int) -> Reply:
    code = {
        429: "TOO.MANY.REQUESTS.ERROR",
        500: "INTERNAL.SERVER.ERROR",
        503: "SERVICE.UNAVAILABLE.ERROR",
    }.get(status)
    if code is None:
        return _errors(status, f"HTTP.{status}.ERROR", HTTPStatus(status).phrase)
    return _errors(status, code, _MESSAGES[code])


def _token(world: World, request: Incoming) -> Reply:
    form = request.form()
    if form.get("grant_type") != "client_credentials":
        return _errors(400, "BAD.REQUEST.ERROR", "The given grant_type is not supported.")
    if not world.client_ok(ID, form.get("client_id"), form.get("client_secret")):
        return _errors(401, "NOT.AUTHORIZED.ERROR", _MESSAGES["BAD.CLIENT"])
    token, seconds = world.issue_token(ID)
    return json_reply(
        200, {"access_token": token, "token_type": "bearer", "expires_in": seconds, "scope": "CXS"}
    )


def _location(event: SimEvent) -> dict[str, Any]:
    return {
        "streetLines": [""],
        "city": event.city.upper(),
        "stateOrProvinceCode": event.region,
        "postalCode": event.postal_code,
        "countryCode": event.country,
        "residential": False,
    }


def _scan(event: SimEvent) -> dict[str, Any]:
    code = CODES[event.status]
    return {
        "date": iso_offset(event.local),
        "eventType": code.event_type,
        "eventDescription": event.text(code.text),
        "exceptionCode": "",
        "exceptionDescription": "",
        "scanLocation": _location(event),
        "locationType": "FEDEX_FACILITY",
        "derivedStatusCode": code.derived,
        "derivedStatus": code.derived_text,
    }


def _result(world: World, number: str) -> dict[str, Any]:
    shipment = world.shipment(ID, number)
    if shipment is None:
        return {
            "trackingNumberInfo": {
                "trackingNumber": number,
                "carrierCode": "",
                "trackingNumberUniqueId": "",
            },
            "error": {
                "code": "TRACKING.TRACKINGNUMBER.NOTFOUND",
                "message": "Tracking number cannot be found. Please correct the tracking "
                "number and try again.",
            },
        }
    events = shipment.visible(world.now())
    result: dict[str, Any] = {
        "trackingNumberInfo": {
            "trackingNumber": number,
            "carrierCode": "FDXG",
            "trackingNumberUniqueId": f"12024~{number}~FDEG",
        },
    }
    dates: list[dict[str, str]] = []
    if events:
        latest, code = events[-1], CODES[events[-1].status]
        result["latestStatusDetail"] = {
            "code": code.derived,
            "derivedCode": code.derived,
            "statusByLocale": code.derived_text,
            "description": latest.text(code.text),
            "scanLocation": _location(latest),
        }
        if latest.status is Status.DELIVERED:
            dates.append({"type": "ACTUAL_DELIVERY", "dateTime": iso_offset(latest.local)})
            if shipment.signed_by:
                result["deliveryDetails"] = {"receivedByName": shipment.signed_by}
    if shipment.estimated_delivery:
        dates.append({"type": "ESTIMATED_DELIVERY", "dateTime": shipment.estimated_delivery})
    result["dateAndTimes"] = dates
    result["scanEvents"] = [_scan(e) for e in reversed(events)]
    return result


def _track(world: World, request: Incoming) -> Reply:
    customer_id = request.header("x-customer-transaction-id")
    state = world.token_state(ID, request.bearer())
    if state != "valid":
        key = "NOT.AUTHORIZED.ERROR" if state == "expired" else "INVALID.TOKEN"
        return _errors(401, "NOT.AUTHORIZED.ERROR", _MESSAGES[key], customer_id)
    try:
        items = request.json().get("trackingInfo")
        numbers = [str(i["trackingNumberInfo"]["trackingNumber"]).strip() for i in items or []]
    except (ValueError, AttributeError, KeyError, TypeError):
        return _errors(
            400, "INVALID.INPUT.EXCEPTION", "Invalid field value in the input", customer_id
        )
    if not numbers or not all(numbers):
        code = "TRACKING.TRACKINGNUMBER.EMPTY"
        return _errors(400, code, _MESSAGES[code], customer_id)
    if len(numbers) > BATCH_LIMIT:
        code = "TRACKING.TRACKINGNUMBER.LIMIT.EXCEEDED"
        return _errors(400, code, _MESSAGES[code], customer_id)
    complete = [{"trackingNumber": n, "trackResults": [_result(world, n)]} for n in numbers]
    body: dict[str, Any] = {"transactionId": str(uuid.uuid4())}
    if customer_id:
        body["customerTransactionId"] = customer_id
    body["output"] = {"completeTrackResults": complete}
    return json_reply(200, body)


def handle(world: World, request: Incoming) -> Reply:
    if request.method == "POST" and request.path == "/oauth/token":
        return _token(world, request)
    if request.method == "POST" and request.path == "/track/v1/trackingnumbers":
        return _track(world, request)
    message = "The resource you requested is no longer available. Please modify your request "
    return _errors(404, "NOT.FOUND.ERROR", message + "and try again.")


SPEC = CarrierSpec(id=ID, kind="oauth_client", codes=CODES, handle=handle, fault=fault)
