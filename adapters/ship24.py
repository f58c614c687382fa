"""Ship24 webhooks: ``{trackings: [{tracker, shipment, events}]}``, one or several per POST.

Authentication: ``Authorization: Bearer <webhook secret>``, a static secret that does
not cover the body (there is no HMAC), compared in constant time.

Every event of every tracking is an event. Status comes from the event's
``statusMilestone`` (the shipment's overall status when the event happened), refined
by its ``statusCode`` where the table below lists it; ``carrier_code`` is the
``statusCode`` (empty on minor events), else the milestone. ``occurrenceDatetime`` is
naïve local time: kept as local wall time and assumed UTC. ``eventId`` (a UUID) is kept
in metadata. A tracking that cannot be read goes to ``ParseResult.failures``; the
others are returned.

A tracking without events stands for its ``shipment`` status: one event
(``metadata["event_kind"] = "shipment_status"``) timed by the ``statistics.timestamps`` entry
of that milestone (``deliveredDatetime`` for ``delivered``…). Without that time (a
``pending`` tracking has none) or without a status, it yields nothing; a body that yields
no event at all is ignored with the reason.

Polling (:data:`POLLING`): ``POST /public/v1/trackers/track`` creates the tracker if needed
and answers ``data.trackings[]`` of the webhook's shape, read by the same code; its
``trackerId`` is kept as the ref (informational: the call is idempotent, so it is made
every time). A ``pending`` tracking without events is an *unknown* number (Ship24 has
found nothing yet: retried on the pre-transit interval, retired after the idle limit).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

from gateway.carriers.adapter import (
    Adapter,
    Delivery,
    ParsedEvent,
    ParseResult,
    shipment_status_metadata,
)
from gateway.carriers.payload import as_list, as_object, collect, load_object, required_text, text
from gateway.carriers.polling import (
    BAD_ANSWER,
    JSON_HEADERS,
    ApiCredentials,
    Exchange,
    Findings,
    HttpCall,
    Polling,
    PollResult,
    PollTarget,
    answers_for,
    carrier_error_code,
    check_status,
    json_body,
    read_object,
    reading,
)
from gateway.carriers.status import ANY, Refine, StatusTable, status_of
from gateway.carriers.timeparse import parse_instant
from gateway.errors import ItemIgnored
from gateway.models import Status
from gateway.signing.spec import SignatureSpec

HEADER = "Authorization"
LABEL = "Ship24"
TRACK_PATH = "/public/v1/trackers/track"
NOT_FOUND = frozenset({"tracker_not_found", "parcel_not_found"})
QUOTA = {"quota_limit_reached": "quota_exhausted"}  # 403 or 405 (Ship24's SDK)

# ``statusCode`` values decide the status whatever the milestone says (only the
# documented ones: other codes are kept as ``carrier_code`` and leave the milestone's).
# Codes other than delivery_delivered: Ship24's statusCode list (POLLING.md §4, from
# ship24/ship24-ai-plugin data/statuses.json and docs.ship24.com/status); kept only where the
# code alone names a canonical status (customs_*, transit_*… leave the milestone's).
STATUSES = StatusTable(
    main={
        "pending": Status.PENDING,
        "info_received": Status.INFO_RECEIVED,
        "in_transit": Status.IN_TRANSIT,
        "out_for_delivery": Status.OUT_FOR_DELIVERY,
        "failed_attempt": Status.ATTEMPT_FAIL,
        "available_for_pickup": Status.AVAILABLE_FOR_PICKUP,
        "delivered": Status.DELIVERED,
        "exception": Status.EXCEPTION,
    },
    refinements={
        (ANY, "delivery_delivered"): Refine(Status.DELIVERED),
        (ANY, "delivery_out_for_delivery"): Refine(Status.OUT_FOR_DELIVERY),
        (ANY, "delivery_attempted"): Refine(Status.ATTEMPT_FAIL),
        (ANY, "delivery_available_for_pickup"): Refine(Status.AVAILABLE_FOR_PICKUP),
        (ANY, "exception_return"): Refine(Status.RETURNED),
        (ANY, "data_order_cancelled"): Refine(Status.CANCELLED),
    },
    columns=("statusMilestone", "statusCode"),
)
# The ``statistics.timestamps`` entry that dates each milestone (Ship24 OpenAPI
# spec/ship24-tracking-api.yaml, example response-result-tracker; POLLING.md §4).
MILESTONE_TIMES: dict[str, str] = {
    "info_received": "infoReceivedDatetime",
    "in_transit": "inTransitDatetime",
    "out_for_delivery": "outForDeliveryDatetime",
    "failed_attempt": "failedAttemptDatetime",
    "available_for_pickup": "availableForPickupDatetime",
    "exception": "exceptionDatetime",
    "delivered": "deliveredDatetime",
}


def _delivery(tracking: dict[str, Any]) -> dict[str, Any]:
    shipment = tracking.get("shipment")
    delivery = shipment.get("delivery") if isinstance(shipment, dict) else None
    return delivery if isinstance(delivery, dict) else {}


def _event(raw: object, tracking: dict[str, Any], number: str, what: str) -> ParsedEvent:
    item = as_object(raw, what)
    stamp = text(item.get("occurrenceDatetime"))
    occurred_at, tz_source, local = parse_instant(stamp, "occurrenceDatetime", where=what)
    milestone, code = text(item.get("statusMilestone")), text(item.get("statusCode"))
    status, detail = status_of(STATUSES, milestone, code)
    raw_meta = {
        "event_id": item.get("eventId"),
        "status_milestone": milestone,
        "status_category": item.get("statusCategory"),
        "courier_code": item.get("courierCode"),
        "location_raw": item.get("location"),
    }
    metadata = {k: found for k, v in raw_meta.items() if (found := text(v))}
    delivery = _delivery(tracking)
    signer = text(delivery.get("signedBy"))
    return ParsedEvent(
        tracking_number=number,
        status=status,
        occurred_at=occurred_at,
        tz_source=tz_source,
        occurred_at_local=local,
        carrier_code=code or milestone,
        carrier_text=text(item.get("status")),
        detail=detail,
        estimated_delivery=text(delivery.get("estimatedDeliveryDate")),
        signed_by=signer if status is Status.DELIVERED else None,
        metadata=metadata,
    )


def _shipment_status(tracking: dict[str, Any], number: str, what: str) -> ParsedEvent | str:
    """A tracking without events: its shipment status as one event, or why not."""
    shipment = tracking.get("shipment")
    shipment = shipment if isinstance(shipment, dict) else {}
    milestone, code = text(shipment.get("statusMilestone")), text(shipment.get("statusCode"))
    if milestone is None and code is None:
        return f"{what} has no event and no status"
    statistics = tracking.get("statistics")
    stamps = statistics.get("timestamps") if isinstance(statistics, dict) else None
    field = MILESTONE_TIMES.get((milestone or "").lower())
    stamp = text(stamps.get(field)) if isinstance(stamps, dict) and field else None
    if field is None or stamp is None:
        return f"{what} has a status but no event and no time for it"
    occurred_at, tz_source, local = parse_instant(stamp, field, where=f"{what}.statistics")
    status, detail = status_of(STATUSES, milestone, code)
    facts = {"status_milestone": milestone, "status_category": shipment.get("statusCategory")}
    metadata = {k: found for k, v in facts.items() if (found := text(v))}
    delivery = _delivery(tracking)
    return ParsedEvent(
        tracking_number=number,
        status=status,
        occurred_at=occurred_at,
        tz_source=tz_source,
        occurred_at_local=local,
        carrier_code=code or milestone,
        detail=detail,
        estimated_delivery=text(delivery.get("estimatedDeliveryDate")),
        signed_by=text(delivery.get("signedBy")) if status is Status.DELIVERED else None,
        metadata=metadata | shipment_status_metadata(field),
    )


def _tracking(raw: object, what: str) -> list[ParsedEvent]:
    """Every event of a tracking; without any, its status (else ItemIgnored: why not)."""
    tracking = as_object(raw, what)
    tracker = as_object(tracking.get("tracker"), f"{what}.tracker")
    number = required_text(tracker, "trackingNumber", f"{what}.tracker")
    events = as_list(tracking.get("events"), f"{what}.events")
    if events:
        return [_event(e, tracking, number, f"{what}.events[{i}]") for i, e in enumerate(events)]
    found = _shipment_status(tracking, number, what)
    if isinstance(found, str):
        raise ItemIgnored(found)
    return [found]


def parse(delivery: Delivery) -> ParseResult:
    """Every event of every tracking; unreadable trackings become failures."""
    body = load_object(delivery.body)
    trackings = as_list(body.get("trackings"), "trackings", required=True)
    events, failures, ignored = collect(trackings, _tracking, "trackings[{}]")
    return ParseResult(events=events, failures=failures, ignored_items=ignored)


# --- polling: create-and-track (POST /public/v1/trackers/track) -------------------------


def _track_call(target: PollTarget, credentials: ApiCredentials) -> HttpCall:
    headers = {**JSON_HEADERS, "Authorization": f"Bearer {credentials.api_key}"}
    return HttpCall(
        "POST", TRACK_PATH, headers, json_body({"trackingNumber": target.tracking_number})
    )


def poll_calls(
    targets: Sequence[PollTarget], credentials: ApiCredentials, exchanges: Sequence[Exchange]
) -> list[HttpCall]:
    """One create-and-track per number (idempotent for the same fields)."""
    return [] if exchanges else [_track_call(t, credentials) for t in targets]


def _pending(tracking: object) -> bool:
    """A tracking Ship24 has nothing on yet: milestone ``pending`` and no event."""
    if not isinstance(tracking, dict) or tracking.get("events"):
        return False
    shipment = tracking.get("shipment")
    milestone = text(shipment.get("statusMilestone")) if isinstance(shipment, dict) else None
    return (milestone or "pending").lower() == "pending"


def poll_read(targets: Sequence[PollTarget], exchanges: Sequence[Exchange]) -> PollResult:
    """``data.trackings[]`` read like a webhook's; ``trackerId`` is the ref. A ``pending``
    tracking without events, or a 404 ``tracker_not_found``/``parcel_not_found``, is unknown."""
    findings = Findings()
    empty = ApiCredentials()
    for target, answer in answers_for(targets, exchanges, lambda t: _track_call(t, empty)):
        number = target.tracking_number
        if answer.status == 404 and carrier_error_code(answer.body) in NOT_FOUND:
            findings.unknown.add(number)
            continue
        check_status(answer, LABEL, QUOTA)
        with reading(LABEL):
            data = as_object(read_object(answer, LABEL).get("data"), "data")
            trackings = as_list(data.get("trackings"), "data.trackings", required=True)
        if not trackings:
            findings.fail(number, BAD_ANSWER, "data.trackings is empty")
        for i, raw in enumerate(trackings):
            tracker = raw.get("tracker") if isinstance(raw, dict) else None
            ref = text(tracker.get("trackerId")) if isinstance(tracker, dict) else None
            if ref and ref != target.ref:
                findings.refs[number] = ref
            if _pending(raw):
                findings.unknown.add(number)
            else:
                findings.read(number, partial(_tracking, raw, f"data.trackings[{i}]"))
    return findings.result()


POLLING = Polling(
    base_url="https://api.ship24.com",
    batch_size=1,
    credentials="api_key",
    calls=poll_calls,
    read=poll_read,
    docs_url="https://docs.ship24.com/assets/openapi/ship24-tracking-api.yaml",
    confidence="CONFIRMED: the request, the `data.trackings[]` answer (Ship24's OpenAPI "
    "example, the webhook's shape) and the error envelope and codes (official SDK). "
    "INFERRED: `parcel_not_found` as an unknown number on this endpoint",
)


ADAPTER = Adapter(
    id="ship24",
    label="Ship24",
    docs_url="https://docs.ship24.com/webhooks/authentication",
    scheme=SignatureSpec(kind="token", header=HEADER, prefix="Bearer "),
    statuses=STATUSES,
    parse=parse,
    confidence="DOC-EXCERPT",
    identity="the delivery by body hash; each event by content, with Ship24's `eventId` "
    "kept in metadata (two events that differ only in their free-text `location` share "
    "a fingerprint, since that text is not a structured location)",
    time_handling="`occurrenceDatetime` is naïve local time: kept as local wall time and "
    "assumed UTC (`assumed_utc`); an offset or `Z`, if sent, is honoured",
    notes="Static bearer secret: it authenticates the sender but does not bind the body. "
    "`trackings[]` may group several shipments (a dashboard setting); an unreadable "
    "tracking is parked while the others are stored. Fields from docs.ship24.com excerpts. "
    "A tracking without events is one event from its `shipment` status (`metadata.event_kind` "
    "`shipment_status`) timed by `statistics.timestamps` for that milestone; without it "
    "(e.g. `pending`), nothing, and a body with no event at all is ignored with the reason.",
    polling=POLLING,
)
