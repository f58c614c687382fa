"""UPS Track Alert (API v1 and v2): one tracking event for one package per POST.

Authentication (UPS signs nothing; no timestamp, so dedupe handles replays):

- v1: header ``credential`` = the opaque string given at subscription, compared in
  constant time with the tenant's key set (the declarative ``token`` scheme below).
- v2 (inferred: UPS's ``clientOauth2`` scheme "presumably" sends a bearer): UPS fetches a
  token from ``POST /oauth/{tenant}/ups/token`` (:mod:`gateway.api.oauth`, client id from the
  tenant option ``oauth_client_id``, client secret in slot ``ups.oauth``), then posts with
  ``Authorization: Bearer <token>`` and ``x-api-key: <client id>``. A delivery with a
  bearer is verified as v2 only (never falls back to v1); any other one as v1.

Parse: ``gmtActivityDate``/``gmtActivityTime`` are the UTC truth (the published local
samples are inconsistent); the local pair is kept as wall time. Status maps on
``activityStatus.code`` first (``OT``), then ``type``. Type ``U`` only moves the ETA,
which the store cannot express yet: it becomes ``in_transit`` with detail ``eta_update``.
``deliveryPhoto`` (base64 image) is never kept.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from gateway.carriers.adapter import (
    Adapter,
    Delivery,
    ParsedEvent,
    ParseResult,
    Secrets,
    spec_request,
)
from gateway.carriers.payload import address, as_object, load_object, required_text, text
from gateway.carriers.status import ANY, Refine, StatusTable, status_of
from gateway.errors import ParseError
from gateway.models import Location, Status, TzSource
from gateway.signing.bearer import issue_token, verify_bearer
from gateway.signing.spec import SignatureSpec, verify_spec

ADAPTER_ID = "ups"
OAUTH_SLOT = "oauth"
USER_AGENT = "UPSPubSubTrackingService"
SCHEME = SignatureSpec(
    kind="token",
    header="credential",
    rotation="v1: the current credential and unexpired previous ones are all accepted (UPS "
    "sends a new one only after a resubscription); v2: a token verifies under any valid "
    "`ups.oauth` secret, so tokens issued before a rotation work through the grace period",
)

# Main code: ``activityStatus.type``; ``code`` OT refines any type ("D" also covers "out
# for delivery" per the FAQ). Type U only revises the ETA: detail ``eta_update``.
STATUSES = StatusTable(
    main={
        "m": Status.INFO_RECEIVED,
        "mv": Status.CANCELLED,
        "i": Status.IN_TRANSIT,
        "u": Status.IN_TRANSIT,
        "x": Status.EXCEPTION,
        "d": Status.DELIVERED,
    },
    refinements={(ANY, "ot"): Refine(Status.OUT_FOR_DELIVERY)},
    details={"u": "eta_update"},
    columns=("type", "code"),
)
METADATA_FIELDS: dict[str, str] = {
    "gmtOffset": "gmt_offset",
    "alternateTrackingNumber": "alternate_tracking_number",
    "deliveryStartTime": "delivery_start_time",
    "deliveryEndTime": "delivery_end_time",
    "deliveryTimeDescription": "delivery_time_description",
}
_DATE, _TIME = re.compile(r"\d{8}"), re.compile(r"\d{6}")
_OFFSET = re.compile(r"([+-])(\d{2})\.(\d{2})")


def verify(delivery: Delivery, secrets: Sequence[str], now: float) -> None:
    """v2 when a bearer token is presented, else v1's ``credential``; both fail closed."""
    scheme, _, token = (delivery.header("authorization") or "").strip().partition(" ")
    if scheme.lower() != "bearer":
        verify_spec(SCHEME, spec_request(delivery), secrets, now)
        return
    verify_bearer(
        token.strip(),
        tenant=delivery.tenant,
        carrier=ADAPTER_ID,
        client_id=delivery.header("x-api-key"),
        secrets=secrets.slot(OAUTH_SLOT) if isinstance(secrets, Secrets) else [],
        now=now,
    )


def sign_v2(client_id: str, client_secret: str, now: float, *, tenant: str) -> dict[str, str]:
    """The headers of a v2 delivery: a token as our endpoint issues it, and ``x-api-key``."""
    token = issue_token(
        tenant=tenant, carrier=ADAPTER_ID, client_id=client_id, secret=client_secret, now=now
    )
    return {"Authorization": f"Bearer {token}", "x-api-key": client_id, "User-Agent": USER_AGENT}


def _wall(date: str | None, time: str | None, what: str) -> datetime | None:
    """``YYYYMMDD`` + ``HHMMSS`` as a naïve datetime; ``None`` when either is blank."""
    if date is None or time is None:
        return None
    try:  # fixed-width digits: the same result as strptime("%Y%m%d%H%M%S"), 8x cheaper
        if _DATE.fullmatch(date) and _TIME.fullmatch(time):
            hms = int(time[:2]), int(time[2:4]), int(time[4:])
            return datetime(int(date[:4]), int(date[4:6]), int(date[6:]), *hms)
    except ValueError:
        pass
    raise ParseError(f"{what} date or time is unreadable")


def _day(date: str | None) -> str | None:
    """``YYYYMMDD`` as ISO ``YYYY-MM-DD`` (anything else unchanged)."""
    if date and _DATE.fullmatch(date):
        return f"{date[:4]}-{date[4:6]}-{date[6:]}"
    return date


def _when(event: dict[str, Any]) -> tuple[datetime, TzSource, str | None]:
    """GMT pair → ``carrier_utc``; else local + ``gmtOffset`` → ``carrier_offset``; else
    local → ``assumed_utc``; else a bare date → ``date_only``."""
    local_date, gmt_date = text(event.get("localActivityDate")), text(event.get("gmtActivityDate"))
    local = _wall(local_date, text(event.get("localActivityTime")), "localActivity")
    gmt = _wall(gmt_date, text(event.get("gmtActivityTime")), "gmtActivity")
    wall = local.isoformat() if local else _day(local_date)
    offset = _OFFSET.fullmatch(text(event.get("gmtOffset")) or "")
    if gmt is not None:
        return gmt.replace(tzinfo=UTC), TzSource.CARRIER_UTC, wall
    if local is not None and offset:
        sign = -1 if offset.group(1) == "-" else 1
        shift = timedelta(hours=int(offset.group(2)), minutes=int(offset.group(3))) * sign
        return (local - shift).replace(tzinfo=UTC), TzSource.CARRIER_OFFSET, wall
    if local is not None:
        return local.replace(tzinfo=UTC), TzSource.ASSUMED_UTC, wall
    day = _wall(local_date or gmt_date, "000000", "activity")
    if day is None:
        raise ParseError("event has no activity date")
    return day.replace(tzinfo=UTC), TzSource.DATE_ONLY, wall


def _location(raw: object, metadata: dict[str, str]) -> Location:
    place = as_object(raw or {}, "activityLocation")
    return address(place, metadata, region="stateProvince", postal="postalCode")


def parse(delivery: Delivery) -> ParseResult:
    """Read the one event of a Track Alert POST."""
    event = load_object(delivery.body)
    tracking_number = required_text(event, "trackingNumber", "event").upper()
    activity = as_object(event.get("activityStatus"), "activityStatus")
    kind = (text(activity.get("type")) or "").lower()
    code = (text(activity.get("code")) or "").lower()
    status, detail = status_of(STATUSES, kind, code)
    occurred_at, tz_source, local = _when(event)
    metadata = {
        key: found for raw, key in METADATA_FIELDS.items() if (found := text(event.get(raw)))
    }
    if description_code := text(activity.get("descriptionCode")):
        metadata["description_code"] = description_code
    if actual := _day(text(event.get("actualDeliveryDate"))):
        clock = text(event.get("actualDeliveryTime")) or ""
        metadata["actual_delivery"] = (
            f"{actual}T{clock[:2]}:{clock[2:4]}:{clock[4:]}" if _TIME.fullmatch(clock) else actual
        )
    parsed = ParsedEvent(
        tracking_number=tracking_number,
        status=status,
        occurred_at=occurred_at,
        tz_source=tz_source,
        occurred_at_local=local,
        carrier_code="/".join(p for p in (kind.upper(), code.upper()) if p) or None,
        carrier_text=text(activity.get("description")),
        detail=detail,
        location=_location(event.get("activityLocation"), metadata),
        estimated_delivery=_day(text(event.get("scheduledDeliveryDate"))),
        signed_by=text(event.get("receivedBy")),
        metadata=metadata,
        eta_only=kind == "u",
    )
    return ParseResult(events=[parsed])


ADAPTER = Adapter(
    id=ADAPTER_ID,
    label="UPS Track Alert",
    docs_url="https://developer.ups.com/tag/Track-Alert",
    scheme=SCHEME,
    statuses=STATUSES,
    parse=parse,
    verify=verify,
    confidence="CONFIRMED",
    identity="none: the delivery by body hash; the event by content (tracking number, "
    "`type/code`, GMT instant, location, description)",
    time_handling="`gmtActivityDate`+`gmtActivityTime` are UTC (`carrier_utc`); the local "
    "pair is kept as wall time. Without GMT fields: local time with v2 `gmtOffset` "
    "(`carrier_offset`), else assumed UTC (`assumed_utc`), else the date (`date_only`)",
    notes="v1 (`credential` header) is CONFIRMED. v2 is inferred from UPS's `clientOauth2` "
    "scheme: UPS gets a token from `POST /oauth/{tenant}/ups/token` (client_credentials, "
    "client_secret_basic; tenant option `oauth_client_id`, secret slot `ups.oauth`) and "
    "sends `Authorization: Bearer` + `x-api-key` (client id). Status on `code` first "
    "(`OT`), then `type`. Type `U` (new ETA) is stored as `in_transit`/`eta_update`. "
    "One event per POST; blank strings are absent; `deliveryPhoto` is dropped.",
)
