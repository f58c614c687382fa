"""AfterShip Tracking webhooks: ``{event, event_id, msg: Tracking, ts}``.

Signature: ``aftership-hmac-sha256`` = base64 HMAC-SHA256 of the raw body, keyed with the
secret as UTF-8. Nothing time-bound is signed (``ts`` is not), so no tolerance applies:
AfterShip retries for ~68 h and dedupe handles replays.

Each of ``msg.checkpoints`` (the full history) is an event: status from ``tag``, refined
by ``subtag`` (tables below; enums are open strings, unknown tags become ``unknown``);
``carrier_code`` is the subtag, else the tag. A naïve ``checkpoint_time`` is local wall
time, assumed UTC. ISO alpha-3 countries convert only through the table below (others
are kept as ``country_raw``). Event types other than ``tracking_update`` (``edd_revise``,
``tracking_pending_time``) carry no new checkpoint and are acknowledged and ignored.

A ``tracking_update`` without checkpoints (a tracking marked completed, a carrier that
gives only a status) still carries the tracking's ``tag``/``subtag``: it becomes one event
(``metadata["event_kind"] = "shipment_status"``) timed by ``shipment_delivery_date`` when
delivered, else by ``updated_at`` (named in ``metadata["time_field"]``); with neither, or
with no tag at all, the delivery is ignored with the reason.
"""

from __future__ import annotations

from typing import Any

from gateway.carriers.adapter import (
    Adapter,
    Delivery,
    ParsedEvent,
    ParseResult,
    shipment_status_metadata,
)
from gateway.carriers.payload import (
    as_list,
    as_object,
    country_code,
    load_object,
    location,
    required_text,
    text,
)
from gateway.carriers.status import Refine, StatusTable, status_of
from gateway.carriers.timeparse import parse_instant
from gateway.errors import ParseError
from gateway.models import Status
from gateway.signing.spec import SignatureSpec

HEADER = "aftership-hmac-sha256"

# AfterShip's documented tags are these nine only (aftership.com/docs/tracking enum
# delivery-statuses; SDK enum TagV1): there is no ``Returned`` tag. A return is ``Exception``
# with subtag Exception_010/011 (SDK Tracking.return_to_sender doc), so a ``Returned_001``
# subtag is undocumented and stays ``unknown``.
# Subtags refine the tag only when they belong to it (``Exception_010`` under ``Exception``).
STATUSES = StatusTable(
    main={
        "pending": Status.PENDING,
        "inforeceived": Status.INFO_RECEIVED,
        "intransit": Status.IN_TRANSIT,
        "outfordelivery": Status.OUT_FOR_DELIVERY,
        "attemptfail": Status.ATTEMPT_FAIL,
        "delivered": Status.DELIVERED,
        "availableforpickup": Status.AVAILABLE_FOR_PICKUP,
        "exception": Status.EXCEPTION,
        "expired": Status.EXPIRED,
    },
    refinements={
        ("exception", "exception_002"): Refine(detail="customer_moved"),
        ("exception", "exception_003"): Refine(detail="refused"),
        ("exception", "exception_004"): Refine(detail="customs_hold"),
        ("exception", "exception_006"): Refine(detail="held_for_payment"),
        ("exception", "exception_007"): Refine(detail="address_issue"),
        ("exception", "exception_010"): Refine(Status.RETURNED, "returning_to_sender"),
        ("exception", "exception_011"): Refine(Status.RETURNED, "returned_to_sender"),
        ("exception", "exception_012"): Refine(detail="damaged"),
        ("exception", "exception_013"): Refine(detail="lost"),
        ("exception", "exception_017"): Refine(detail="weather_delay"),
        ("exception", "exception_018"): Refine(detail="documents_issue"),
        ("delivered", "delivered_002"): Refine(detail="picked_up_by_customer"),
        ("delivered", "delivered_005"): Refine(detail="delivered_to_neighbour"),
    },
    columns=("tag", "subtag"),
)
ISO3_TO_ISO2: dict[str, str] = {
    "USA": "US", "CAN": "CA", "MEX": "MX", "BRA": "BR", "GBR": "GB", "IRL": "IE",
    "DEU": "DE", "FRA": "FR", "ITA": "IT", "ESP": "ES", "PRT": "PT", "NLD": "NL",
    "BEL": "BE", "LUX": "LU", "CHE": "CH", "AUT": "AT", "POL": "PL", "CZE": "CZ",
    "DNK": "DK", "SWE": "SE", "NOR": "NO", "FIN": "FI", "CHN": "CN", "HKG": "HK",
    "TWN": "TW", "JPN": "JP", "KOR": "KR", "SGP": "SG", "IND": "IN", "AUS": "AU",
    "NZL": "NZ", "ARE": "AE",
}  # fmt: skip


def _coordinate(point: dict[str, Any]) -> tuple[float | None, float | None]:
    spot = point.get("coordinate")
    if isinstance(spot, dict):
        lat, lon = spot.get("latitude"), spot.get("longitude")
        if (
            isinstance(lat, int | float)
            and isinstance(lon, int | float)
            and abs(lat) <= 90
            and abs(lon) <= 180
        ):
            return float(lat), float(lon)
    return None, None


def _eta(tracking: dict[str, Any]) -> str | None:
    estimate = tracking.get("aftership_estimated_delivery_date")
    if isinstance(estimate, dict) and text(estimate.get("estimated_delivery_date")):
        return text(estimate.get("estimated_delivery_date"))
    return text(tracking.get("expected_delivery"))


def _event(raw: object, tracking: dict[str, Any], tracking_number: str) -> ParsedEvent:
    point = as_object(raw, "checkpoint")
    stamp = text(point.get("checkpoint_time"))
    if stamp is None:
        raise ParseError("checkpoint has no checkpoint_time")
    occurred_at, tz_source, local = parse_instant(stamp, "checkpoint_time", where="checkpoint")
    tag, subtag = text(point.get("tag")), text(point.get("subtag"))
    status, detail = status_of(STATUSES, tag, subtag)
    metadata = {k: found for k in ("slug", "raw_tag") if (found := text(point.get(k)))}
    lat, lon = _coordinate(point)
    place = location(
        {
            "city": text(point.get("city")),
            "region": text(point.get("state")),
            "postal_code": text(point.get("postal_code")) or text(point.get("zip")),
            "country": country_code(
                text(point.get("country_region")) or text(point.get("country_iso3")),
                metadata,
                table=ISO3_TO_ISO2,
            ),
            "lat": lat,
            "lon": lon,
        }
    )
    return ParsedEvent(
        tracking_number=tracking_number,
        status=status,
        occurred_at=occurred_at,
        tz_source=tz_source,
        occurred_at_local=local,
        carrier_code=subtag or tag,
        carrier_text=text(point.get("message")),
        detail=detail,
        location=place,
        estimated_delivery=_eta(tracking),
        signed_by=text(tracking.get("signed_by")) if status is Status.DELIVERED else None,
        metadata=metadata,
    )


def _tracking_status(tracking: dict[str, Any], tracking_number: str) -> ParsedEvent | str:
    """The tracking's own tag as one event, or why there is none (no tag, or no time)."""
    tag, subtag = text(tracking.get("tag")), text(tracking.get("subtag"))
    if tag is None and subtag is None:
        return "tracking has no checkpoint and no status"
    status, detail = status_of(STATUSES, tag, subtag)
    delivered = text(tracking.get("shipment_delivery_date"))
    field = "shipment_delivery_date" if status is Status.DELIVERED and delivered else "updated_at"
    stamp = text(tracking.get(field))
    if stamp is None:
        return "tracking has a status but no checkpoint and no time"
    occurred_at, tz_source, local = parse_instant(stamp, field, where="msg")
    facts = {"slug": text(tracking.get("slug"))} | shipment_status_metadata(field)
    return ParsedEvent(
        tracking_number=tracking_number,
        status=status,
        occurred_at=occurred_at,
        tz_source=tz_source,
        occurred_at_local=local,
        carrier_code=subtag or tag,
        carrier_text=text(tracking.get("subtag_message")),
        detail=detail,
        estimated_delivery=_eta(tracking),
        signed_by=text(tracking.get("signed_by")) if status is Status.DELIVERED else None,
        metadata={k: v for k, v in facts.items() if v},
    )


def parse(delivery: Delivery) -> ParseResult:
    """Read a ``tracking_update``; other event types are acknowledged and ignored."""
    payload = load_object(delivery.body)
    delivery_id = text(payload.get("event_id"))
    kind = text(payload.get("event"))
    if kind is None:
        raise ParseError("body has no event type")
    if kind != "tracking_update":
        return ParseResult(delivery_id=delivery_id, ignored=f"{kind[:60]} carries no checkpoint")
    tracking = as_object(payload.get("msg"), "msg")
    tracking_number = required_text(tracking, "tracking_number", "msg")
    checkpoints = as_list(tracking.get("checkpoints") or [], "msg.checkpoints")
    if not checkpoints:
        found = _tracking_status(tracking, tracking_number)
        if isinstance(found, str):
            return ParseResult(delivery_id=delivery_id, ignored=found)
        return ParseResult(events=[found], delivery_id=delivery_id)
    events = [_event(item, tracking, tracking_number) for item in checkpoints]
    return ParseResult(events=events, delivery_id=delivery_id)


ADAPTER = Adapter(
    id="aftership",
    label="AfterShip Tracking",
    docs_url="https://www.aftership.com/docs/tracking/webhook/webhook-overview",
    scheme=SignatureSpec(kind="hmac", header=HEADER, encoding="base64"),
    statuses=STATUSES,
    parse=parse,
    confidence="DOC-EXCERPT",
    identity="`event_id` (kept across retries) for the delivery; each checkpoint by content",
    time_handling="`checkpoint_time` is often naïve local time: kept as local wall time and "
    "assumed UTC (`assumed_utc`); an offset gives `carrier_offset`",
    notes="Full history (`msg.checkpoints`) in every delivery; subtags refine the tag. No "
    "`Returned` tag exists (returns are `Exception` + `Exception_010`/`011`). Without "
    "checkpoints, the tracking's tag is one event (`metadata.event_kind` `shipment_status`) timed "
    "by `shipment_delivery_date` (delivered) else `updated_at`; with no tag or no time the "
    "delivery is ignored with the reason.",
)
