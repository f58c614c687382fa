"""FedEx shipment-visibility webhooks: Track-API-shaped bodies, several shipments per POST.

Signature: ``fdx-signature`` = base64 HMAC-SHA256 of the raw body, keyed with the
webhook's security token as UTF-8. Nothing time-bound is signed.

The body follows the Track API response (3P: integrators say so; FedEx publishes no
verbatim push): ``output.completeTrackResults[].trackResults[]``, each with
``trackingNumberInfo`` and ``scanEvents[]``. Every scan of every trackResult is an
event. Status comes from ``derivedStatusCode``, else ``eventType`` (table below);
``carrier_code`` is ``eventType`` (else the derived code). A trackResult that cannot be
read goes to ``ParseResult.failures`` (its position and the field at fault, never a
value) and the others are still returned.

A trackResult without ``scanEvents`` stands for its ``latestStatusDetail``: one event
(``metadata["event_kind"] = "shipment_status"``) timed by the ``dateAndTimes`` entry that
dates that status (``STATUS_TIMES``: ``ACTUAL_DELIVERY`` for DL…). Without such a time,
or without a status, it yields nothing; a body that yields no event at all is ignored
with the first such reason.

Polling (:data:`POLLING`): the Track API answers in the very shape the webhook posts, so
each trackResult is read by the same code. Up to 30 numbers per ``POST``, with an OAuth
client-credentials token (id and secret in the form body). A trackResult whose
``error.code`` is ``TRACKING.TRACKINGNUMBER.NOTFOUND`` is an unknown number; any other
error fails that number only.
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
from gateway.carriers.payload import (
    address,
    as_list,
    as_object,
    collect,
    load_object,
    required_text,
    text,
)
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
    check_status,
    chunks,
    client_credentials_grant,
    json_body,
    number_key,
    read_object,
    reading,
)
from gateway.carriers.status import StatusTable, status_of
from gateway.carriers.timeparse import parse_instant
from gateway.errors import ItemIgnored, ParseError
from gateway.models import Status
from gateway.signing.spec import SignatureSpec

HEADER = "fdx-signature"
LABEL = "FedEx"
TOKEN_PATH = "/oauth/token"  # noqa: S105 - a path, not a secret
TRACK_PATH = "/track/v1/trackingnumbers"
BATCH_SIZE = 30  # "trackingInfo … Maximum limit is 30" (FedEx OpenAPI)
# A trackResult error that means "FedEx does not know this number (yet)": the first is what
# third-party clients see for unknown numbers; the second is the spec's "Tracking data
# unavailable" alert.
NOT_FOUND = frozenset({"TRACKING.TRACKINGNUMBER.NOTFOUND", "TRACKING.DATA.NOTFOUND"})

STATUSES = StatusTable(
    main={
        "oc": Status.INFO_RECEIVED, "in": Status.INFO_RECEIVED,
        "pu": Status.IN_TRANSIT, "it": Status.IN_TRANSIT, "ar": Status.IN_TRANSIT,
        "dp": Status.IN_TRANSIT, "af": Status.IN_TRANSIT,
        "od": Status.OUT_FOR_DELIVERY,
        "dl": Status.DELIVERED,
        "de": Status.EXCEPTION, "se": Status.EXCEPTION,
        "ca": Status.CANCELLED,
        "hl": Status.AVAILABLE_FOR_PICKUP,
        "rs": Status.RETURNED,
        # "Arriving early" / "arriving on time": added by FedEx's Track API changelog of
        # 2021-10-15 (POLLING.md §5, CONFIRMED there); both describe a parcel still on its way.
        "ae": Status.IN_TRANSIT, "ao": Status.IN_TRANSIT,
    }
)  # fmt: skip
# Not mapped on purpose: "SP" ("Split status": the pieces of one shipment are in several
# states, per FedEx's Track Service code list as quoted by 3P code) has no single status.
# The ``dateAndTimes[].type`` that dates a latestStatusDetail code (types: FedEx Track API
# OpenAPI TrackingDateAndTime enum, as generated in github alexdupre/fedex-scala and named
# in POLLING.md §5). Only the pairs whose type *is* that status's time; others have none.
STATUS_TIMES: dict[str, str] = {
    "dl": "ACTUAL_DELIVERY",
    "pu": "ACTUAL_PICKUP",
    "oc": "SHIPMENT_DATA_RECEIVED", "in": "SHIPMENT_DATA_RECEIVED",
}  # fmt: skip


def _eta(result: dict[str, Any]) -> str | None:
    """The estimated delivery as given: a ``begins/ends`` window, else a dated instant."""
    window = result.get("estimatedDeliveryTimeWindow")
    span = window.get("window") if isinstance(window, dict) else None
    if isinstance(span, dict):
        bounds = [found for k in ("begins", "ends") if (found := text(span.get(k)))]
        if bounds:
            return "/".join(bounds)
    return _dated(result, "ESTIMATED_DELIVERY")


def _dated(result: dict[str, Any], kind: str) -> str | None:
    """The ``dateTime`` of the ``dateAndTimes`` entry of that type, if any."""
    dated = result.get("dateAndTimes")
    for item in dated if isinstance(dated, list) else []:
        if isinstance(item, dict) and text(item.get("type")) == kind:
            return text(item.get("dateTime"))
    return None


def _metadata(result: dict[str, Any], **extra: object) -> dict[str, str]:
    info = result["trackingNumberInfo"]
    raw = {
        "tracking_number_unique_id": info.get("trackingNumberUniqueId"),
        "fedex_carrier_code": info.get("carrierCode"),
        **extra,
    }
    return {k: found for k, v in raw.items() if (found := text(v))}


def _status(derived: str | None, native: str | None) -> Status:
    """The derived code's status, else the native code's (both are main codes)."""
    status = status_of(STATUSES, derived).status
    return status if status is not Status.UNKNOWN else status_of(STATUSES, native).status


def _signer(result: dict[str, Any], status: Status) -> str | None:
    details = result.get("deliveryDetails")
    signer = text(details.get("receivedByName")) if isinstance(details, dict) else None
    return signer if status is Status.DELIVERED else None


def _scan(raw: object, result: dict[str, Any], number: str, what: str) -> ParsedEvent:
    """One scan of a trackResult whose tracking number is ``number``."""
    scan = as_object(raw, what)
    occurred_at, tz_source, local = parse_instant(text(scan.get("date")), "date", where=what)
    derived, kind = text(scan.get("derivedStatusCode")), text(scan.get("eventType"))
    status = _status(derived, kind)
    metadata = _metadata(
        result, derived_status_code=derived, exception_code=scan.get("exceptionCode")
    )
    return ParsedEvent(
        tracking_number=number,
        status=status,
        occurred_at=occurred_at,
        tz_source=tz_source,
        occurred_at_local=local,
        carrier_code=kind or derived,
        carrier_text=text(scan.get("eventDescription")) or text(scan.get("derivedStatus")),
        location=address(
            scan.get("scanLocation"),
            metadata,
            region="stateOrProvinceCode",
            postal="postalCode",
            country="countryCode",
        ),
        estimated_delivery=_eta(result),
        signed_by=_signer(result, status),
        metadata=metadata,
    )


def _latest_status(result: dict[str, Any], number: str, what: str) -> ParsedEvent | str:
    """A trackResult without scans: its ``latestStatusDetail`` as one event, or why not."""
    latest = result.get("latestStatusDetail")
    latest = latest if isinstance(latest, dict) else {}
    code, derived = text(latest.get("code")), text(latest.get("derivedCode"))
    if code is None and derived is None:
        return f"{what} has no scan event and no status"
    status = _status(derived, code)
    kind = STATUS_TIMES.get((derived or code or "").lower())
    stamp = _dated(result, kind) if kind else None
    if kind is None or stamp is None:
        return f"{what} has a status but no scan event and no time for it"
    occurred_at, tz_source, local = parse_instant(stamp, "dateTime", where=f"{what}.dateAndTimes")
    metadata = _metadata(result, derived_status_code=derived) | shipment_status_metadata(kind)
    return ParsedEvent(
        tracking_number=number,
        status=status,
        occurred_at=occurred_at,
        tz_source=tz_source,
        occurred_at_local=local,
        carrier_code=code or derived,
        carrier_text=text(latest.get("description")) or text(latest.get("statusByLocale")),
        location=address(
            latest.get("scanLocation"),
            metadata,
            region="stateOrProvinceCode",
            postal="postalCode",
            country="countryCode",
        ),
        estimated_delivery=_eta(result),
        signed_by=_signer(result, status),
        metadata=metadata,
    )


def _track_result(raw: object, what: str) -> list[ParsedEvent]:
    """The scans of a trackResult; without scans, its status (else ItemIgnored: why not)."""
    result = as_object(raw, what)
    if result.get("error") is not None:
        raise ParseError(f"{what} reports an error")
    info = as_object(result.get("trackingNumberInfo"), f"{what}.trackingNumberInfo")
    number = required_text(info, "trackingNumber", f"{what}.trackingNumberInfo")
    scans = as_list(result.get("scanEvents"), f"{what}.scanEvents")
    if scans:
        return [_scan(s, result, number, f"{what}.scanEvents[{i}]") for i, s in enumerate(scans)]
    found = _latest_status(result, number, what)
    if isinstance(found, str):
        raise ItemIgnored(found)
    return [found]


def parse(delivery: Delivery) -> ParseResult:
    """Every scan of every trackResult; unreadable trackResults become failures."""
    body = load_object(delivery.body)
    output = as_object(body.get("output"), "output")
    complete = as_list(
        output.get("completeTrackResults"), "output.completeTrackResults", required=True
    )
    events: list[ParsedEvent] = []
    failures: list[str] = []
    ignored: list[str] = []
    for i, group in enumerate(complete):
        where = f"completeTrackResults[{i}]"
        results = as_list(as_object(group, where).get("trackResults"), f"{where}.trackResults")
        read = collect(results, _track_result, where + ".trackResults[{}]")
        events += read.found
        failures += read.failures
        ignored += read.ignored
    return ParseResult(events=events, failures=failures, ignored_items=ignored)


# --- polling: the Track API (POST /track/v1/trackingnumbers) ----------------------------


def _track_call(batch: Sequence[PollTarget], credentials: ApiCredentials) -> HttpCall:
    body = {
        "trackingInfo": [
            {"trackingNumberInfo": {"trackingNumber": t.tracking_number}} for t in batch
        ],
        "includeDetailedScans": True,
    }
    headers = {
        **JSON_HEADERS,
        "Authorization": f"Bearer {credentials.access_token}",
        "X-locale": "en_US",
    }
    return HttpCall("POST", TRACK_PATH, headers, json_body(body))


def poll_calls(
    targets: Sequence[PollTarget], credentials: ApiCredentials, exchanges: Sequence[Exchange]
) -> list[HttpCall]:
    """One POST per 30 numbers."""
    return [] if exchanges else [_track_call(b, credentials) for b in chunks(targets, BATCH_SIZE)]


def _number_of(group: dict[str, Any], results: list[Any]) -> str | None:
    """The number a ``completeTrackResults`` entry answers (its own, else its first result's)."""
    if found := text(group.get("trackingNumber")):
        return found
    first = results[0] if results and isinstance(results[0], dict) else {}
    info = first.get("trackingNumberInfo")
    return text(info.get("trackingNumber")) if isinstance(info, dict) else None


def _read_group(raw: object, where: str, wanted: dict[str, str], findings: Findings) -> None:
    """One ``completeTrackResults`` entry: each trackResult is read like a webhook's; an
    error ``…NOTFOUND`` is an unknown number, another error fails it."""
    group = raw if isinstance(raw, dict) else {}
    results = group.get("trackResults")
    results = results if isinstance(results, list) else []
    number = wanted.get(number_key(_number_of(group, results) or ""))
    if number is None:
        return  # not one we asked about, or unattributable: left unanswered
    if not results:
        findings.fail(number, BAD_ANSWER, f"{where} has no trackResults")
    for j, result in enumerate(results):
        error = result.get("error") if isinstance(result, dict) else None
        if error is None:
            findings.read(number, partial(_track_result, result, f"{where}.trackResults[{j}]"))
        elif isinstance(error, dict) and text(error.get("code")) in NOT_FOUND:
            findings.unknown.add(number)
        else:
            findings.fail(number, "carrier_refused", f"{where}.trackResults[{j}] has an error")


def poll_read(targets: Sequence[PollTarget], exchanges: Sequence[Exchange]) -> PollResult:
    """Every ``completeTrackResults`` entry of every answer, matched to the numbers asked."""
    wanted = {number_key(t.tracking_number): t.tracking_number for t in targets}
    findings = Findings()
    for exchange in exchanges:
        check_status(exchange.answer, LABEL)
        body = read_object(exchange.answer, LABEL)
        with reading(LABEL):
            output = as_object(body.get("output"), "output")
            groups = as_list(
                output.get("completeTrackResults"), "completeTrackResults", required=True
            )
        for i, group in enumerate(groups):
            _read_group(group, f"completeTrackResults[{i}]", wanted, findings)
    return findings.result()


POLLING = Polling(
    base_url="https://apis.fedex.com",
    batch_size=BATCH_SIZE,
    credentials="oauth_client",
    calls=poll_calls,
    read=poll_read,
    token=client_credentials_grant(TOKEN_PATH, "form", LABEL),
    docs_url="https://developer.fedex.com/api/en-us/catalog/track/v1/docs.html",
    confidence="CONFIRMED: the token call and answer, the request body, the error envelope "
    "(FedEx's OpenAPI file, vendored by a third party). INFERRED: a successful body (none "
    "published: read along the schema's paths, like the webhook) and not-found as a 200 with "
    "`trackResults[].error.code` `TRACKING.TRACKINGNUMBER.NOTFOUND` (third-party clients)",
)


ADAPTER = Adapter(
    id="fedex",
    label="FedEx",
    docs_url="https://developer.fedex.com/api/en-us/guides/webhook-developer-guide.html",
    scheme=SignatureSpec(kind="hmac", header=HEADER, encoding="base64"),
    statuses=STATUSES,
    parse=parse,
    confidence="3P",
    identity="none from FedEx: the delivery by body hash; each scan by content "
    "(`trackingNumberUniqueId`, which tells reused numbers apart, is kept in metadata)",
    time_handling="`scanEvents[].date` is ISO with the local offset (`carrier_offset`, "
    "wall time kept); the estimated-delivery window is kept as given",
    notes="Signature is DOC-EXCERPT; the payload shape is 3P (the Track API response, "
    "which integrators say pushes follow; no verbatim push body is published). Several "
    "shipments per POST: an unreadable trackResult is parked while the others are stored. "
    "A trackResult without scans is one event from `latestStatusDetail` (`metadata.event_kind` "
    "`shipment_status`) when `dateAndTimes` dates that status (DL: `ACTUAL_DELIVERY`, PU: "
    "`ACTUAL_PICKUP`, OC/IN: `SHIPMENT_DATA_RECEIVED`); otherwise nothing, and a body with "
    "no event at all is ignored with the reason. `SP` (split status) stays `unknown`.",
    polling=POLLING,
)
