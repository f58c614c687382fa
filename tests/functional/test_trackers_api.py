"""``/v1/trackers`` end to end through the Lambda handler (moto DynamoDB), the carriers'
tracking APIs served by the loopback carrier API (:mod:`gateway.testkit.carrier_api`):
start tracking (idempotent), read with the check log, list by state and carrier with
signed cursors, remove, refresh one now (200 checked, 202 queued, 409 retired, 429 budget
spent with ``Retry-After``), refresh many (queued first), usage per carrier; the fixed
paths are never taken for a tracking number; every refusal is a stable code, never a 5xx;
and every answer is the documented model.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from gateway.api.app import make_handler
from gateway.api.models import CarrierShipment
from gateway.api.openapi import document
from gateway.api.poll_models import (
    PollUsage,
    Refreshed,
    RefreshesQueued,
    RefreshQueued,
    Tracker,
    TrackerDetail,
    TrackersPage,
)
from gateway.notify.addresses import AddressPolicy
from gateway.routes import match_route
from gateway.services import build_services
from gateway.store.table import ensure_table
from gateway.testkit.carrier_api import CarrierApi, SimEvent
from gateway.testkit.harness import DictSecrets, Harness, Reply

NOW = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)
UPS1, UPS2, UPS3 = "1Z999AA10123456784", "1Z999AA10123456785", "1Z999AA10123456786"
FEDEX1 = "999912345678"
JSON = {"content-type": "application/json"}
BUDGET = 8
TENANTS = {
    "acme": """
        name = "Acme (trackers test)"
        retention_days = 30
        [carriers.easypost]
        [carriers.ups.polling]
        daily_budget = {budget}
        api_base_url = "{ups}"
        [carriers.fedex.polling]
        daily_budget = 100
        api_base_url = "{fedex}"
    """,
    "globex": """
        name = "Globex (trackers test: ups without polling)"
        retention_days = 30
        [carriers.ups]
    """,
}


class Clock:
    """One clock for the gateway and the carrier API, moved by hand."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def seconds(self) -> float:
        return self.now.timestamp()


@contextmanager
def polling_gateway(
    tmp: Path, api: CarrierApi, clock: Clock, budget: int = BUDGET
) -> Iterator[Harness]:
    """The handler over moto, tenants polling the loopback carrier API with its TEST
    credentials (http to loopback allowed, as locally)."""
    tenants = tmp / "tenants"
    tenants.mkdir()
    for tenant, text in TENANTS.items():
        filled = text.format(budget=budget, ups=api.base_url("ups"), fedex=api.base_url("fedex"))
        (tenants / f"{tenant}.toml").write_text(
            "\n".join(line.strip() for line in filled.splitlines())
        )
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-west-2")
        ensure_table(client, "waybill-test")
        secrets = DictSecrets(
            {(t, f"{c}.api"): [api.slot_value(c)] for t in TENANTS for c in ("ups", "fedex")}
        )
        counts: dict[str, float] = {}

        def count(name: str, value: float = 1) -> None:
            counts[name] = counts.get(name, 0) + value

        services = build_services(
            dynamodb=client,
            table_name="waybill-test",
            tenants_dir=tenants,
            secrets=secrets,
            count=count,
            clock=clock,
            address_policy=AddressPolicy(allow_insecure=True),
        )
        yield Harness(make_handler(services), services, secrets, counts)


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def api(clock: Clock) -> Iterator[CarrierApi]:
    with CarrierApi(clock=clock.seconds) as api:
        for number in (UPS1, UPS2):
            api.add(
                "ups", number, [SimEvent("in_transit", NOW - timedelta(hours=5), city="Atlanta")]
            )
        api.add("fedex", FEDEX1, [SimEvent("info_received", NOW - timedelta(hours=2))])
        yield api


@pytest.fixture
def gw(tmp_path: Path, api: CarrierApi, clock: Clock) -> Iterator[Harness]:
    with polling_gateway(tmp_path, api, clock) as harness:
        yield harness


def call(gw: Harness, method: str, url: str, body: Any = None, tenant: str = "acme") -> Reply:
    raw = body if isinstance(body, bytes) else b"" if body is None else json.dumps(body).encode()
    return gw.call(method, url, body=raw, headers=JSON if raw else {}, tenant=tenant)


def code(reply: Reply) -> tuple[int, str]:
    return reply.status, reply.body["error"]["code"]


def track(gw: Harness, number: str = UPS1, carrier: str = "ups", tenant: str = "acme") -> Any:
    reply = call(
        gw, "POST", "/v1/trackers", {"tracking_number": number, "carrier": carrier}, tenant
    )
    assert reply.status in (200, 201), reply.body
    return reply.body


# -- start tracking ----------------------------------------------------------------------


def test_add_is_idempotent_and_the_tracker_is_due_now(gw: Harness) -> None:
    first = call(
        gw, "POST", "/v1/trackers", {"tracking_number": " 1z999aa1012345 6784", "carrier": "ups"}
    )
    assert first.status == 201
    tracker = Tracker.model_validate(first.body)
    assert (tracker.tracking_number, tracker.carrier, tracker.state) == (UPS1, "ups", "active")
    assert (tracker.status.value, tracker.next_check_at, tracker.last_checked_at) == (
        "unknown",
        NOW,
        None,
    )
    assert (tracker.checks, tracker.consecutive_failures, tracker.last_error) == (0, 0, None)
    again = call(gw, "POST", "/v1/trackers", {"tracking_number": UPS1, "carrier": "ups"})
    assert (again.status, again.body) == (200, first.body)


BAD_ADDS: list[tuple[Any, tuple[int, str]]] = [
    (b"{", (400, "malformed_body")),
    (b"[]", (400, "malformed_body")),
    (b"\xff", (400, "malformed_body")),
    ({"tracking_number": UPS1, "carrier": "ups", "ref": "x"}, (400, "unknown_field")),
    ({"carrier": "ups"}, (400, "invalid_tracking_number")),
    ({"tracking_number": "", "carrier": "ups"}, (400, "invalid_tracking_number")),
    ({"tracking_number": 123, "carrier": "ups"}, (400, "invalid_tracking_number")),
    ({"tracking_number": "1Z#99", "carrier": "ups"}, (400, "invalid_tracking_number")),
    ({"tracking_number": "Ω1", "carrier": "ups"}, (400, "invalid_tracking_number")),
    ({"tracking_number": "9" * 65, "carrier": "ups"}, (400, "invalid_tracking_number")),
    ({"tracking_number": UPS1}, (400, "invalid_carrier")),
    ({"tracking_number": UPS1, "carrier": "UPS"}, (400, "invalid_carrier")),
    ({"tracking_number": UPS1, "carrier": "../ups"}, (400, "invalid_carrier")),
    ({"tracking_number": UPS1, "carrier": ["ups"]}, (400, "invalid_carrier")),
    ({"tracking_number": UPS1, "carrier": "easypost"}, (400, "polling_not_configured")),
    ({"tracking_number": UPS1, "carrier": "dhl"}, (400, "polling_not_configured")),
]


def test_bad_adds_are_refused_with_a_code(gw: Harness) -> None:
    for body, expected in BAD_ADDS:
        assert code(call(gw, "POST", "/v1/trackers", body)) == expected, body
    unpolled = call(
        gw, "POST", "/v1/trackers", {"tracking_number": UPS1, "carrier": "ups"}, "globex"
    )
    assert code(unpolled) == (400, "polling_not_configured")
    assert "[carriers.ups.polling]" in unpolled.body["error"]["message"]
    plain = gw.call(
        "POST", "/v1/trackers", body=b"{}", headers={"content-type": "text/plain"}, tenant="acme"
    )
    assert code(plain) == (415, "unsupported_media_type")
    assert code(call(gw, "POST", "/v1/trackers")) == (400, "malformed_body")
    assert call(gw, "GET", "/v1/trackers?state=active").body == {
        "trackers": [],
        "next_cursor": None,
    }


# -- one tracker: read, refresh, remove -------------------------------------------------------


def test_refresh_checks_now_and_the_tracker_shows_its_checks(gw: Harness, api: CarrierApi) -> None:
    track(gw)
    reply = call(gw, "POST", f"/v1/trackers/{UPS1}/refresh?carrier=ups")
    assert reply.status == 200, reply.body
    done = Refreshed.model_validate(reply.body)
    assert (done.events_added, done.status.value, done.checked_at, done.error) == (
        1,
        "in_transit",
        NOW,
        None,
    )
    assert "error" not in reply.body
    assert (done.tracker.checks, done.tracker.last_source, done.tracker.last_checked_at) == (
        1,
        "poll",
        NOW,
    )
    assert done.tracker.next_check_at is not None and done.tracker.next_check_at > NOW
    assert api.count("ups", path="/api/track/v1/details") == 1
    again = call(gw, "POST", f"/v1/trackers/{UPS1.lower()}/refresh?carrier=ups")
    assert (again.status, again.body["events_added"], again.body["tracker"]["checks"]) == (
        200,
        0,
        2,
    )
    shown = call(gw, "GET", f"/v1/trackers/{UPS1}?carrier=ups")
    assert shown.status == 200
    detail = TrackerDetail.model_validate(shown.body)
    assert detail.checks == 2 and detail.status.value == "in_transit"
    assert [
        (c.trigger, c.http_status, c.events_added, c.status_changed) for c in detail.recent_checks
    ] == [
        ("refresh", 200, 0, False),
        ("refresh", 200, 1, True),
    ]
    events = call(gw, "GET", f"/v1/shipments/{UPS1}/events")  # stored as a push would be
    assert [e["status"] for e in events.body["events"]] == ["in_transit"]
    shipment = call(gw, "GET", f"/v1/shipments/{UPS1}")
    (state,) = [CarrierShipment.model_validate(s) for s in shipment.body["shipments"]]
    assert (state.freshness.source, state.freshness.last_checked_at) == ("poll", NOW)
    assert state.freshness.next_check_at == detail.next_check_at


def test_a_failed_check_is_answered_with_its_error(gw: Harness, api: CarrierApi) -> None:
    track(gw)
    api.wrong("ups", kind="shape", endpoint="/api/track")
    reply = call(gw, "POST", f"/v1/trackers/{UPS1}/refresh?carrier=ups")
    assert reply.status == 200, reply.body
    done = Refreshed.model_validate(reply.body)
    assert done.error and done.error == done.tracker.last_error
    assert (done.events_added, done.tracker.consecutive_failures) == (0, 1)
    log = call(gw, "GET", f"/v1/trackers/{UPS1}?carrier=ups").body["recent_checks"]
    assert [c["error"] for c in log] == [done.error]


def test_a_carrier_that_cannot_answer_now_queues_the_tracker_first(
    gw: Harness, api: CarrierApi
) -> None:
    track(gw)
    api.fail_next("ups", 503, endpoint="/api/track")
    reply = call(gw, "POST", f"/v1/trackers/{UPS1}/refresh?carrier=ups")
    assert reply.status == 202, reply.body
    queued = RefreshQueued.model_validate(reply.body)
    assert queued.queued is True and queued.tracker.next_check_at == NOW


def test_a_tracker_being_checked_is_queued_first(gw: Harness) -> None:
    track(gw)
    store = gw.services.trackers.store
    tracker = store.get("acme", "ups", UPS1)
    assert tracker is not None and store.claim(tracker.key, "another-poller", NOW) is not None
    reply = call(gw, "POST", f"/v1/trackers/{UPS1}/refresh?carrier=ups")
    assert reply.status == 202 and reply.body["queued"] is True


def test_the_daily_budget_is_never_exceeded_and_says_when_it_renews(
    gw: Harness, api: CarrierApi
) -> None:
    track(gw)
    answers = [
        call(gw, "POST", f"/v1/trackers/{UPS1}/refresh?carrier=ups") for _ in range(BUDGET + 2)
    ]
    statuses = [a.status for a in answers]
    assert 200 in statuses and statuses[-1] == 429, statuses
    spent = answers[-1]
    assert code(spent) == (429, "poll_budget_spent")
    midnight = datetime(2025, 6, 3, tzinfo=UTC)
    assert spent.headers["Retry-After"] == str(int((midnight - NOW).total_seconds()) + 1)
    assert api.count("ups") == BUDGET  # every request counted, token calls too
    usage = PollUsage.model_validate(call(gw, "GET", "/v1/trackers/usage").body)
    ups = next(c for c in usage.carriers if c.carrier == "ups")
    assert (ups.requests_today, ups.daily_budget) == (BUDGET, BUDGET)
    shown = call(gw, "GET", f"/v1/trackers/{UPS1}?carrier=ups").body
    assert shown["last_error"] == "budget_spent" and shown["consecutive_failures"] == 0


def test_remove_retires_keeps_history_and_add_starts_again(gw: Harness) -> None:
    track(gw)
    assert call(gw, "POST", f"/v1/trackers/{UPS1}/refresh?carrier=ups").status == 200
    removed = call(gw, "DELETE", f"/v1/trackers/{UPS1}?carrier=ups")
    assert removed.status == 200
    tracker = Tracker.model_validate(removed.body)
    assert (tracker.state, tracker.retired_reason, tracker.next_check_at) == (
        "retired",
        "removed",
        None,
    )
    assert call(gw, "DELETE", f"/v1/trackers/{UPS1}?carrier=ups").body == removed.body
    refused = call(gw, "POST", f"/v1/trackers/{UPS1}/refresh?carrier=ups")
    assert code(refused) == (409, "tracker_retired")
    batch = {"trackers": [{"tracking_number": UPS1, "carrier": "ups"}]}
    assert code(call(gw, "POST", "/v1/trackers/refresh", batch)) == (409, "tracker_retired")
    shown = call(gw, "GET", f"/v1/trackers/{UPS1}?carrier=ups").body
    assert shown["state"] == "retired" and len(shown["recent_checks"]) == 1
    assert call(gw, "GET", f"/v1/shipments/{UPS1}/events").status == 200  # history stays
    listed = call(gw, "GET", "/v1/trackers?state=retired").body["trackers"]
    assert [t["tracking_number"] for t in listed] == [UPS1]
    assert call(gw, "GET", "/v1/trackers").body["trackers"] == []
    restarted = call(gw, "POST", "/v1/trackers", {"tracking_number": UPS1, "carrier": "ups"})
    assert restarted.status == 201 and restarted.body["state"] == "active"


@pytest.mark.parametrize("method", ["GET", "DELETE", "POST"])
def test_one_tracker_needs_its_carrier_and_a_valid_number(gw: Harness, method: str) -> None:
    track(gw)
    suffix = "/refresh" if method == "POST" else ""
    for query, expected in [
        ("", (400, "invalid_carrier")),
        ("?carrier=", (400, "invalid_carrier")),
        ("?carrier=UPS", (400, "invalid_carrier")),
        ("?carrier=ups%23x", (400, "invalid_carrier")),
        ("?carrier=fedex", (404, "tracker_not_found")),
    ]:
        reply = call(gw, method, f"/v1/trackers/{UPS1}{suffix}{query}")
        assert code(reply) == expected, (method, query)
    assert code(call(gw, method, f"/v1/trackers/NOSUCH1{suffix}?carrier=ups")) == (
        404,
        "tracker_not_found",
    )
    bad = call(gw, method, f"/v1/trackers/1Z%2399{suffix}?carrier=ups")
    assert code(bad) == (400, "invalid_tracking_number")
    assert code(call(gw, method, f"/v1/trackers/{'9' * 65}{suffix}?carrier=ups")) == (
        400,
        "invalid_tracking_number",
    )


# -- the tenant's trackers ----------------------------------------------------------------


def test_list_by_state_and_carrier_in_pages(gw: Harness) -> None:
    for number, carrier in [(UPS2, "ups"), (FEDEX1, "fedex"), (UPS1, "ups"), (UPS3, "ups")]:
        track(gw, number, carrier)
    call(gw, "DELETE", f"/v1/trackers/{UPS3}?carrier=ups")
    every = TrackersPage.model_validate(call(gw, "GET", "/v1/trackers").body)
    assert [(t.carrier, t.tracking_number) for t in every.trackers] == [
        ("fedex", FEDEX1),
        ("ups", UPS1),
        ("ups", UPS2),
    ]
    assert every.next_cursor is None
    seen, cursor, pages = [], None, 0
    while True:
        query = "?carrier=ups&limit=1" + (f"&cursor={cursor}" if cursor else "")
        page = TrackersPage.model_validate(call(gw, "GET", f"/v1/trackers{query}").body)
        seen += [t.tracking_number for t in page.trackers]
        pages, cursor = pages + 1, page.next_cursor
        if cursor is None:
            break
        with_state = call(
            gw, "GET", f"/v1/trackers?state=retired&carrier=ups&limit=1&cursor={cursor}"
        )
        assert code(with_state) == (400, "invalid_cursor")  # issued to another request
        assert code(
            call(gw, "GET", f"/v1/trackers?carrier=ups&limit=1&cursor={cursor}", tenant="globex")
        ) == (
            400,
            "invalid_cursor",
        )
    assert seen == [UPS1, UPS2] and pages <= 3
    assert [
        t["tracking_number"] for t in call(gw, "GET", "/v1/trackers?state=retired").body["trackers"]
    ] == [UPS3]
    assert call(gw, "GET", "/v1/trackers?state=failing").body == {
        "trackers": [],
        "next_cursor": None,
    }
    assert call(gw, "GET", "/v1/trackers?carrier=ups&state=active").status == 200
    for query, expected in [
        ("?state=done", "invalid_state"),
        ("?state=ACTIVE", "invalid_state"),
        ("?carrier=UPS", "invalid_carrier"),
        ("?carrier=upss", "unknown_carrier"),  # a typo is never an empty page
        ("?limit=0", "invalid_limit"),
        ("?limit=101", "invalid_limit"),
        ("?limit=-1", "invalid_limit"),
        ("?limit=1e2", "invalid_limit"),
        ("?cursor=garbage", "invalid_cursor"),
        ("?cursor=" + "a" * 2000, "invalid_cursor"),
    ]:
        assert code(call(gw, "GET", f"/v1/trackers{query}")) == (400, expected), query


def test_refresh_many_queues_them_first_all_or_none(gw: Harness, clock: Clock) -> None:
    track(gw, UPS1)
    track(gw, FEDEX1, "fedex")
    clock.now = NOW + timedelta(minutes=1)
    for number, carrier in [(UPS1, "ups"), (FEDEX1, "fedex")]:  # checked: not due for a while
        assert call(gw, "POST", f"/v1/trackers/{number}/refresh?carrier={carrier}").status == 200
    clock.now = NOW + timedelta(minutes=2)
    wanted = [
        {"tracking_number": UPS1.lower(), "carrier": "ups"},
        {"tracking_number": FEDEX1, "carrier": "fedex"},
        {"tracking_number": UPS1, "carrier": "ups"},  # the same again: once
    ]
    missing = {"trackers": [*wanted, {"tracking_number": UPS2, "carrier": "ups"}]}
    assert code(call(gw, "POST", "/v1/trackers/refresh", missing)) == (404, "tracker_not_found")
    assert call(gw, "GET", "/v1/trackers/usage").body["carriers"][0]["due"] == 0  # none queued
    reply = call(gw, "POST", "/v1/trackers/refresh", {"trackers": wanted})
    assert reply.status == 202, reply.body
    queued = RefreshesQueued.model_validate(reply.body)
    assert queued.queued == 2 and {t.next_check_at for t in queued.trackers} == {clock.now}
    assert gw.services.trackers.poller.run_once() == 2  # the next pass takes them


BAD_BATCHES: list[tuple[Any, str]] = [
    ({"trackers": []}, "invalid_trackers"),
    ({"trackers": [{"tracking_number": UPS1, "carrier": "ups"}] * 101}, "invalid_trackers"),
    ({"trackers": {"tracking_number": UPS1}}, "invalid_trackers"),
    ({"trackers": [{"tracking_number": UPS1}]}, "invalid_trackers"),
    ({"trackers": [{"tracking_number": UPS1, "carrier": "UPS"}]}, "invalid_trackers"),
    ({"trackers": [{"tracking_number": "1Z#1", "carrier": "ups"}]}, "invalid_tracking_number"),
    ({"trackers": [{"tracking_number": UPS1, "carrier": "ups", "x": 1}]}, "unknown_field"),
    ({}, "invalid_trackers"),
    ({"tracking_number": UPS1, "carrier": "ups"}, "unknown_field"),
    (b"[]", "malformed_body"),
]


def test_bad_batches_are_refused_with_a_code(gw: Harness) -> None:
    track(gw)
    for body, expected in BAD_BATCHES:
        assert code(call(gw, "POST", "/v1/trackers/refresh", body)) == (400, expected), body
    nested = call(gw, "POST", "/v1/trackers/refresh", BAD_BATCHES[6][0])
    assert "'trackers.0.x'" in nested.body["error"]["message"]


def test_usage_per_polled_carrier(gw: Harness, clock: Clock, api: CarrierApi) -> None:
    empty = PollUsage.model_validate(call(gw, "GET", "/v1/trackers/usage").body)
    assert empty.day == "2025-06-02"
    assert [(c.carrier, c.requests_today, c.daily_budget, c.due) for c in empty.carriers] == [
        ("fedex", 0, 100, 0),
        ("ups", 0, BUDGET, 0),
    ]
    track(gw, UPS1)
    track(gw, UPS2)
    track(gw, FEDEX1, "fedex")
    assert call(gw, "POST", f"/v1/trackers/{UPS1}/refresh?carrier=ups").status == 200
    clock.now = NOW + timedelta(minutes=10)
    usage = call(gw, "GET", "/v1/trackers/usage").body
    assert usage["carriers"] == [
        {
            "carrier": "fedex",
            "requests_today": 0,
            "daily_budget": 100,
            "due": 1,
            "overdue": 1,
            "failing": 0,
        },
        {
            "carrier": "ups",
            "requests_today": api.count("ups"),
            "daily_budget": BUDGET,
            "due": 1,
            "overdue": 1,
            "failing": 0,
        },
    ]
    assert call(gw, "GET", "/v1/trackers/usage", tenant="globex").body == {
        "day": "2025-06-02",
        "carriers": [],
    }


# -- routes ---------------------------------------------------------------------------------


def test_the_fixed_paths_are_never_a_tracking_number() -> None:
    for path, methods in [("/v1/trackers/usage", ("GET",)), ("/v1/trackers/refresh", ("POST",))]:
        fixed = match_route(path)  # the edge answers 405 to any other method
        assert fixed is not None and (fixed.resource, fixed.methods) == (path, methods)
    for path in ("/v1/trackers/USAGE", "/v1/trackers/REFRESH", "/v1/trackers/usage1"):
        found = match_route(path)
        assert found is not None and found.resource == "/v1/trackers/{tracking_number}"
        assert found.methods == ("GET", "DELETE")
    found = match_route("/v1/trackers/refresh/refresh")
    assert found is not None and found.path_parameters == {"tracking_number": "refresh"}
    assert match_route("/v1/trackers/") is None and match_route("/v1/trackers/usage/") is None


def test_numbers_named_like_the_fixed_paths_are_reached_upper_case(
    gw: Harness, api: CarrierApi
) -> None:
    api.add("ups", "USAGE", [SimEvent("in_transit", NOW - timedelta(hours=1))])
    api.add("ups", "REFRESH", [SimEvent("in_transit", NOW - timedelta(hours=1))])
    track(gw, "usage")
    track(gw, "refresh")
    assert "carriers" in call(gw, "GET", "/v1/trackers/usage").body
    assert call(gw, "GET", "/v1/trackers/USAGE?carrier=ups").body["tracking_number"] == "USAGE"
    assert call(gw, "POST", "/v1/trackers/REFRESH/refresh?carrier=ups").status == 200
    assert call(gw, "POST", "/v1/trackers/refresh/refresh?carrier=ups").status == 200
    assert call(gw, "GET", "/v1/trackers/REFRESH?carrier=ups").body["checks"] == 2
    assert call(gw, "DELETE", "/v1/trackers/USAGE?carrier=ups").body["state"] == "retired"


def test_the_document_describes_the_routes_and_the_shipments_freshness() -> None:
    doc = document()
    assert {t["name"] for t in doc["tags"]} >= {"trackers"}
    refresh = doc["paths"]["/v1/trackers/{tracking_number}/refresh"]["post"]
    assert set(refresh["responses"]) == {"200", "202", "400", "401", "404", "409", "429", "503"}
    assert "Retry-After" in refresh["responses"]["429"]["headers"]
    assert "poll_budget_spent" in refresh["responses"]["429"]["description"]
    create = doc["paths"]["/v1/trackers"]["post"]
    assert {"200", "201", "400"} <= set(create["responses"])
    assert "polling_not_configured" in create["responses"]["400"]["description"]
    assert [p["name"] for p in doc["paths"]["/v1/trackers"]["get"]["parameters"]] == [
        "state",
        "carrier",
        "limit",
        "cursor",
    ]
    freshness = doc["components"]["schemas"]["Freshness"]
    assert freshness["properties"]["source"]["enum"] == ["push", "poll", "submit"]
    assert "freshness" in doc["components"]["schemas"]["CarrierShipment"]["required"]
    assert "freshness" in CarrierShipment.model_fields


# -- never a 5xx ----------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=16), inner, max_size=3)
    ),
    max_leaves=12,
)
bodies = st.one_of(
    st.binary(max_size=200),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({"tracking_number": json_values, "carrier": json_values}).map(
        lambda v: json.dumps(v).encode()
    ),
    st.lists(
        st.fixed_dictionaries({"tracking_number": json_values, "carrier": json_values}), max_size=3
    ).map(lambda v: json.dumps({"trackers": v}).encode()),
)
words = st.text(
    alphabet=st.characters(min_codepoint=32, max_codepoint=0x2FF), min_size=1, max_size=20
)
SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@SETTINGS
@given(body=bodies, number=words, carrier=words, state=words, limit=words)
def test_bad_input_gets_a_code_never_a_5xx(
    gw: Harness, body: bytes, number: str, carrier: str, state: str, limit: str
) -> None:
    from urllib.parse import quote, urlencode

    path = quote(number, safe="")
    query = urlencode({"carrier": carrier})
    for method, url, raw in [
        ("POST", "/v1/trackers", body),
        ("POST", "/v1/trackers/refresh", body),
        (
            "GET",
            "/v1/trackers?" + urlencode({"state": state, "limit": limit, "carrier": carrier}),
            b"",
        ),
        ("GET", f"/v1/trackers/{path}?{query}", b""),
        ("DELETE", f"/v1/trackers/{path}?{query}", b""),
        ("POST", f"/v1/trackers/{path}/refresh?{query}", b""),
    ]:
        reply = gw.call(method, url, body=raw, headers=JSON, tenant="acme")
        assert reply.status < 500, (method, url, raw, reply.body)
        if reply.status >= 400:
            assert reply.body["error"]["code"], reply.body
