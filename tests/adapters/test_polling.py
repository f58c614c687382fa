"""The polling capability of UPS, FedEx, EasyPost, 17TRACK and Ship24 (``adapter.polling``).

Pure functions only: the calls each check makes (method, path, headers, body, batching),
the OAuth token grant, reading the carriers' answers (published bodies where they exist,
``tests/fixtures/polling/<id>/``; built ones say so in their ``.meta.json``) into events,
unknown numbers, one bad item in a batch, every error class, refs learnt and used, and no
secret in any error text. A check is driven here the way the poller drives it: ``calls``
is asked again with the answers so far until it returns none, then ``read``.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from adapters import easypost, fedex, seventeentrack, ship24, ups
from gateway.carriers.adapter import ParsedEvent
from gateway.carriers.docs import render
from gateway.carriers.polling import (
    ApiCredentials,
    CarrierApiError,
    Exchange,
    HttpAnswer,
    HttpCall,
    Polling,
    PollResult,
    PollTarget,
    TokenRefused,
    parse_credentials,
)
from gateway.models import Status, TzSource
from tests.adapters.conftest import build_delivery

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "polling"
KEY = "KEY-s3cr3t-api-key-0001"  # throwaway test values
CLIENT = ApiCredentials(client_id="test-client", client_secret="cl1ent-s3cr3t-0002")
TOKEN = "acc3ss-t0ken-0003"
SECRETS = (KEY, CLIENT.client_secret, TOKEN)
ADAPTERS: dict[str, ModuleType] = {
    "ups": ups,
    "fedex": fedex,
    "easypost": easypost,
    "seventeentrack": seventeentrack,
    "ship24": ship24,
}
Responder = Callable[[HttpCall], HttpAnswer]


def body(carrier: str, name: str) -> bytes:
    return (FIXTURES / carrier / f"{name}.json").read_bytes()


def answer(carrier: str, name: str, status: int = 200) -> HttpAnswer:
    return HttpAnswer(status, {"content-type": "application/json"}, body(carrier, name))


def raw(status: int, value: object) -> HttpAnswer:
    payload = value if isinstance(value, bytes) else json.dumps(value).encode()
    return HttpAnswer(status, {}, payload)


def polling(carrier: str) -> Polling:
    found = ADAPTERS[carrier].ADAPTER.polling
    assert isinstance(found, Polling)
    return found


def credentials(carrier: str) -> ApiCredentials:
    if polling(carrier).credentials == "api_key":
        return ApiCredentials(api_key=KEY)
    return ApiCredentials(CLIENT.api_key, CLIENT.client_id, CLIENT.client_secret, TOKEN)


def drive(
    carrier: str, targets: Sequence[PollTarget], respond: Responder
) -> tuple[list[Exchange], PollResult]:
    """One check: calls until none are left, then read."""
    spec, creds = polling(carrier), credentials(carrier)
    exchanges: list[Exchange] = []
    for _ in range(5):
        calls = spec.calls(targets, creds, exchanges)
        if not calls:
            return exchanges, spec.read(targets, exchanges)
        exchanges += [Exchange(call, respond(call)) for call in calls]
    raise AssertionError("calls never stopped")


def always(found: HttpAnswer) -> Responder:
    return lambda call: found


def targets(*numbers: str, ref: str | None = None) -> list[PollTarget]:
    return [PollTarget(n, ref) for n in numbers]


def events(result: PollResult, number: str) -> list[ParsedEvent]:
    return list(result.found[number].events)


def view(event: ParsedEvent) -> tuple[str, str, str | None]:
    return event.status.value, event.occurred_at.isoformat(), event.carrier_code


def decoded(call: HttpCall) -> Any:
    assert call.body is not None
    return json.loads(call.body)


# --- what each adapter declares ----------------------------------------------------------

DECLARED = {
    "ups": ("https://onlinetools.ups.com", 1, "oauth_client"),
    "fedex": ("https://apis.fedex.com", 30, "oauth_client"),
    "easypost": ("https://api.easypost.com", 1, "api_key"),
    "seventeentrack": ("https://api.17track.net", 40, "api_key"),
    "ship24": ("https://api.ship24.com", 1, "api_key"),
}


@pytest.mark.parametrize("carrier", sorted(DECLARED))
def test_each_adapter_declares_its_tracking_api(carrier: str) -> None:
    spec = polling(carrier)
    assert (spec.base_url, spec.batch_size, spec.credentials) == DECLARED[carrier]
    assert spec is ADAPTERS[carrier].POLLING
    assert (spec.token is not None) == (spec.credentials == "oauth_client")
    assert spec.docs_url.startswith("https://")
    assert "CONFIRMED" in spec.confidence and "INFERRED" in spec.confidence
    assert f"`{spec.base_url}`" in render_docs()


def render_docs() -> str:
    from gateway.carriers.discovery import load_adapters

    return render(load_adapters())


# --- the calls ---------------------------------------------------------------------------


def test_ups_asks_one_number_per_get_with_a_bearer_and_a_derived_trans_id() -> None:
    calls = polling("ups").calls(targets("1Z023E2X0214323462", "1Z A/1"), credentials("ups"), [])
    first, second = calls
    assert first.method == "GET" and first.body is None
    assert first.path == (
        "/api/track/v1/details/1Z023E2X0214323462"
        "?locale=en_US&returnSignature=false&returnMilestones=false&returnPOD=false"
    )
    assert second.path.startswith("/api/track/v1/details/1Z%20A%2F1?")
    assert first.headers["Authorization"] == f"Bearer {TOKEN}"
    assert first.headers["transactionSrc"] == "waybill"
    trans_ids = [c.headers["transId"] for c in calls]
    assert all(re.fullmatch(r"[0-9a-f]{32}", t) for t in trans_ids) and len(set(trans_ids)) == 2
    again = polling("ups").calls(targets("1Z023E2X0214323462"), credentials("ups"), [])
    assert again[0] == first  # pure: the same inputs give the same call


def test_fedex_batches_thirty_numbers_per_post() -> None:
    numbers = [f"7948431852{i:02d}" for i in range(31)]
    calls = polling("fedex").calls(targets(*numbers), credentials("fedex"), [])
    assert [c.method for c in calls] == ["POST", "POST"]
    assert {c.path for c in calls} == {"/track/v1/trackingnumbers"}
    sent = [decoded(c) for c in calls]
    assert [len(b["trackingInfo"]) for b in sent] == [30, 1]
    assert sent[0]["trackingInfo"][0] == {"trackingNumberInfo": {"trackingNumber": numbers[0]}}
    assert all(b["includeDetailedScans"] is True for b in sent)
    assert calls[0].headers["Authorization"] == f"Bearer {TOKEN}"
    assert calls[0].headers["Content-Type"] == "application/json"


def test_easypost_creates_a_tracker_until_it_knows_its_id_then_gets_it() -> None:
    ref = "trk_9135862729734d96ad2f9ed0f0565a27"
    fresh, known = polling("easypost").calls(
        [PollTarget("EZ4000000004"), PollTarget("EZ1000000001", ref)], credentials("easypost"), []
    )
    basic = "Basic " + base64.b64encode(f"{KEY}:".encode()).decode()
    assert (fresh.method, fresh.path) == ("POST", "/v2/trackers")
    assert decoded(fresh) == {"tracker": {"tracking_code": "EZ4000000004"}}  # carrier detected
    assert (known.method, known.path, known.body) == ("GET", f"/v2/trackers/{ref}", None)
    assert fresh.headers["Authorization"] == known.headers["Authorization"] == basic


def test_seventeentrack_registers_only_numbers_without_a_ref_then_asks_about_all() -> None:
    asked = [*targets("RR123456785CN", "ZZ12345"), PollTarget("RB111111111CN", "registered")]
    respond = {
        seventeentrack.REGISTER_PATH: answer("seventeentrack", "register_built"),
        seventeentrack.INFO_PATH: answer("seventeentrack", "gettrackinfo_built"),
    }
    exchanges, _ = drive("seventeentrack", asked, lambda call: respond[call.path])
    register, info = (e.call for e in exchanges)
    assert (register.method, register.path) == ("POST", "/track/v2.2/register")
    assert decoded(register) == [{"number": "RR123456785CN"}, {"number": "ZZ12345"}]
    assert info.path == "/track/v2.2/gettrackinfo"
    # ZZ12345 was refused at registration (-18019903): not asked about
    assert decoded(info) == [{"number": "RR123456785CN"}, {"number": "RB111111111CN"}]
    assert register.headers["17token"] == KEY and "Authorization" not in register.headers


def test_seventeentrack_skips_registration_when_every_number_has_a_ref() -> None:
    numbers = [f"RR{i:09d}CN" for i in range(41)]
    calls = polling("seventeentrack").calls(
        targets(*numbers, ref="registered"), credentials("seventeentrack"), []
    )
    assert [c.path for c in calls] == ["/track/v2.2/gettrackinfo"] * 2
    assert [len(decoded(c)) for c in calls] == [40, 1]
    fresh = polling("seventeentrack").calls(targets(*numbers), credentials("seventeentrack"), [])
    assert [(c.path, len(decoded(c))) for c in fresh] == [
        ("/track/v2.2/register", 40),
        ("/track/v2.2/register", 1),
    ]


def test_seventeentrack_stops_when_registration_is_refused() -> None:
    refused = raw(200, json.loads(body("seventeentrack", "error_invalid_key_built")))
    exchanges: list[Exchange] = []
    spec = polling("seventeentrack")
    (call,) = spec.calls(targets("RR123456785CN"), credentials("seventeentrack"), exchanges)
    exchanges.append(Exchange(call, refused))
    assert spec.calls(targets("RR123456785CN"), credentials("seventeentrack"), exchanges) == []
    with pytest.raises(CarrierApiError) as caught:
        spec.read(targets("RR123456785CN"), exchanges)
    assert caught.value.code == "unauthorized"


def test_ship24_creates_and_tracks_one_number_per_post() -> None:
    (call,) = polling("ship24").calls(targets("9400115901047177598206"), credentials("ship24"), [])
    assert (call.method, call.path) == ("POST", "/public/v1/trackers/track")
    assert decoded(call) == {"trackingNumber": "9400115901047177598206"}
    assert call.headers["Authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize("carrier", sorted(DECLARED))
def test_a_check_asks_nothing_more_once_answered(carrier: str) -> None:
    spec, creds = polling(carrier), credentials(carrier)
    asked = targets("RR123456785CN", ref="registered")
    done = [Exchange(c, raw(500, b"")) for c in spec.calls(asked, creds, [])]
    assert done and spec.calls(asked, creds, done) == []


# --- the OAuth token ---------------------------------------------------------------------


def test_ups_token_request_uses_http_basic_and_reads_expires_in_as_a_string() -> None:
    grant = polling("ups").token
    assert grant is not None
    call = grant.request(credentials("ups"))
    pair = base64.b64encode(f"{CLIENT.client_id}:{CLIENT.client_secret}".encode()).decode()
    assert (call.method, call.path) == ("POST", "/security/v1/oauth/token")
    assert call.headers["Authorization"] == f"Basic {pair}"
    assert call.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert call.body == b"grant_type=client_credentials"
    assert json.loads(body("ups", "token_built"))["expires_in"] == "14399"
    token, lifetime = grant.read(answer("ups", "token_built"))
    assert (token, lifetime) == ("eyJraWQiOiJ0ZXN0LXRva2VuIn0.built.for-tests", 14399.0)


def test_fedex_token_request_puts_the_client_in_the_form() -> None:
    grant = polling("fedex").token
    assert grant is not None
    call = grant.request(ApiCredentials(client_id="id&1", client_secret="s=cr+t"))
    assert (call.method, call.path) == ("POST", "/oauth/token")
    assert "Authorization" not in call.headers
    assert call.body == b"grant_type=client_credentials&client_id=id%261&client_secret=s%3Dcr%2Bt"
    assert grant.read(answer("fedex", "token_built")) == (
        "eyJhbGciOiJSUzI1NiJ9.built.for-tests",
        3600.0,
    )


TOKEN_FAILURES = [
    (
        raw(401, {"response": {"errors": [{"code": "10401", "message": "ClientId is Invalid"}]}}),
        "unauthorized",
    ),
    (raw(429, b"Too Many Requests"), "rate_limited"),
    (raw(503, b""), "carrier_error"),
    (raw(200, b"<html>"), "bad_answer"),
    (raw(200, {"access_token": "x"}), "bad_answer"),
    (raw(200, {"access_token": "x", "expires_in": "soon"}), "bad_answer"),
    (raw(200, {"access_token": "x", "expires_in": 0}), "bad_answer"),
    (raw(200, {"access_token": "x", "expires_in": True}), "bad_answer"),
    (raw(200, {"access_token": "x", "expires_in": 60, "token_type": "mac"}), "bad_answer"),
    (raw(200, {"access_token": " ", "expires_in": 60}), "bad_answer"),
]


@pytest.mark.parametrize("carrier", ["ups", "fedex"])
@pytest.mark.parametrize(("given", "code"), TOKEN_FAILURES)
def test_a_token_answer_that_is_not_one_is_refused(
    carrier: str, given: HttpAnswer, code: str
) -> None:
    grant = polling(carrier).token
    assert grant is not None
    with pytest.raises(ValueError) as caught:  # the TokenGrant contract
        grant.read(given)
    assert isinstance(caught.value, TokenRefused) and caught.value.code == code


def test_oauth_credentials_are_read_from_the_slot() -> None:
    parsed = parse_credentials("oauth_client", "test-client:cl1ent-s3cr3t-0002")
    assert (parsed.client_id, parsed.client_secret) == (CLIENT.client_id, CLIENT.client_secret)
    assert CLIENT.client_secret not in repr(parsed)


# --- reading published (and built) answers -----------------------------------------------


def test_ups_reads_the_published_sample_newest_first_with_trimmed_descriptions() -> None:
    _, result = drive(
        "ups",
        targets("1Z023E2X0214323462"),
        always(answer("ups", "track_v1_details_sample_java_examples")),
    )
    delivered, label = events(result, "1Z023E2X0214323462")
    assert [view(delivered), view(label)] == [
        ("delivered", "2022-01-26T16:30:00+00:00", "D/F4"),
        ("info_received", "2022-01-26T15:16:41+00:00", "M/MP"),
    ]
    assert delivered.carrier_text == "DELIVERED"  # published as "DELIVERED "
    assert delivered.tz_source is TzSource.ASSUMED_UTC  # no gmt* fields in the sample
    assert delivered.occurred_at_local == "2022-01-26T16:30:00"
    assert (delivered.location.city, delivered.location.region) == ("PARAMUS", "NJ")
    assert delivered.location.country == label.location.country == "US"
    assert delivered.metadata["status_code"] == "011" and delivered.metadata["slic"] == "0761"
    assert all(e.tracking_number == "1Z023E2X0214323462" for e in (delivered, label))


def test_ups_takes_the_instant_from_the_gmt_fields_then_the_offset() -> None:
    _, result = drive(
        "ups", targets("1Z023E2X0214323462"), always(answer("ups", "track_v1_details_gmt_built"))
    )
    out, arrived, departed = events(result, "1Z023E2X0214323462")
    assert view(out) == ("out_for_delivery", "2024-06-05T11:47:00+00:00", "I/OT")
    assert (out.tz_source, out.occurred_at_local) == (TzSource.CARRIER_UTC, "2024-06-05T07:47:00")
    assert view(arrived) == ("in_transit", "2024-06-05T03:15:00+00:00", "I/AR")
    assert arrived.tz_source is TzSource.CARRIER_OFFSET  # local time + gmtOffset "-04:00"
    assert departed.occurred_at == datetime(2024, 6, 3, 7, 47, tzinfo=UTC)  # gmtTime "74700"
    assert departed.metadata["logical_scan"] == "true" and departed.location.country == "AU"
    assert out.estimated_delivery == "2024-06-06" and out.carrier_text == "Out For Delivery Today"


def test_fedex_reads_scans_of_the_built_answer_per_number() -> None:
    asked = targets("794843185271", "123456789012", "128667043726", "000000000000")
    _, result = drive("fedex", asked, always(answer("fedex", "trackingnumbers_200_built")))
    delivered, vehicle, pickup = events(result, "794843185271")
    assert [view(delivered), view(vehicle), view(pickup)] == [
        ("delivered", "2024-06-05T15:12:00+00:00", "DL"),
        (
            "in_transit",
            "2024-06-05T12:40:00+00:00",
            "OD",
        ),  # derivedStatusCode IT wins, as in webhooks
        ("in_transit", "2024-06-03T22:02:00+00:00", "PU"),
    ]
    assert delivered.tz_source is TzSource.CARRIER_OFFSET
    assert delivered.occurred_at_local == "2024-06-05T10:12:00"
    assert delivered.signed_by == "J.SMITH" and pickup.signed_by is None
    assert (delivered.location.city, delivered.location.postal_code) == ("MEMPHIS", "38118")
    assert result.unknown == {"123456789012"}
    assert result.failed == {"128667043726": "bad_answer"}  # the one bad item
    assert "000000000000" not in {*result.found, *result.unknown, *result.failed}  # unanswered


def test_easypost_reads_a_created_tracker_and_learns_its_id() -> None:
    created = answer("easypost", "tracker_create_EZ4000000004_delivered_sdk_cassette", 201)
    _, result = drive("easypost", targets("EZ4000000004"), always(created))
    found = events(result, "EZ4000000004")
    assert [e.status for e in found] == [
        Status.INFO_RECEIVED, Status.INFO_RECEIVED, *[Status.IN_TRANSIT] * 4,
        Status.OUT_FOR_DELIVERY, Status.DELIVERED,
    ]  # fmt: skip
    assert found[-1].occurred_at == datetime(2022, 2, 14, 0, 14, 10, tzinfo=UTC)
    assert found[-1].signed_by == "John Tester" and found[-1].location.city == "Radnor"
    assert found[-1].tz_source is TzSource.CARRIER_UTC
    assert result.refs == {"EZ4000000004": "trk_6cf7ce0830fb4e0d9522567f8579eeeb"}


def test_easypost_gets_a_known_tracker_by_id() -> None:
    ref = "trk_9135862729734d96ad2f9ed0f0565a27"
    exchanges, result = drive(
        "easypost",
        targets("EZ1000000001", ref=ref),
        always(answer("easypost", "trackers_retrieve_docs")),
    )
    assert [(e.call.method, e.call.path) for e in exchanges] == [("GET", f"/v2/trackers/{ref}")]
    first, second = events(result, "EZ1000000001")
    assert view(second) == (
        "info_received",
        "2025-04-10T09:17:17+00:00",
        "pre_transit/status_update",
    )
    assert (second.location.city, second.location.region) == ("HOUSTON", "TX")
    assert first.location.is_empty() and result.refs == {}  # the ref is unchanged


def test_seventeentrack_reads_gettrackinfo_and_registration_outcomes() -> None:
    asked = [
        *targets("RR123456785CN", "LX987654321CN", "ZZ12345"),
        *targets("RB111111111CN", "UA222222222CN", ref="registered"),
    ]
    respond = {
        seventeentrack.REGISTER_PATH: answer("seventeentrack", "register_built"),
        seventeentrack.INFO_PATH: answer("seventeentrack", "gettrackinfo_built"),
    }
    _, result = drive("seventeentrack", asked, lambda call: respond[call.path])
    found = events(result, "RR123456785CN")
    assert [view(e) for e in found[:2]] == [
        ("delivered", "2024-05-08T21:40:00+00:00", "Delivered_Other"),
        ("in_transit", "2024-05-07T14:05:00+00:00", "InTransit_Arrival"),
    ]
    assert found[0].tz_source is TzSource.CARRIER_UTC and found[0].location.city == "CHICAGO"
    assert len(found) == 5
    # accepted, and "already registered" (-18019901), both register the number
    assert result.refs == {"RR123456785CN": "registered", "LX987654321CN": "registered"}
    assert result.unknown == {"LX987654321CN", "UA222222222CN"}  # NotFound; -18019909
    assert result.failed == {"ZZ12345": "carrier_refused", "RB111111111CN": "not_registered"}


def test_seventeentrack_the_published_empty_envelope_answers_no_number() -> None:
    given = answer("seventeentrack", "envelope_v1_docs")
    _, result = drive("seventeentrack", targets("RR123456785CN", ref="registered"), always(given))
    assert result == PollResult()  # unanswered: the poller counts it as no_answer


def test_ship24_reads_trackings_and_learns_the_tracker_id() -> None:
    _, result = drive(
        "ship24",
        targets("9400115901047177598206"),
        always(answer("ship24", "tracker_results_200_openapi_example")),
    )
    found = events(result, "9400115901047177598206")
    assert len(found) == 9
    assert [view(e) for e in found[:2]] == [
        ("delivered", "2021-03-04T17:12:57+00:00", "delivery_delivered"),
        ("out_for_delivery", "2021-03-04T10:12:57+00:00", "delivery_out_for_delivery"),
    ]
    assert found[0].tz_source is TzSource.ASSUMED_UTC
    assert found[0].occurred_at_local == "2021-03-04T17:12:57"
    assert found[0].metadata["location_raw"] == "SAN RAFAEL, CA 94901"
    assert result.refs == {"9400115901047177598206": "26148317-7502-d3ac-44a9-546d240ac0dd"}


# --- the webhook parser is the poll reader -----------------------------------------------


def webhook(adapter: ModuleType, payload: object) -> list[ParsedEvent]:
    delivery = build_delivery(adapter.ADAPTER.id, json.dumps(payload).encode(), {})
    return list(adapter.ADAPTER.parse(delivery).events)


def test_easypost_polls_read_a_tracker_exactly_as_its_webhook_does() -> None:
    tracker = json.loads(body("easypost", "tracker_create_EZ4000000004_delivered_sdk_cassette"))
    _, result = drive("easypost", targets("EZ4000000004"), always(raw(201, tracker)))
    event = {"id": "evt_1", "object": "Event", "description": "tracker.updated", "result": tracker}
    assert events(result, "EZ4000000004") == webhook(easypost, event)


def test_seventeentrack_polls_read_track_info_exactly_as_its_webhook_does() -> None:
    item = json.loads(body("seventeentrack", "gettrackinfo_built"))["data"]["accepted"][0]
    asked = targets("RR123456785CN", ref="registered")
    answered = raw(200, {"code": 0, "data": {"accepted": [item], "rejected": []}})
    _, result = drive("seventeentrack", asked, always(answered))
    assert events(result, "RR123456785CN") == webhook(
        seventeentrack, {"event": "TRACKING_UPDATED", "data": item}
    )


def test_ship24_polls_read_trackings_exactly_as_its_webhook_does() -> None:
    data = json.loads(body("ship24", "tracker_results_200_openapi_example"))["data"]
    _, result = drive("ship24", targets("9400115901047177598206"), always(raw(200, {"data": data})))
    assert events(result, "9400115901047177598206") == webhook(ship24, data)


def test_fedex_polls_read_track_results_exactly_as_its_webhook_does() -> None:
    payload = json.loads(body("fedex", "trackingnumbers_200_built"))
    _, result = drive("fedex", targets("794843185271"), always(raw(200, payload)))
    from_hook = [e for e in webhook(fedex, payload) if e.tracking_number == "794843185271"]
    assert events(result, "794843185271") == from_hook


# --- unknown numbers ---------------------------------------------------------------------


def pending_tracker() -> dict[str, Any]:
    """EasyPost's retrieve body as a new tracker looks before the carrier says anything."""
    tracker = json.loads(body("easypost", "trackers_retrieve_docs"))
    return {**tracker, "status": "unknown", "status_detail": "unknown", "tracking_details": []}


def fedex_not_found(number: str) -> dict[str, Any]:
    error = {"code": "TRACKING.TRACKINGNUMBER.NOTFOUND", "message": "x"}
    result = {"trackingNumberInfo": {"trackingNumber": number}, "error": error}
    return {
        "output": {"completeTrackResults": [{"trackingNumber": number, "trackResults": [result]}]}
    }


def rejected(number: str, code: int) -> dict[str, Any]:
    item = {"number": number, "error": {"code": code, "message": "x"}}
    return {"code": 0, "data": {"accepted": [], "rejected": [item]}}


TRK = "trk_9135862729734d96ad2f9ed0f0565a27"
UNKNOWN = [
    ("ups", None, answer("ups", "track_v1_details_not_found_TW0001_issue102"), {}),
    ("ups", None, raw(404, {"response": {"errors": [{"code": "TW0001", "message": "x"}]}}), {}),
    ("fedex", None, raw(200, fedex_not_found("N1")), {}),
    ("easypost", None, answer("easypost", "error_422_tracker_create_built", 422), {}),
    ("easypost", None, raw(201, pending_tracker()), {"N1": TRK}),
    ("easypost", TRK, raw(200, pending_tracker()), {}),
    ("seventeentrack", "registered", raw(200, rejected("N1", -18019909)), {}),
    (
        "ship24",
        None,
        answer("ship24", "track_pending_built"),
        {"N1": "5e0b4c2a-0d1c-4d8e-9f0a-3b2c1d0e9f8a"},
    ),
    (
        "ship24",
        None,
        answer("ship24", "tracker_results_404_tracker_not_found_openapi_example", 404),
        {},
    ),
]


@pytest.mark.parametrize(("carrier", "ref", "given", "refs"), UNKNOWN)
def test_a_number_the_carrier_does_not_know_is_unknown(
    carrier: str, ref: str | None, given: HttpAnswer, refs: dict[str, str]
) -> None:
    _, result = drive(carrier, targets("N1", ref=ref), always(given))
    assert result.unknown == {"N1"} and not result.found and not result.failed
    assert result.refs == refs


# --- one bad item in a batch -------------------------------------------------------------


def test_seventeentrack_one_unreadable_item_fails_alone() -> None:
    good = json.loads(body("seventeentrack", "gettrackinfo_built"))["data"]["accepted"][0]
    bad = {"number": "LX987654321CN", "track_info": {"tracking": {"providers": [{"events": [{}]}]}}}
    answered = raw(200, {"code": 0, "data": {"accepted": [bad, good], "rejected": []}})
    _, result = drive(
        "seventeentrack",
        targets("RR123456785CN", "LX987654321CN", ref="registered"),
        always(answered),
    )
    assert len(events(result, "RR123456785CN")) == 5
    assert result.failed == {"LX987654321CN": "bad_answer"}


def test_one_bad_answer_of_several_single_number_calls_fails_that_number_alone() -> None:
    good = answer("ups", "track_v1_details_sample_java_examples")
    bad = raw(200, {"trackResponse": {"shipment": [{"package": [{"activity": [{"date": "x"}]}]}]}})
    _, result = drive(
        "ups", targets("1ZGOOD", "1ZBAD"), lambda c: bad if "1ZBAD" in c.path else good
    )
    assert set(result.found) == {"1ZGOOD"} and result.failed == {"1ZBAD": "bad_answer"}


# --- errors of the whole call ------------------------------------------------------------

FEDEX_ERRORS = [
    (400, "carrier_refused"), (401, "unauthorized"), (403, "unauthorized"),
    (404, "carrier_refused"), (500, "carrier_error"), (503, "carrier_error"),
]  # fmt: skip


@pytest.mark.parametrize(("status", "code"), FEDEX_ERRORS)
def test_fedex_published_error_answers_map_to_stable_codes(status: int, code: str) -> None:
    given = answer("fedex", f"trackingnumbers_{status}_openapi_example", status)
    with pytest.raises(CarrierApiError) as caught:
        drive("fedex", targets("794843185271"), always(given))
    assert caught.value.code == code
    assert json.loads(given.body)["errors"][0]["code"] in str(caught.value)  # the carrier's code


GENERIC_ERRORS = [
    (401, b'{"errors":[{"code":"auth_invalid_api_key","message":"bad"}]}', "unauthorized"),
    (403, b'{"error":{"code":"FORBIDDEN","message":"no"}}', "unauthorized"),
    (429, b"Too Many Requests", "rate_limited"),  # Ship24 may answer a 429 in plain text
    (500, b"", "carrier_error"),
    (502, b"<html>bad gateway</html>", "carrier_error"),
    (400, b'{"errors":[{"code":"validation_error","message":"x"}]}', "carrier_refused"),
    (409, b"{}", "carrier_refused"),
]


@pytest.mark.parametrize("carrier", sorted(DECLARED))
@pytest.mark.parametrize(("status", "payload", "code"), GENERIC_ERRORS)
def test_a_refused_call_raises_a_stable_code(
    carrier: str, status: int, payload: bytes, code: str
) -> None:
    with pytest.raises(CarrierApiError) as caught:
        drive(carrier, targets("N1"), always(HttpAnswer(status, {}, payload)))
    assert caught.value.code == code
    assert f"HTTP {status}" in str(caught.value)


UNREADABLE = [b"<html>oops</html>", b"[]", b"{}", b'{"data": "x", "output": 1, "trackResponse": 1}']


@pytest.mark.parametrize("carrier", sorted(DECLARED))
@pytest.mark.parametrize("payload", UNREADABLE)
def test_an_unreadable_body_is_a_bad_answer(carrier: str, payload: bytes) -> None:
    with pytest.raises(CarrierApiError) as caught:
        drive(carrier, targets("N1", ref="registered"), always(HttpAnswer(200, {}, payload)))
    assert caught.value.code == "bad_answer"


SPECIAL_ERRORS = [
    ("seventeentrack", answer("seventeentrack", "error_invalid_key_built"), "unauthorized"),
    ("seventeentrack", raw(200, {"code": -18010003, "data": None}), "carrier_error"),
    ("seventeentrack", raw(200, {"code": -1, "data": None}), "carrier_refused"),
    ("ship24", answer("ship24", "bulk_create_403_quota_openapi_example", 403), "quota_exhausted"),
    (
        "ship24",
        raw(405, {"errors": [{"code": "quota_limit_reached", "message": "x"}]}),
        "quota_exhausted",
    ),
    ("ship24", raw(404, {"errors": [{"code": "not_found", "message": "x"}]}), "carrier_refused"),
    (
        "easypost",
        answer("easypost", "error_422_parameter_required_sdk_cassette", 422),
        "carrier_refused",
    ),
    ("easypost", raw(201, {"object": "Shipment"}), "bad_answer"),
]


@pytest.mark.parametrize(("carrier", "given", "code"), SPECIAL_ERRORS)
def test_carrier_specific_refusals(carrier: str, given: HttpAnswer, code: str) -> None:
    with pytest.raises(CarrierApiError) as caught:
        drive(carrier, targets("N1", ref="registered"), always(given))
    assert caught.value.code == code


# --- refs learnt and used ----------------------------------------------------------------


def test_easypost_a_ref_learnt_is_used_next_time_and_dropped_when_gone() -> None:
    created = answer("easypost", "tracker_create_EZ4000000004_delivered_sdk_cassette", 201)
    _, first = drive("easypost", targets("EZ4000000004"), always(created))
    ref = first.refs["EZ4000000004"]
    later, second = drive("easypost", targets("EZ4000000004", ref=ref), always(created))
    assert [(e.call.method, e.call.path) for e in later] == [("GET", f"/v2/trackers/{ref}")]
    assert second.refs == {} and len(events(second, "EZ4000000004")) == 8
    gone = raw(
        404,
        {"error": {"code": "NOT_FOUND", "message": "The requested resource could not be found."}},
    )
    _, third = drive("easypost", targets("EZ4000000004", ref=ref), always(gone))
    assert third.failed == {"EZ4000000004": "not_registered"}  # the poller drops the ref


def test_seventeentrack_registered_numbers_are_not_registered_again() -> None:
    respond = {
        seventeentrack.REGISTER_PATH: answer("seventeentrack", "register_built"),
        seventeentrack.INFO_PATH: answer("seventeentrack", "gettrackinfo_built"),
    }
    _, first = drive("seventeentrack", targets("RR123456785CN"), lambda call: respond[call.path])
    assert first.refs == {"RR123456785CN": "registered"}
    asked = targets("RR123456785CN", "RB111111111CN", ref=first.refs["RR123456785CN"])
    later, second = drive("seventeentrack", asked, lambda call: respond[call.path])
    assert [e.call.path for e in later] == ["/track/v2.2/gettrackinfo"]
    assert second.failed == {"RB111111111CN": "not_registered"}  # -18019902: register again
    again, _ = drive("seventeentrack", targets("RB111111111CN"), lambda call: respond[call.path])
    assert [e.call.path for e in again] == ["/track/v2.2/register", "/track/v2.2/gettrackinfo"]


def test_the_number_polled_is_the_number_of_the_events() -> None:
    payload = json.loads(body("fedex", "trackingnumbers_200_built"))
    _, result = drive("fedex", targets("794 843 185 271"), always(raw(200, payload)))
    assert {e.tracking_number for e in events(result, "794 843 185 271")} == {"794 843 185 271"}


# --- no secret in any error text ---------------------------------------------------------

ECHOES = [
    raw(401, {"errors": [{"code": KEY, "message": f"key {KEY} / {TOKEN} is invalid"}]}),
    raw(403, {"error": {"code": CLIENT.client_secret, "message": CLIENT.client_secret}}),
    raw(400, {"response": {"errors": [{"code": TOKEN, "message": TOKEN}]}}),
    raw(200, {"code": -18010002, "data": {"errors": [{"message": KEY}]}}),
    raw(200, f"not json {KEY} {TOKEN}".encode()),
]


@pytest.mark.parametrize("carrier", sorted(DECLARED))
@pytest.mark.parametrize("given", ECHOES)
def test_no_secret_in_any_error_text(carrier: str, given: HttpAnswer) -> None:
    failures: list[BaseException] = []
    try:
        drive(carrier, targets("N1"), always(given))
    except CarrierApiError as exc:
        failures.append(exc)
    grant = polling(carrier).token
    if grant is not None:
        with pytest.raises(TokenRefused) as caught:
            grant.read(
                given
                if given.status >= 300
                else raw(200, {"access_token": TOKEN, "expires_in": KEY})
            )
        failures.append(caught.value)
    assert failures
    for failure in failures:
        assert not any(secret in f"{failure} {failure!r}" for secret in SECRETS), failure
