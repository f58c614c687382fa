"""EasyPost webhooks: an ``Event`` whose ``result`` is a full ``Tracker``.

Signature (v1): ``X-Hmac-Signature: hmac-sha256-hex=<hex HMAC-SHA256>`` over the raw
body, keyed with the NFKD-normalised secret. No timestamp is signed.

Every entry of ``result.tracking_details`` (the full history, resent each time)
becomes an event. ``carrier_code`` is ``"<status>/<status_detail>"`` (EasyPost's own
normalised pair, stable across carriers); the upstream carrier's raw code and
``source`` go to metadata. Countries other than ISO alpha-2 codes (EasyPost sometimes
sends names) become ``None`` with the raw value kept as ``country_raw``. The Tracker's
current ``est_delivery_date`` applies to each detail that has none of its own.
Non-tracker events (``batch.created``…) are acknowledged and ignored.

A Tracker without tracking details but with a known ``status`` becomes one event built
from the Tracker itself (``metadata["event_kind"] = "shipment_status"``), timed by its
``updated_at``; a new Tracker (``status`` ``unknown``, as the docs show right after a label
is bought) or one without ``updated_at`` is ignored with the reason.

Polling (:data:`POLLING`): the Trackers API answers with the same Tracker, read by
:func:`read_tracker` for both. A number without a ref is created (``POST /v2/trackers``,
carrier auto-detected); its ``trk_…`` id becomes the ref, read by ``GET /v2/trackers/{id}``
afterwards. A Tracker still ``unknown`` without details, or a create refused over the code
(``TRACKER.*``/``*NOT_FOUND`` with 400/404/422), is an unknown number; a 404 for a known
id is ``not_registered`` (the poller drops the ref and creates again).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any
from urllib.parse import quote

from gateway.carriers.adapter import (
    Adapter,
    Delivery,
    ParsedEvent,
    ParseResult,
    shipment_status_metadata,
)
from gateway.carriers.payload import address, as_list, as_object, load_object, required_text, text
from gateway.carriers.polling import (
    BAD_ANSWER,
    JSON_HEADERS,
    ApiCredentials,
    CarrierApiError,
    Exchange,
    Findings,
    HttpAnswer,
    HttpCall,
    Polling,
    PollResult,
    PollTarget,
    answers_for,
    basic_auth,
    carrier_error_code,
    check_status,
    json_body,
    read_object,
)
from gateway.carriers.status import Refine, StatusTable, status_of
from gateway.carriers.timeparse import parse_instant
from gateway.errors import ItemIgnored, ParseError
from gateway.models import Status
from gateway.signing.spec import SignatureSpec

HEADER = "X-Hmac-Signature"
PREFIX = "hmac-sha256-hex="
LABEL = "EasyPost"
TRACKERS = "/v2/trackers"
NOT_REGISTERED = "not_registered"

# A (status, status_detail) pair may refine the status and give a detail.
STATUSES = StatusTable(
    main={
        "unknown": Status.UNKNOWN,
        "pre_transit": Status.INFO_RECEIVED,
        "in_transit": Status.IN_TRANSIT,
        "out_for_delivery": Status.OUT_FOR_DELIVERY,
        "available_for_pickup": Status.AVAILABLE_FOR_PICKUP,
        "delivered": Status.DELIVERED,
        "return_to_sender": Status.RETURNED,
        "failure": Status.EXCEPTION,
        "cancelled": Status.CANCELLED,
        "error": Status.EXCEPTION,
    },
    refinements={
        ("failure", "delivery_exception"): Refine(Status.ATTEMPT_FAIL),
        ("failure", "refused"): Refine(detail="refused"),
        ("failure", "damaged"): Refine(detail="damaged"),
        ("failure", "lost"): Refine(detail="lost"),
    },
    details={"return_to_sender": "returned_to_sender"},
    columns=("status", "status_detail"),
)


def _codes(item: dict[str, Any]) -> tuple[str, str]:
    """``(status, status_detail)`` lower-cased, ``""`` when absent."""
    return (text(item.get("status")) or "").lower(), (text(item.get("status_detail")) or "").lower()


def _event(raw: object, tracker: dict[str, Any], tracking_number: str) -> ParsedEvent:
    item = as_object(raw, "tracking detail")
    status, detail = _codes(item)
    stamp = text(item.get("datetime"))
    if stamp is None:
        raise ParseError("tracking detail has no datetime")
    occurred_at, tz_source, local = parse_instant(stamp, "datetime", where="tracking detail")
    canonical, refined = status_of(STATUSES, status, detail)
    raw = {"upstream_carrier": tracker.get("carrier"), "source": item.get("source")}
    raw["native_code"] = item.get("carrier_code")
    metadata = {k: found for k, v in raw.items() if (found := text(v))}
    return ParsedEvent(
        tracking_number=tracking_number,
        status=canonical,
        occurred_at=occurred_at,
        tz_source=tz_source,
        occurred_at_local=local,
        carrier_code="/".join(p for p in (status, detail) if p) or None,
        carrier_text=text(item.get("message")) or text(item.get("description")),
        detail=refined,
        location=address(item.get("tracking_location"), metadata),
        estimated_delivery=text(item.get("est_delivery_date"))
        or text(tracker.get("est_delivery_date")),
        signed_by=text(tracker.get("signed_by")) if canonical is Status.DELIVERED else None,
        metadata=metadata,
    )


def _tracker_status(tracker: dict[str, Any], tracking_number: str) -> ParsedEvent | str:
    """The Tracker's own status as one event, or why there is none."""
    status, detail = _codes(tracker)
    if status in ("", "unknown"):
        return "tracker has no tracking detail and no known status"
    stamp = text(tracker.get("updated_at"))
    if stamp is None:
        return "tracker has a status but no tracking detail and no time"
    occurred_at, tz_source, local = parse_instant(stamp, "updated_at", where="Tracker")
    canonical, refined = status_of(STATUSES, status, detail)
    facts = {"upstream_carrier": text(tracker.get("carrier"))} | shipment_status_metadata(
        "updated_at"
    )
    return ParsedEvent(
        tracking_number=tracking_number,
        status=canonical,
        occurred_at=occurred_at,
        tz_source=tz_source,
        occurred_at_local=local,
        carrier_code="/".join(p for p in (status, detail) if p),
        detail=refined,
        estimated_delivery=text(tracker.get("est_delivery_date")),
        signed_by=text(tracker.get("signed_by")) if canonical is Status.DELIVERED else None,
        metadata={k: v for k, v in facts.items() if v},
    )


def read_tracker(tracker: dict[str, Any]) -> list[ParsedEvent]:
    """The events of a Tracker, whether a webhook's ``result`` or the API's answer:
    every tracking detail, else the Tracker's own status (else ItemIgnored: why not)."""
    tracking_number = required_text(tracker, "tracking_code", "Tracker")
    details = as_list(tracker.get("tracking_details") or [], "Tracker.tracking_details")
    if not details:
        found = _tracker_status(tracker, tracking_number)
        if isinstance(found, str):
            raise ItemIgnored(found)
        return [found]
    return [_event(item, tracker, tracking_number) for item in details]


def parse(delivery: Delivery) -> ParseResult:
    """Read a tracker Event; other Events are acknowledged and ignored."""
    event = load_object(delivery.body)
    delivery_id = text(event.get("id"))
    if event.get("result") is None:
        raise ParseError("Event has no result")
    result = as_object(event["result"], "Event.result")
    if result.get("object") != "Tracker":
        description = text(event.get("description")) or "event"
        return ParseResult(delivery_id=delivery_id, ignored=f"{description[:60]} is not a tracker")
    try:
        events = read_tracker(result)
    except ItemIgnored as exc:
        return ParseResult(delivery_id=delivery_id, ignored=str(exc))
    return ParseResult(events=events, delivery_id=delivery_id)


# --- polling: the Trackers API ----------------------------------------------------------


def _poll_call(target: PollTarget, credentials: ApiCredentials) -> HttpCall:
    """Read the tracker by its id once known; until then create it (EasyPost detects the
    carrier; a second create of the same code returns the same tracker)."""
    auth = {"Accept": "application/json", "Authorization": basic_auth(credentials.api_key, "")}
    if target.ref:
        return HttpCall("GET", f"{TRACKERS}/{quote(target.ref, safe='')}", auth)
    body = json_body({"tracker": {"tracking_code": target.tracking_number}})
    return HttpCall("POST", TRACKERS, {**JSON_HEADERS, **auth}, body)


def poll_calls(
    targets: Sequence[PollTarget], credentials: ApiCredentials, exchanges: Sequence[Exchange]
) -> list[HttpCall]:
    """One call per tracking number (create, or read by ``trk_…`` id)."""
    return [] if exchanges else [_poll_call(t, credentials) for t in targets]


def _not_tracked(target: PollTarget, answer: HttpAnswer) -> str | None:
    """``unknown`` when creating was refused over the code itself; ``not_registered`` when
    the tracker id is gone (the poller drops it and creates anew); else ``None``."""
    if target.ref:
        return NOT_REGISTERED if answer.status == 404 else None
    own = (carrier_error_code(answer.body) or "").upper()
    about_code = own.startswith("TRACKER.") or own.endswith("NOT_FOUND")
    return "unknown" if answer.status in (400, 404, 422) and about_code else None


def poll_read(targets: Sequence[PollTarget], exchanges: Sequence[Exchange]) -> PollResult:
    """Each answer is one Tracker, read like a webhook's; its ``id`` is the ref."""
    findings = Findings()
    empty = ApiCredentials()
    for target, answer in answers_for(targets, exchanges, lambda t: _poll_call(t, empty)):
        number = target.tracking_number
        outcome = _not_tracked(target, answer) if answer.status >= 300 else None
        if outcome == "unknown":
            findings.unknown.add(number)
            continue
        if outcome is not None:
            findings.fail(number, outcome)
            continue
        check_status(answer, LABEL)
        tracker = read_object(answer, LABEL)
        if tracker.get("object") != "Tracker":
            raise CarrierApiError(BAD_ANSWER, f"{LABEL} answered with something not a Tracker")
        if (ref := text(tracker.get("id"))) and ref != target.ref:
            findings.refs[number] = ref
        status = (text(tracker.get("status")) or "unknown").lower()
        if status == "unknown" and not tracker.get("tracking_details"):
            findings.unknown.add(number)  # created, but the carrier has said nothing yet
            continue
        findings.read(number, partial(read_tracker, tracker))
    return findings.result()


POLLING = Polling(
    base_url="https://api.easypost.com",
    batch_size=1,
    credentials="api_key",
    calls=poll_calls,
    read=poll_read,
    docs_url="https://docs.easypost.com/docs/trackers",
    confidence="CONFIRMED: the Tracker (create 201 and retrieve 200 bodies published by "
    "EasyPost), HTTP Basic with the key, the error envelope. INFERRED: which create errors "
    "mean an unknown code (`TRACKER.*`, `*NOT_FOUND`)",
)


ADAPTER = Adapter(
    id="easypost",
    label="EasyPost",
    docs_url="https://docs.easypost.com/guides/webhooks-guide",
    scheme=SignatureSpec(
        kind="hmac",
        header=HEADER,
        encoding="hex",
        prefix=PREFIX,
        secret_form="nfkd",  # noqa: S106 - a form name, not a secret
    ),
    statuses=STATUSES,
    parse=parse,
    confidence="CONFIRMED",
    identity="`Event.id` (re-sent on retry) for the delivery; each tracking detail by content",
    time_handling="`datetime` is ISO `Z` (`carrier_utc`), though EasyPost warns it may be "
    "local time when the location is unknown",
    notes="Full history (`result.tracking_details`) in every delivery; non-tracker events "
    "(e.g. `batch.created`) are acknowledged and ignored. A Tracker without details but with "
    "a known `status` is one event (`metadata.event_kind` `shipment_status`) at its `updated_at`; "
    "a new Tracker (`status` `unknown`) is ignored with the reason.",
    polling=POLLING,
)
