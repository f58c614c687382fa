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
"""

from __future__ import annotations

from typing import Any

from gateway.adapter import Adapter, Delivery, ParsedEvent, ParseResult, map_status
from gateway.errors import ParseError
from gateway.models import Status
from gateway.payload import (
    as_list,
    as_object,
    country_code,
    load_object,
    location,
    required_text,
    text,
)
from gateway.signing.spec import SignatureSpec
from gateway.timeparse import parse_instant

HEADER = "aftership-hmac-sha256"

STATUS_MAP: dict[str, Status] = {
    "pending": Status.PENDING,
    "inforeceived": Status.INFO_RECEIVED,
    "intransit": Status.IN_TRANSIT,
    "outfordelivery": Status.OUT_FOR_DELIVERY,
    "attemptfail": Status.ATTEMPT_FAIL,
    "delivered": Status.DELIVERED,
    "availableforpickup": Status.AVAILABLE_FOR_PICKUP,
    "exception": Status.EXCEPTION,
    "expired": Status.EXPIRED,
}
# Subtags refine the tag only when they belong to it (``Exception_010`` under ``Exception``).
SUBTAG_STATUS: dict[str, Status] = {
    "exception_010": Status.RETURNED,
    "exception_011": Status.RETURNED,
}
SUBTAG_DETAIL: dict[str, str] = {
    "exception_002": "customer_moved", "exception_003": "refused",
    "exception_004": "customs_hold", "exception_006": "held_for_payment",
    "exception_007": "address_issue", "exception_010": "returning_to_sender",
    "exception_011": "returned_to_sender", "exception_012": "damaged", "exception_013": "lost",
    "exception_017": "weather_delay", "exception_018": "documents_issue",
    "delivered_002": "picked_up_by_customer", "delivered_005": "delivered_to_neighbour",
}  # fmt: skip
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
    status, detail = map_status(STATUS_MAP, tag), None
    if tag and subtag and subtag.lower().startswith(tag.lower() + "_"):
        status = SUBTAG_STATUS.get(subtag.lower(), status)
        detail = SUBTAG_DETAIL.get(subtag.lower())
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
    events = [_event(item, tracking, tracking_number) for item in checkpoints]
    return ParseResult(events=events, delivery_id=delivery_id)


ADAPTER = Adapter(
    id="aftership",
    label="AfterShip Tracking",
    docs_url="https://www.aftership.com/docs/tracking/webhook/webhook-overview",
    scheme=SignatureSpec(kind="hmac", header=HEADER, encoding="base64"),
    status_map=STATUS_MAP,
    parse=parse,
    confidence="DOC-EXCERPT",
    identity="`event_id` (kept across retries) for the delivery; each checkpoint by content",
    time_handling="`checkpoint_time` is often naïve local time: kept as local wall time and "
    "assumed UTC (`assumed_utc`); an offset gives `carrier_offset`",
    notes="Full history (`msg.checkpoints`) in every delivery; subtags refine the tag.",
)
