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

Polling (:data:`POLLING`): the Track API, one inquiry number per ``GET``, with an OAuth
client-credentials token (HTTP Basic ``client_id:client_secret``; ``expires_in`` is a
string). ``activity[]`` (newest first) maps through the same status table; the instant is
``gmtDate``/``gmtTime`` when given, else the local ``date``/``time`` with ``gmtOffset``, else
assumed UTC. A 404, or a 200 whose shipment has warning ``TW0001`` and no package, is an
unknown number.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import quote

from gateway.carriers.adapter import (
    Adapter,
    Delivery,
    ParsedEvent,
    ParseResult,
    Secrets,
    spec_request,
)
from gateway.carriers.payload import address, as_list, as_object, load_object, required_text, text
from gateway.carriers.polling import (
    BAD_ANSWER,
    ApiCredentials,
    Exchange,
    Findings,
    HttpCall,
    Polling,
    PollResult,
    PollTarget,
    answers_for,
    check_status,
    client_credentials_grant,
    number_key,
    read_object,
    reading,
)
from gateway.carriers.status import ANY, Refine, StatusTable, status_of
from gateway.errors import ItemIgnored, ParseError
from gateway.models import Location, Status, TzSource
from gateway.signing.bearer import CLIENT_SECRET_RULE, issue_token, verify_bearer
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
_GMT_OFFSET = re.compile(r"([+-])(\d{2}):(\d{2})")  # the Track API writes "-05:00"

LABEL = "UPS"
TOKEN_PATH = "/security/v1/oauth/token"  # noqa: S105 - a path, not a secret
TRACK_PATH = "/api/track/v1/details"
TRACK_QUERY = "?locale=en_US&returnSignature=false&returnMilestones=false&returnPOD=false"
TRANSACTION_SRC = "waybill"
NOT_FOUND_WARNING = "TW0001"


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
    """A Track Alert event's time (:func:`_instant`; ``gmtOffset`` is written ``-05.00``)."""
    return _instant(
        (text(event.get("localActivityDate")), text(event.get("localActivityTime"))),
        (text(event.get("gmtActivityDate")), text(event.get("gmtActivityTime"))),
        _OFFSET.fullmatch(text(event.get("gmtOffset")) or ""),
        ("localActivity", "gmtActivity"),
    )


def _instant(
    local_pair: tuple[str | None, str | None],
    gmt_pair: tuple[str | None, str | None],
    offset: re.Match[str] | None,
    names: tuple[str, str],
) -> tuple[datetime, TzSource, str | None]:
    """GMT pair → ``carrier_utc``; else local + offset → ``carrier_offset``; else
    local → ``assumed_utc``; else a bare date → ``date_only``."""
    (local_date, local_time), (gmt_date, gmt_time) = local_pair, gmt_pair
    local = _wall(local_date, local_time, names[0])
    gmt = _wall(gmt_date, gmt_time, names[1])
    wall = local.isoformat() if local else _day(local_date)
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


# --- polling: the Track API (GET /api/track/v1/details/{inquiryNumber}) ------------------


def _trans_id(number: str, exchanges: int) -> str:
    """``transId`` (32 hex, like UPS's dashless UUID): derived from the number and the count
    of calls already made in this check, since an adapter has no randomness or clock."""
    return hashlib.sha256(f"waybill|{number}|{exchanges}".encode()).hexdigest()[:32]


def _track_call(target: PollTarget, credentials: ApiCredentials, exchanges: int = 0) -> HttpCall:
    number = target.tracking_number
    headers = {
        "Accept": "application/json",
        "Authorization": f"Bearer {credentials.access_token}",
        "transId": _trans_id(number, exchanges),
        "transactionSrc": TRANSACTION_SRC,
    }
    return HttpCall("GET", f"{TRACK_PATH}/{quote(number, safe='')}{TRACK_QUERY}", headers)


def poll_calls(
    targets: Sequence[PollTarget], credentials: ApiCredentials, exchanges: Sequence[Exchange]
) -> list[HttpCall]:
    """One GET per number (the API takes one inquiry number)."""
    return [] if exchanges else [_track_call(t, credentials, len(exchanges)) for t in targets]


def _estimated(package: dict[str, Any]) -> str | None:
    """The rescheduled (``RDD``), else scheduled (``SDD``), delivery date, ISO."""
    dates = {
        text(d.get("type")): text(d.get("date"))
        for d in as_list(package.get("deliveryDate"), "package.deliveryDate")
        if isinstance(d, dict)
    }
    return _day(dates.get("RDD") or dates.get("SDD"))


def _activity(raw: object, package: dict[str, Any], number: str, what: str) -> ParsedEvent:
    """One ``activity[]`` entry: ``gmtDate``/``gmtTime`` give the instant when present."""
    activity = as_object(raw, what)
    status = as_object(activity.get("status") or {}, f"{what}.status")
    kind, code = (text(status.get("type")) or "").lower(), (text(status.get("code")) or "").lower()
    canonical, detail = status_of(STATUSES, kind, code)
    gmt_time = text(activity.get("gmtTime"))
    if gmt_time and gmt_time.isdigit() and len(gmt_time) < 6:  # the spec's example: '74700'
        gmt_time = gmt_time.zfill(6)
    occurred_at, tz_source, local = _instant(
        (text(activity.get("date")), text(activity.get("time"))),
        (text(activity.get("gmtDate")), gmt_time),
        _GMT_OFFSET.fullmatch(text(activity.get("gmtOffset")) or ""),
        (what, f"{what}.gmt"),
    )
    place = as_object(activity.get("location") or {}, f"{what}.location")
    found = place["address"] if isinstance(place.get("address"), dict) else {}
    facts = {
        "status_code": status.get("statusCode"),
        "slic": place.get("slic"),
        "gmt_offset": activity.get("gmtOffset"),
        "logical_scan": "true" if activity.get("logicalScan") is True else None,
        "package_tracking_number": package.get("trackingNumber"),
    }
    metadata = {k: v for k, raw_value in facts.items() if (v := text(raw_value))}
    if number_key(metadata.get("package_tracking_number", number)) == number_key(number):
        metadata.pop("package_tracking_number", None)
    delivered = as_object(package.get("deliveryInformation") or {}, "deliveryInformation")
    return ParsedEvent(
        tracking_number=number,
        status=canonical,
        occurred_at=occurred_at,
        tz_source=tz_source,
        occurred_at_local=local,
        carrier_code="/".join(p for p in (kind.upper(), code.upper()) if p) or None,
        carrier_text=text(status.get("description")),
        detail=detail,
        location=address(
            {**found, "countryCode": found.get("countryCode") or found.get("country")},
            metadata,
            region="stateProvince",
            postal="postalCode",
            country="countryCode",
        ),
        estimated_delivery=_estimated(package),
        signed_by=text(delivered.get("receivedBy")) if canonical is Status.DELIVERED else None,
        metadata=metadata,
        eta_only=kind == "u",
    )


def _package_events(packages: list[Any], number: str) -> list[ParsedEvent]:
    """Every activity of every package (newest first, as UPS lists them)."""
    events = []
    for i, raw in enumerate(packages):
        package = as_object(raw, f"package[{i}]")
        activities = as_list(package.get("activity"), f"package[{i}].activity")
        for j, item in enumerate(activities):
            events.append(_activity(item, package, number, f"package[{i}].activity[{j}]"))
    if not events:
        raise ItemIgnored("the package has no activity yet")
    return events


def _shipments(body: dict[str, Any]) -> tuple[list[Any], set[str]]:
    """The packages of every shipment, and the shipments' warning codes."""
    answer = as_object(body.get("trackResponse"), "trackResponse")
    packages: list[Any] = []
    warnings: set[str] = set()
    for i, raw in enumerate(
        as_list(answer.get("shipment"), "trackResponse.shipment", required=True)
    ):
        shipment = as_object(raw, f"shipment[{i}]")
        packages += as_list(shipment.get("package"), f"shipment[{i}].package")
        for warning in as_list(shipment.get("warnings"), f"shipment[{i}].warnings"):
            if isinstance(warning, dict) and (code := text(warning.get("code"))):
                warnings.add(code)
    return packages, warnings


def poll_read(targets: Sequence[PollTarget], exchanges: Sequence[Exchange]) -> PollResult:
    """Each number's activities; a 404, or a 200 with warning ``TW0001`` and no package,
    is an unknown number."""
    findings = Findings()
    empty = ApiCredentials()
    for target, answer in answers_for(targets, exchanges, lambda t: _track_call(t, empty)):
        number = target.tracking_number
        if answer.status == 404:  # documented: "Tracking number information not found"
            findings.unknown.add(number)
            continue
        check_status(answer, LABEL)
        with reading(LABEL):
            packages, warnings = _shipments(read_object(answer, LABEL))
        if not packages and NOT_FOUND_WARNING in warnings:
            findings.unknown.add(number)
        elif not packages:
            findings.fail(number, BAD_ANSWER, "trackResponse has no package and no TW0001")
        else:
            findings.read(number, partial(_package_events, packages, number))
    return findings.result()


POLLING = Polling(
    base_url="https://onlinetools.ups.com",
    batch_size=1,
    credentials="oauth_client",
    calls=poll_calls,
    read=poll_read,
    token=client_credentials_grant(TOKEN_PATH, "basic", LABEL),
    docs_url="https://github.com/UPS-API/api-documentation/blob/main/Tracking.yaml",
    confidence="CONFIRMED: the token call and answer (`expires_in` a string), the details call "
    "and its headers, `activity[]` newest first with `status.type`/`code` (UPS's sample "
    "response). INFERRED: not-found as HTTP 200 + warning `TW0001` (user reports); the "
    "`gmtDate`/`gmtTime`/`gmtOffset` values (schema only, absent from the sample)",
)


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
    polling=POLLING,
    secret_slots={OAUTH_SLOT: CLIENT_SECRET_RULE},
)
