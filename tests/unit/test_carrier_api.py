"""The loopback carrier API over real HTTP: each carrier's documented paths and shapes
(POLLING.md), tokens and their expiry, refusals, unknown numbers, injected misbehaviour,
batch limits, concurrency accounting, and the demo scenario on a controlled clock."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from adapters import easypost, fedex, seventeentrack, ship24, ups
from gateway.carriers.adapter import Delivery
from gateway.carriers.status import status_of
from gateway.cli import build_parser
from gateway.cli.carrier_api_cmd import banner, run, watch
from gateway.models import Status
from gateway.testkit.carrier_api import (
    CARRIERS,
    TEST_CREDENTIALS,
    CarrierApi,
    SimEvent,
    add_demo,
    demo_number,
)
from gateway.testkit.carrier_api import easypost as ep_sim
from gateway.testkit.carrier_api import fedex as fedex_sim
from gateway.testkit.carrier_api import seventeentrack as st_sim
from gateway.testkit.carrier_api import ship24 as ship24_sim
from gateway.testkit.carrier_api import ups as ups_sim

T0 = datetime(2025, 3, 3, 15, 0, tzinfo=UTC)
EST, CST = timedelta(hours=-5), timedelta(hours=-6)
HISTORY = [
    SimEvent(
        Status.INFO_RECEIVED, T0, city="Memphis", region="TN", postal_code="38118", utc_offset=CST
    ),
    SimEvent(
        Status.IN_TRANSIT, T0 + timedelta(hours=6), city="Atlanta", region="GA", utc_offset=EST
    ),
    SimEvent(
        Status.OUT_FOR_DELIVERY,
        T0 + timedelta(days=1),
        city="Charlotte",
        region="NC",
        postal_code="28209",
        utc_offset=EST,
    ),
    SimEvent(
        Status.DELIVERED,
        T0 + timedelta(days=1, hours=4),
        city="Charlotte",
        region="NC",
        postal_code="28209",
        description="Left at front door",
        utc_offset=EST,
    ),
]
NUMBER = "1Z999AA10123456784"
UPS_HEADERS = {"transId": "5b0c2f0e4a4d4c1f9a7e3d2b1c0a9f8e", "transactionSrc": "waybill-tests"}


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime) -> None:
        self.now = start.timestamp()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(T0 + timedelta(days=10))


@pytest.fixture
def api(clock: Clock) -> Iterator[CarrierApi]:
    with CarrierApi(clock=clock) as api:
        for carrier in CARRIERS:
            api.add(carrier, NUMBER, HISTORY, signed_by="J. SMITH", estimated_delivery="2025-03-04")
        yield api


@pytest.fixture
def http(api: CarrierApi) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api.url, timeout=5) as client:
        yield client


# -- how a client calls each carrier -------------------------------------------------------


def ups_token(http: httpx.Client, api: CarrierApi) -> str:
    client_id, secret = pair(api, "ups")
    form = {"grant_type": "client_credentials"}
    answer = http.post("/ups/security/v1/oauth/token", auth=(client_id, secret), data=form)
    assert answer.status_code == 200
    return str(answer.json()["access_token"])


def ups_details(http: httpx.Client, token: str, number: str, **headers: str) -> httpx.Response:
    sent = {"Authorization": f"Bearer {token}", **(headers or UPS_HEADERS)}
    return http.get(f"/ups/api/track/v1/details/{number}?locale=en_US", headers=sent)


def fedex_token(http: httpx.Client, api: CarrierApi) -> str:
    client_id, secret = pair(api, "fedex")
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    answer = http.post("/fedex/oauth/token", data=form)
    assert answer.status_code == 200
    return str(answer.json()["access_token"])


def fedex_track(http: httpx.Client, token: str, numbers: list[str]) -> httpx.Response:
    info = [{"trackingNumberInfo": {"trackingNumber": n}} for n in numbers]
    body = {"trackingInfo": info, "includeDetailedScans": True}
    return http.post(
        "/fedex/track/v1/trackingnumbers", json=body, headers={"Authorization": f"Bearer {token}"}
    )


def easypost_create(http: httpx.Client, key: str, code: str) -> httpx.Response:
    body = {"tracker": {"tracking_code": code}}
    return http.post("/easypost/v2/trackers", json=body, auth=(key, ""))


def seventeen(http: httpx.Client, key: str, call: str, numbers: list[str]) -> httpx.Response:
    body = [{"number": n} for n in numbers]
    return http.post(f"/seventeentrack/track/v2.2/{call}", json=body, headers={"17token": key})


def ship24_track(http: httpx.Client, key: str, number: str) -> httpx.Response:
    return http.post(
        "/ship24/public/v1/trackers/track",
        json={"trackingNumber": number},
        headers={"Authorization": f"Bearer {key}"},
    )


def pair(api: CarrierApi, carrier: str) -> tuple[str, str]:
    found = api.credentials(carrier)
    assert isinstance(found, tuple)
    return found


def key(carrier: str) -> str:
    found = TEST_CREDENTIALS[carrier]
    assert isinstance(found, str)
    return found


# -- UPS -----------------------------------------------------------------------------------


def test_ups_token_and_details_follow_the_documented_paths(
    http: httpx.Client, api: CarrierApi
) -> None:
    client_id, secret = pair(api, "ups")
    form = {"grant_type": "client_credentials"}
    grant = http.post("/ups/security/v1/oauth/token", auth=(client_id, secret), data=form).json()
    assert set(grant) == {
        "token_type",
        "issued_at",
        "client_id",
        "access_token",
        "scope",
        "expires_in",
        "refresh_count",
        "status",
    }
    assert grant["expires_in"] == "3600" and grant["client_id"] == client_id

    answer = ups_details(http, grant["access_token"], NUMBER)
    assert answer.status_code == 200
    shipment = answer.json()["trackResponse"]["shipment"][0]
    package = shipment["package"][0]
    assert (shipment["inquiryNumber"], package["trackingNumber"]) == (NUMBER, NUMBER)
    activity = package["activity"]
    assert [a["status"]["type"] for a in activity] == ["D", "I", "I", "M"]  # newest first
    assert [a["status"]["code"] for a in activity] == ["FS", "OT", "DP", "MP"]
    newest = activity[0]
    assert (newest["date"], newest["time"]) == ("20250304", "140000")  # local, -05:00
    assert (newest["gmtDate"], newest["gmtTime"], newest["gmtOffset"]) == (
        "20250304",
        "190000",
        "-05:00",
    )
    assert newest["location"]["address"]["city"] == "Charlotte"
    assert newest["status"]["description"] == "Left at front door"
    assert package["deliveryInformation"]["receivedBy"] == "J. SMITH"


def test_ups_unknown_number_is_a_200_with_warning_tw0001(
    http: httpx.Client, api: CarrierApi
) -> None:
    answer = ups_details(http, ups_token(http, api), "1Z000000000000000X")
    assert answer.status_code == 200
    shipment = answer.json()["trackResponse"]["shipment"][0]
    assert shipment["warnings"][0] == {
        "code": "TW0001",
        "message": "Tracking Information Not Found",
    }
    assert "package" not in shipment


def test_ups_refusals(http: httpx.Client, api: CarrierApi, clock: Clock) -> None:
    form = {"grant_type": "client_credentials"}
    path = "/ups/security/v1/oauth/token"
    wrong = http.post(path, auth=("test-ups-client-id", "nope"), data=form)
    assert wrong.status_code == 401
    assert wrong.json()["response"]["errors"][0]["code"]
    assert http.post(path, data=form).status_code == 401
    grant = {"grant_type": "password"}
    assert http.post(path, auth=pair(api, "ups"), data=grant).status_code == 400

    token = ups_token(http, api)
    assert ups_details(http, token, NUMBER, transId="only-one").status_code == 400
    assert ups_details(http, "not-a-token", NUMBER).status_code == 401

    api.token_seconds = 100
    token = ups_token(http, api)
    clock.now += 99
    assert ups_details(http, token, NUMBER).status_code == 200
    clock.now += 1
    expired = ups_details(http, token, NUMBER)
    assert expired.status_code == 401
    assert expired.json()["response"]["errors"][0]["code"] == "250002"


# -- FedEx ---------------------------------------------------------------------------------


def test_fedex_token_and_track_follow_the_documented_paths(
    http: httpx.Client, api: CarrierApi
) -> None:
    client_id, secret = pair(api, "fedex")
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    grant = http.post("/fedex/oauth/token", data=form).json()
    assert {k: grant[k] for k in ("token_type", "expires_in", "scope")} == {
        "token_type": "bearer",
        "expires_in": 3600,
        "scope": "CXS",
    }

    answer = fedex_track(http, grant["access_token"], [NUMBER, "000000000000"])
    assert answer.status_code == 200
    known, unknown = answer.json()["output"]["completeTrackResults"]
    result = known["trackResults"][0]
    assert result["trackingNumberInfo"]["trackingNumber"] == NUMBER
    assert result["latestStatusDetail"]["code"] == "DL"
    scans = result["scanEvents"]
    assert [s["eventType"] for s in scans] == ["DL", "OD", "AR", "OC"]  # newest first
    assert [s["derivedStatusCode"] for s in scans] == ["DL", "OD", "IT", "OC"]
    assert scans[0]["date"] == "2025-03-04T14:00:00-05:00"
    assert scans[0]["scanLocation"]["city"] == "CHARLOTTE"
    assert {"stateOrProvinceCode", "postalCode", "countryCode"} <= set(scans[0]["scanLocation"])
    missing = unknown["trackResults"][0]
    assert missing["error"]["code"] == "TRACKING.TRACKINGNUMBER.NOTFOUND"
    assert "scanEvents" not in missing


def test_fedex_batch_limit_and_empty_request(http: httpx.Client, api: CarrierApi) -> None:
    token = fedex_token(http, api)
    numbers = [f"79484318{i:04d}" for i in range(31)]
    too_many = fedex_track(http, token, numbers)
    assert too_many.status_code == 400
    assert too_many.json()["errors"][0]["code"] and "transactionId" in too_many.json()
    full = fedex_track(http, token, numbers[:30])
    assert len(full.json()["output"]["completeTrackResults"]) == 30
    empty = fedex_track(http, token, [])
    assert empty.json()["errors"][0]["code"] == "TRACKING.TRACKINGNUMBER.EMPTY"


def test_fedex_expired_token_and_bad_client(http: httpx.Client, api: CarrierApi) -> None:
    token = fedex_token(http, api)
    assert fedex_track(http, token, [NUMBER]).status_code == 200
    api.expire_tokens("fedex")
    refused = fedex_track(http, token, [NUMBER])
    assert refused.status_code == 401
    assert refused.json()["errors"][0]["code"] == "NOT.AUTHORIZED.ERROR"
    assert fedex_track(http, fedex_token(http, api), [NUMBER]).status_code == 200
    form = {"grant_type": "client_credentials", "client_id": "x", "client_secret": "y"}
    assert http.post("/fedex/oauth/token", data=form).status_code == 401


# -- EasyPost ------------------------------------------------------------------------------


def test_easypost_create_then_retrieve(http: httpx.Client) -> None:
    created = easypost_create(http, key("easypost"), NUMBER)
    assert created.status_code == 201
    tracker = created.json()
    assert tracker["id"].startswith("trk_") and tracker["object"] == "Tracker"
    assert (tracker["tracking_code"], tracker["status"]) == (NUMBER, "delivered")
    assert tracker["signed_by"] == "J. SMITH" and tracker["est_delivery_date"] == "2025-03-04"
    details = tracker["tracking_details"]
    assert [d["status"] for d in details] == [
        "pre_transit",
        "in_transit",
        "out_for_delivery",
        "delivered",
    ]  # oldest first
    assert details[0]["datetime"] == "2025-03-03T15:00:00Z"
    assert details[0]["tracking_location"] == {
        "object": "TrackingLocation",
        "city": "Memphis",
        "state": "TN",
        "country": "US",
        "zip": "38118",
    }

    again = easypost_create(http, key("easypost"), NUMBER)
    assert again.status_code == 200 and again.json()["id"] == tracker["id"]
    bearer = {"Authorization": f"Bearer {key('easypost')}"}
    fetched = http.get(f"/easypost/v2/trackers/{tracker['id']}", headers=bearer)
    assert fetched.status_code == 200 and fetched.json()["id"] == tracker["id"]


def test_easypost_unknowns_and_refusal(http: httpx.Client) -> None:
    unknown = easypost_create(http, key("easypost"), "EZ0000000000")
    assert unknown.status_code == 422
    assert unknown.json()["error"]["code"] == "TRACKER.CREATE.ERROR"
    missing = http.get("/easypost/v2/trackers/trk_nope", auth=(key("easypost"), ""))
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "NOT_FOUND"
    refused = easypost_create(http, "EZTK-wrong", NUMBER)
    assert refused.status_code == 401 and "code" in refused.json()["error"]


# -- 17TRACK -------------------------------------------------------------------------------


def test_17track_register_then_gettrackinfo(http: httpx.Client) -> None:
    token = key("seventeentrack")
    registered = seventeen(http, token, "register", [NUMBER, "RR000000000CN"]).json()
    assert registered["code"] == 0
    assert [a["number"] for a in registered["data"]["accepted"]] == [NUMBER, "RR000000000CN"]
    again = seventeen(http, token, "register", [NUMBER]).json()["data"]
    assert again["rejected"][0]["error"]["code"] == -18019901

    answer = seventeen(http, token, "gettrackinfo", [NUMBER, "RR000000000CN", "LX1"]).json()
    assert answer["code"] == 0
    (accepted,) = answer["data"]["accepted"]
    assert accepted["number"] == NUMBER and isinstance(accepted["carrier"], int)
    info = accepted["track_info"]
    assert info["latest_status"]["status"] == "Delivered"
    assert info["latest_event"]["sub_status"] == "Delivered_Other"
    events = info["tracking"]["providers"][0]["events"]
    assert [e["sub_status"] for e in events] == [
        "Delivered_Other",
        "OutForDelivery",
        "InTransit_Arrival",
        "InfoReceived",
    ]  # newest first
    assert (events[0]["time_iso"], events[0]["time_utc"]) == (
        "2025-03-04T14:00:00-05:00",
        "2025-03-04T19:00:00Z",
    )
    assert {"description", "location", "stage", "address"} <= set(events[0])
    rejected = {r["number"]: r["error"]["code"] for r in answer["data"]["rejected"]}
    assert rejected == {"RR000000000CN": -18019909, "LX1": -18019902}


def test_17track_limit_and_refusal(http: httpx.Client) -> None:
    numbers = [f"RR{i:09d}CN" for i in range(41)]
    too_many = seventeen(http, key("seventeentrack"), "gettrackinfo", numbers)
    assert too_many.status_code == 200 and too_many.json()["code"] == -18010014
    refused = seventeen(http, "wrong", "register", [NUMBER])
    assert refused.status_code == 401 and refused.json()["code"] == -18010002


# -- Ship24 --------------------------------------------------------------------------------


def test_ship24_track_and_results(http: httpx.Client) -> None:
    answer = ship24_track(http, key("ship24"), NUMBER)
    assert answer.status_code == 200
    tracking = answer.json()["data"]["trackings"][0]
    tracker, shipment = tracking["tracker"], tracking["shipment"]
    assert {"trackerId", "trackingNumber", "isSubscribed", "isTracked", "createdAt"} <= set(tracker)
    assert shipment["statusMilestone"] == "delivered"
    assert shipment["delivery"]["estimatedDeliveryDate"] == "2025-03-04"
    events = tracking["events"]
    assert [e["statusMilestone"] for e in events] == [
        "delivered",
        "out_for_delivery",
        "in_transit",
        "info_received",
    ]  # newest first
    assert [e["order"] for e in events] == [4, 3, 2, 1]
    assert events[0]["occurrenceDatetime"] == "2025-03-04T14:00:00"
    assert events[0]["location"] == "Charlotte, NC 28209"
    assert tracking["statistics"]["timestamps"]["deliveredDatetime"] == "2025-03-04T14:00:00"

    bearer = {"Authorization": f"Bearer {key('ship24')}"}
    results = http.get(f"/ship24/public/v1/trackers/{tracker['trackerId']}/results", headers=bearer)
    assert results.json()["data"]["trackings"][0]["events"] == events
    gone = http.get("/ship24/public/v1/trackers/nope/results", headers=bearer)
    assert gone.status_code == 404 and gone.json()["errors"][0]["code"] == "tracker_not_found"


def test_ship24_unknown_number_is_pending_and_refusals(http: httpx.Client) -> None:
    pending = ship24_track(http, key("ship24"), "SHIP24UNKNOWN1").json()["data"]["trackings"][0]
    assert pending["shipment"]["statusMilestone"] == "pending" and pending["events"] == []
    missing = http.post("/ship24/public/v1/trackers/track", json={"trackingNumber": NUMBER})
    assert missing.status_code == 400
    assert missing.json()["errors"][0]["code"] == "auth_missing_header"
    wrong = ship24_track(http, "wrong", NUMBER)
    assert wrong.status_code == 401 and wrong.json()["errors"][0]["code"] == "auth_invalid_api_key"


# -- the codes map back to the same canonical status ----------------------------------------


def test_every_code_maps_back_through_the_adapter_status_tables() -> None:
    for status, u in ups_sim.CODES.items():
        assert status_of(ups.STATUSES, u.type.lower(), u.code.lower()).status is status
    for status, f in fedex_sim.CODES.items():
        assert status_of(fedex.STATUSES, f.derived).status is status
        assert status_of(fedex.STATUSES, f.event_type).status is status
    for status, e in ep_sim.CODES.items():
        assert status_of(easypost.STATUSES, e.status, e.status_detail).status is status
    for status, s in st_sim.CODES.items():
        main = s.sub_status.split("_", 1)[0]
        assert status_of(seventeentrack.STATUSES, main, s.sub_status).status is status
    for status, h in ship24_sim.CODES.items():
        assert status_of(ship24.STATUSES, h.milestone, h.status_code).status is status


def _delivery(carrier: str, body: object) -> Delivery:
    return Delivery("demo", carrier, json.dumps(body).encode(), {}, datetime.now(UTC))


def test_answers_read_back_with_the_carriers_webhook_parsers(
    http: httpx.Client, api: CarrierApi
) -> None:
    """FedEx pushes Track API bodies; EasyPost, 17TRACK and Ship24 push the objects their
    APIs return: each parser must read every code back to the status it was added as."""
    every = "EVERYSTATUS01"
    expected: dict[str, list[Status]] = {}
    for carrier in ("fedex", "easypost", "seventeentrack", "ship24"):
        statuses = list(CARRIERS[carrier].codes)
        history = [SimEvent(s, T0 + timedelta(hours=i)) for i, s in enumerate(statuses)]
        api.add(carrier, every, history)
        expected[carrier] = statuses

    bodies: dict[str, Any] = {
        "fedex": fedex_track(http, fedex_token(http, api), [every]).json(),
        "easypost": {
            "object": "Event",
            "description": "tracker.updated",
            "result": easypost_create(http, key("easypost"), every).json(),
        },
        "ship24": ship24_track(http, key("ship24"), every).json()["data"],  # {trackings: [...]}
    }
    seventeen(http, key("seventeentrack"), "register", [every])
    info = seventeen(http, key("seventeentrack"), "gettrackinfo", [every]).json()
    bodies["seventeentrack"] = {"event": "TRACKING_UPDATED", "data": info["data"]["accepted"][0]}
    parsers = {
        "fedex": fedex,
        "easypost": easypost,
        "seventeentrack": seventeentrack,
        "ship24": ship24,
    }
    for carrier, body in bodies.items():
        events = parsers[carrier].parse(_delivery(carrier, body)).events
        read = [e.status for e in sorted(events, key=lambda e: e.occurred_at)]
        assert read == expected[carrier], carrier


def test_statuses_a_carrier_cannot_express_are_refused(api: CarrierApi) -> None:
    with pytest.raises(ValueError, match="ups has no code for 'attempt_fail'"):
        api.add("ups", "1ZX", [SimEvent(Status.ATTEMPT_FAIL, T0)])
    with pytest.raises(KeyError):
        api.advance("fedex", "never-added", HISTORY[0])
    with pytest.raises(ValueError, match="timezone-aware"):
        SimEvent(Status.DELIVERED, datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="loopback"):
        CarrierApi(host="0.0.0.0")  # noqa: S104
    assert Status.DELIVERED in api.statuses("ship24")


def test_advance_appends_an_event(http: httpx.Client, api: CarrierApi) -> None:
    api.add("ship24", "SHIP24ADVANCE1", HISTORY[:1])
    api.advance("ship24", "SHIP24ADVANCE1", HISTORY[1])
    tracking = ship24_track(http, key("ship24"), "SHIP24ADVANCE1").json()["data"]["trackings"][0]
    assert [e["statusMilestone"] for e in tracking["events"]] == ["in_transit", "info_received"]
    assert api.current_status("ship24", "SHIP24ADVANCE1") is Status.IN_TRANSIT


# -- misbehaviour --------------------------------------------------------------------------

RATE_LIMITED_BODIES: dict[str, Callable[[httpx.Response], bool]] = {
    "ups": lambda r: r.json()["response"]["errors"][0]["code"] == "10429",
    "fedex": lambda r: r.json()["errors"][0]["code"] == "TOO.MANY.REQUESTS.ERROR",
    "easypost": lambda r: r.json()["error"]["code"] == "RATE_LIMITED",
    "seventeentrack": lambda r: r.json()["data"]["errors"][0]["code"] == 429,
    "ship24": lambda r: r.text == "Too Many Requests" and "text/plain" in r.headers["content-type"],
}


@pytest.mark.parametrize("carrier", list(CARRIERS))
def test_fail_next_429_has_retry_after_and_the_carriers_body(
    http: httpx.Client, api: CarrierApi, carrier: str
) -> None:
    api.fail_next(carrier, status=429, retry_after=2.0)
    limited = http.get(f"/{carrier}/anything")
    assert limited.status_code == 429 and limited.headers["retry-after"] == "2"
    assert RATE_LIMITED_BODIES[carrier](limited)
    assert http.get(f"/{carrier}/anything").status_code != 429  # only the next one


def test_server_errors_use_the_documented_bodies(http: httpx.Client, api: CarrierApi) -> None:
    api.fail_next("fedex", status=500)
    api.fail_next("fedex", status=503, count=2)
    codes = [http.get("/fedex/x").json()["errors"][0]["code"] for _ in range(3)]
    assert codes == ["INTERNAL.SERVER.ERROR"] + ["SERVICE.UNAVAILABLE.ERROR"] * 2
    assert http.get("/fedex/x").status_code == 404  # the queue is empty again
    api.fail_next("ship24", status=503)
    unavailable = http.get("/ship24/x")
    assert unavailable.status_code == 503 and "retry-after" not in unavailable.headers
    assert unavailable.json()["data"] is None and unavailable.json()["errors"][0]["code"]


def test_a_fault_can_target_one_endpoint(http: httpx.Client, api: CarrierApi) -> None:
    api.fail_next("ups", status=503, endpoint="/api/track/")
    token = ups_token(http, api)  # the token call is not the target
    assert ups_details(http, token, NUMBER).status_code == 503
    assert ups_details(http, token, NUMBER).status_code == 200


@pytest.mark.parametrize("kind", ["truncated", "html", "empty", "shape"])
def test_wrong_answers_200_with_an_undocumented_body(
    http: httpx.Client, api: CarrierApi, kind: str
) -> None:
    api.wrong("ship24", kind=kind)  # type: ignore[arg-type]
    answer = ship24_track(http, key("ship24"), NUMBER)
    assert answer.status_code == 200
    try:
        body = json.loads(answer.content)
    except ValueError:
        body = None
    assert not (isinstance(body, dict) and "data" in body)
    assert ship24_track(http, key("ship24"), NUMBER).json()["data"]["trackings"]


def test_slow_answers_count_in_flight_per_carrier(http: httpx.Client, api: CarrierApi) -> None:
    api.slow("ship24", 0.3)
    started = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: ship24_track(http, key("ship24"), NUMBER), range(4)))
    elapsed = time.monotonic() - started
    assert [a.status_code for a in answers] == [200] * 4
    assert 0.3 <= elapsed < 1.0  # answered side by side, each after the delay
    assert api.max_in_flight("ship24") == 4 and api.in_flight("ship24") == 0
    assert api.max_in_flight("ups") == 0
    api.slow("ship24", 0)
    api.slow("easypost", 0.2, count=1)
    first = time.monotonic()
    easypost_create(http, key("easypost"), NUMBER)
    second = time.monotonic()
    easypost_create(http, key("easypost"), NUMBER)
    assert second - first >= 0.2 and time.monotonic() - second < 0.2


def test_requests_are_recorded_per_carrier(
    http: httpx.Client, api: CarrierApi, clock: Clock
) -> None:
    token = ups_token(http, api)
    ups_details(http, token, NUMBER)
    ship24_track(http, key("ship24"), NUMBER)
    assert http.get("/dhl/track").status_code == 404
    first, second, third, fourth = api.requests
    assert tuple(first) == ("ups", "POST", "/security/v1/oauth/token", clock.now)
    assert second.path == f"/api/track/v1/details/{NUMBER}?locale=en_US"
    assert (third.carrier, third.method) == ("ship24", "POST")
    assert (fourth.carrier, fourth.path) == ("", "/dhl/track")
    assert (api.count("ups"), api.count(), api.count("ups", path="/details/")) == (2, 4, 1)
    api.clear_requests()
    assert api.count() == 0 and api.max_in_flight("ups") == 0


# -- the demo ------------------------------------------------------------------------------


def test_demo_shipments_advance_one_status_per_step(
    http: httpx.Client, api: CarrierApi, clock: Clock
) -> None:
    shipments = add_demo(api, step_seconds=60)
    assert len(shipments) == 3 * len(CARRIERS)
    first, last = demo_number("ship24", 1), demo_number("ship24", 3)
    assert api.current_status("ship24", last) is Status.OUT_FOR_DELIVERY  # staggered
    token = ups_token(http, api)
    seen = []
    for _ in range(5):
        tracking = ship24_track(http, key("ship24"), first).json()["data"]["trackings"][0]
        activity = ups_details(http, token, demo_number("ups", 1)).json()["trackResponse"]
        codes = [a["status"]["code"] for a in activity["shipment"][0]["package"][0]["activity"]]
        seen.append((tracking["shipment"]["statusMilestone"], len(tracking["events"]), codes[0]))
        clock.now += 60
    assert seen == [
        ("info_received", 1, "MP"),
        ("in_transit", 2, "DP"),
        ("out_for_delivery", 3, "OT"),
        ("delivered", 4, "FS"),
        ("delivered", 4, "FS"),
    ]


def test_demo_command_prints_setup_and_changes(api: CarrierApi, clock: Clock) -> None:
    shipments = add_demo(api, step_seconds=30)
    lines = banner(api, shipments, 30)
    assert f"api_base_url {api.url}/ups" in "\n".join(lines)
    assert (
        "  waybill secrets set demo ups.api --value test-ups-client-id:test-ups-client-secret"
        in lines
    )
    out, stop = io.StringIO(), threading.Event()
    watcher = threading.Thread(target=watch, args=(api, shipments, stop, out))
    watcher.start()
    try:
        clock.now += 30
        deadline = time.monotonic() + 3
        while "info_received → in_transit" not in out.getvalue() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        watcher.join(5)
    assert f"ups  {demo_number('ups', 1)}  info_received → in_transit" in out.getvalue()

    args = build_parser().parse_args(["carrier-api", "--port", "0"])
    assert (args.func, args.host, args.step_seconds) == (run, "127.0.0.1", 60.0)
