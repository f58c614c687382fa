"""The query API end to end through the Lambda handler (moto DynamoDB): the shipment
with its ETag, history and location trail pages, search, and cursors."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.api.app import make_handler
from gateway.api.http import etag_of
from gateway.models import CanonicalEvent, Location, Status, utc_text
from gateway.testkit.events import T0, make_event
from gateway.testkit.harness import Harness, Reply, moto_harness

NUMBER = "EZ1000000001"


class Clock:
    """A settable clock: the received time of what is recorded, and of every read."""

    def __init__(self) -> None:
        self.now = T0 + timedelta(days=30)

    def tick(self, seconds: float = 1) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def gw(clock: Clock) -> Iterator[Harness]:
    with moto_harness(lambda: clock.now) as harness:
        yield harness


def record(gw: Harness, clock: Clock, events: list[CanonicalEvent], key: str = "") -> None:
    clock.tick()
    gw.services.store.record(
        events, delivery_key=key or f"d-{clock.now}", now=clock.now, retention_days=30
    )


def get(gw: Harness, url: str, tenant: str = "acme", **headers: str) -> Reply:
    return gw.call("GET", url, tenant=tenant, headers=headers)


def pages(gw: Harness, url: str, key: str, tenant: str = "acme") -> list[list[Any]]:
    """Every page of a paginated answer, following ``next_cursor`` to the end."""
    found: list[list[Any]] = []
    cursor: str | None = None
    while True:
        sep = "&" if "?" in url else "?"
        reply = get(gw, url + (f"{sep}cursor={cursor}" if cursor else ""), tenant)
        assert reply.status == 200, reply.body
        found.append(reply.body[key])
        cursor = reply.body["next_cursor"]
        if cursor is None:
            return found


def error_code(reply: Reply) -> str:
    assert reply.status == 400, reply.body
    return str(reply.body["error"]["code"])


# -- the shipment: ETag, 304, Cache-Control -------------------------------------------


def test_the_shipment_carries_a_strong_etag_of_its_body_and_a_short_private_cache(
    gw: Harness, clock: Clock
) -> None:
    record(gw, clock, [make_event(0), make_event(1)])
    reply = get(gw, f"/v1/shipments/{NUMBER}")
    assert reply.status == 200
    assert reply.headers["ETag"] == etag_of(json.dumps(reply.body))
    assert not reply.headers["ETag"].startswith("W/")
    assert reply.headers["Cache-Control"] == "private, max-age=5"
    (state,) = reply.body["shipments"]
    assert state["event_count"] == 2 and state["status"] == "in_transit"
    assert state["last_event"]["event_id"] == make_event(1).event_id


def test_if_none_match_answers_304_without_a_body_until_the_shipment_changes(
    gw: Harness, clock: Clock
) -> None:
    record(gw, clock, [make_event(0)], key="d-0")
    tag = get(gw, f"/v1/shipments/{NUMBER}").headers["ETag"]
    for asked in (tag, f"W/{tag}", f'"other", {tag}', "*"):
        reply = get(gw, f"/v1/shipments/{NUMBER}", **{"If-None-Match": asked})
        assert reply.status == 304 and reply.body is None, asked
        assert reply.headers["ETag"] == tag
        assert reply.headers["Cache-Control"] == "private, max-age=5"
    record(gw, clock, [make_event(0)], key="d-0")  # a retried delivery changes nothing
    assert get(gw, f"/v1/shipments/{NUMBER}", **{"If-None-Match": tag}).status == 304
    record(gw, clock, [make_event(1, status=Status.OUT_FOR_DELIVERY)])
    changed = get(gw, f"/v1/shipments/{NUMBER}", **{"If-None-Match": tag})
    assert changed.status == 200 and changed.headers["ETag"] != tag
    assert changed.body["shipments"][0]["status"] == "out_for_delivery"
    other = get(gw, f"/v1/shipments/{NUMBER}", "globex", **{"If-None-Match": "*"})
    assert other.status == 404  # another tenant learns nothing, not even "not modified"


# -- history -----------------------------------------------------------------------------


def test_history_pages_stay_stable_while_new_events_arrive(gw: Harness, clock: Clock) -> None:
    record(gw, clock, [make_event(i) for i in range(5)])
    first = get(gw, f"/v1/shipments/{NUMBER}/events?limit=2")
    assert [e["event_id"] for e in first.body["events"]] == [make_event(i).event_id for i in (0, 1)]
    between = make_event(7, at=T0 + timedelta(hours=2, minutes=30))
    behind = make_event(8, at=T0 - timedelta(hours=1))  # before the cursor: not on later pages
    record(gw, clock, [make_event(5), between, behind])
    cursor = first.body["next_cursor"]
    rest: list[str] = []
    while cursor:
        reply = get(gw, f"/v1/shipments/{NUMBER}/events?limit=2&cursor={cursor}")
        rest += [e["event_id"] for e in reply.body["events"]]
        cursor = reply.body["next_cursor"]
    expected = [make_event(2), between, make_event(3), make_event(4), make_event(5)]
    assert rest == [e.event_id for e in expected]
    everything = get(gw, f"/v1/shipments/{NUMBER}/events").body
    times = [e["occurred_at"] for e in everything["events"]]
    assert times == sorted(times) and len(times) == 8 and everything["next_cursor"] is None


def test_a_page_that_fills_exactly_is_the_last_one(gw: Harness, clock: Clock) -> None:
    record(gw, clock, [make_event(i) for i in range(4)])
    assert [len(p) for p in pages(gw, f"/v1/shipments/{NUMBER}/events?limit=2", "events")] == [
        2,
        2,
    ]


def test_the_carrier_filter_reads_one_carrier_of_a_shared_number(gw: Harness, clock: Clock) -> None:
    record(gw, clock, [make_event(i) for i in range(3)])
    record(gw, clock, [make_event(i, carrier="aftership", status=Status.DELIVERED) for i in (1, 4)])
    states = get(gw, f"/v1/shipments/{NUMBER}").body["shipments"]
    assert sorted(s["carrier"] for s in states) == ["aftership", "easypost"]
    url = f"/v1/shipments/{NUMBER}/events?carrier=aftership&limit=1"
    found = [e for page in pages(gw, url, "events") for e in page]
    assert [e["carrier"] for e in found] == ["aftership", "aftership"]
    cursor = get(gw, url).body["next_cursor"]
    other = get(gw, f"/v1/shipments/{NUMBER}/events?carrier=easypost&cursor={cursor}")
    assert error_code(other) == "invalid_cursor"
    missing = get(gw, f"/v1/shipments/{NUMBER}/events?carrier=fedex")
    assert missing.status == 404 and missing.body["error"]["code"] == "shipment_not_found"


@pytest.mark.parametrize(
    "url",
    [
        "/v1/shipments?carrier=fedx",
        "/v1/shipments?status=delivered&carrier=fedx",
        f"/v1/shipments/{NUMBER}/events?carrier=upss",
        f"/v1/shipments/{NUMBER}/locations?carrier=upss",
    ],
)
def test_a_carrier_filter_naming_no_carrier_is_400_not_an_empty_answer(
    gw: Harness, clock: Clock, url: str
) -> None:
    record(gw, clock, [make_event(i) for i in range(2)])
    reply = get(gw, url)
    assert reply.status == 400 and reply.body["error"]["code"] == "unknown_carrier"
    assert "(aftership, easypost, standard_webhooks)" in reply.body["error"]["message"]
    assert get(gw, url.replace("fedx", "fedex").replace("upss", "ups")).status in (200, 404)


# -- the location trail --------------------------------------------------------------------


def test_the_location_trail_skips_events_without_a_location_and_keeps_coordinates(
    gw: Harness, clock: Clock
) -> None:
    nowhere = Location()
    pinned = Location(city="Memphis", region="TN", country="US", lat=35.04, lon=-89.98)
    events = [
        make_event(0),
        make_event(1, location=nowhere),
        make_event(2, location=pinned),
        make_event(3, location=nowhere, status=Status.OUT_FOR_DELIVERY),
        make_event(4, location=Location(postal_code="10001"), status=Status.DELIVERED),
    ]
    record(gw, clock, events)
    url = f"/v1/shipments/{NUMBER}/locations?limit=1"
    trail = [point for page in pages(gw, url, "locations") for point in page]
    assert [p["occurred_at"] for p in trail] == [utc_text(events[i].occurred_at) for i in (0, 2, 4)]
    assert trail[0] == {
        "occurred_at": utc_text(events[0].occurred_at),
        "carrier": "easypost",
        "status": "in_transit",
        "city": "Houston",
        "region": "TX",
        "postal_code": "77063",
        "country": "US",
        "lat": None,
        "lon": None,
    }
    assert (trail[1]["city"], trail[1]["lat"], trail[1]["lon"]) == ("Memphis", 35.04, -89.98)
    assert trail[2]["postal_code"] == "10001" and trail[2]["status"] == "delivered"


def test_the_trail_of_a_shipment_without_locations_is_empty_and_an_unknown_one_404(
    gw: Harness, clock: Clock
) -> None:
    record(gw, clock, [make_event(0, location=Location())])
    reply = get(gw, f"/v1/shipments/{NUMBER}/locations")
    assert reply.status == 200 and reply.body == {
        "tracking_number": NUMBER,
        "locations": [],
        "next_cursor": None,
    }
    assert get(gw, "/v1/shipments/NOPE1/locations").status == 404


def test_a_history_cursor_is_not_a_trail_cursor(gw: Harness, clock: Clock) -> None:
    record(gw, clock, [make_event(i) for i in range(3)])
    cursor = get(gw, f"/v1/shipments/{NUMBER}/events?limit=1").body["next_cursor"]
    reply = get(gw, f"/v1/shipments/{NUMBER}/locations?limit=1&cursor={cursor}")
    assert error_code(reply) == "invalid_cursor"
    other_number = get(gw, f"/v1/shipments/EZ2/events?limit=1&cursor={cursor}")
    assert error_code(other_number) == "invalid_cursor"


# -- search ------------------------------------------------------------------------------


def ship(number: str, status: Status = Status.IN_TRANSIT, index: int = 0, **kw: Any) -> Any:
    return make_event(index, tracking_number=number, status=status, **kw)


def numbers(reply: Reply) -> list[str]:
    assert reply.status == 200, reply.body
    return [s["tracking_number"] for s in reply.body["shipments"]]


def test_search_by_status_is_newest_status_change_first(gw: Harness, clock: Clock) -> None:
    for n in range(4):
        record(gw, clock, [ship(f"S{n}")])
    record(gw, clock, [ship("D0", Status.DELIVERED)])
    assert numbers(get(gw, "/v1/shipments?status=in_transit")) == ["S3", "S2", "S1", "S0"]
    assert numbers(get(gw, "/v1/shipments?status=delivered")) == ["D0"]
    assert numbers(get(gw, "/v1/shipments")) == ["D0", "S3", "S2", "S1", "S0"]
    (hit,) = get(gw, "/v1/shipments?status=delivered").body["shipments"]
    assert hit == {
        "tracking_number": "D0",
        "carrier": "easypost",
        "status": "delivered",
        "detail": None,
        "last_event_at": utc_text(ship("D0").occurred_at),
        "status_changed_at": utc_text(clock.now),
    }


def test_only_a_status_change_moves_a_shipment_in_the_search(gw: Harness, clock: Clock) -> None:
    record(gw, clock, [ship("A")])
    entered = clock.now
    record(gw, clock, [ship("B")])
    record(gw, clock, [ship("A", index=1)])  # same status: A keeps its place and its time
    hits = get(gw, "/v1/shipments?status=in_transit").body["shipments"]
    assert [(h["tracking_number"], h["status_changed_at"]) for h in hits] == [
        ("B", utc_text(entered + timedelta(seconds=1))),
        ("A", utc_text(entered)),
    ]
    assert hits[1]["last_event_at"] == utc_text(ship("A", index=1).occurred_at)
    record(gw, clock, [ship("A", Status.OUT_FOR_DELIVERY, index=2)])
    assert numbers(get(gw, "/v1/shipments?status=in_transit")) == ["B"]
    assert numbers(get(gw, "/v1/shipments?status=out_for_delivery")) == ["A"]
    assert numbers(get(gw, "/v1/shipments")) == ["A", "B"]
    record(gw, clock, [ship("B", Status.IN_TRANSIT, index=-3)])  # late and older: no move
    assert numbers(get(gw, "/v1/shipments")) == ["A", "B"]


def test_search_filters_by_carrier_and_updated_since(gw: Harness, clock: Clock) -> None:
    record(gw, clock, [ship("OLD")])
    since = clock.tick(60)
    record(gw, clock, [ship("NEW1")])
    record(gw, clock, [ship("NEW2", carrier="aftership")])
    url = f"/v1/shipments?status=in_transit&updated_since={since.isoformat()}"
    assert numbers(get(gw, url.replace("+00:00", "Z"))) == ["NEW2", "NEW1"]
    assert numbers(get(gw, url.replace("+00:00", "%2B02:00"))) == ["NEW2", "NEW1", "OLD"]
    assert numbers(get(gw, url.replace("+00:00", "Z") + "&carrier=easypost")) == ["NEW1"]
    assert numbers(get(gw, "/v1/shipments?carrier=aftership")) == ["NEW2"]
    assert numbers(get(gw, "/v1/shipments?carrier=fedex")) == []


def test_search_pages_are_stable_while_statuses_change(gw: Harness, clock: Clock) -> None:
    for n in range(7):
        record(gw, clock, [ship(f"P{n}")])
    first = get(gw, "/v1/shipments?status=in_transit&limit=3")
    assert numbers(first) == ["P6", "P5", "P4"]
    record(gw, clock, [ship("P9")])  # newer than the cursor: not mixed into later pages
    record(gw, clock, [ship("P5", Status.DELIVERED, index=1)])  # already seen: not repeated
    record(gw, clock, [ship("P1", Status.DELIVERED, index=1)])  # moved away before its page
    cursor = first.body["next_cursor"]
    seen: list[str] = []
    while cursor:
        reply = get(gw, f"/v1/shipments?status=in_transit&limit=3&cursor={cursor}")
        seen += numbers(reply)
        cursor = reply.body["next_cursor"]
    assert seen == ["P3", "P2", "P0"]
    assert numbers(get(gw, "/v1/shipments?status=in_transit&limit=500")) == [
        "P9",
        "P6",
        "P4",
        "P3",
        "P2",
        "P0",
    ]


def test_search_never_shows_another_tenants_shipments(gw: Harness, clock: Clock) -> None:
    record(gw, clock, [ship("MINE")])
    record(gw, clock, [ship("SHARED")])
    record(gw, clock, [ship("THEIRS", tenant="globex")])
    record(gw, clock, [ship("SHARED", Status.DELIVERED, 5, tenant="globex")])
    mine = get(gw, "/v1/shipments").body["shipments"]
    assert [(s["tracking_number"], s["status"]) for s in mine] == [
        ("SHARED", "in_transit"),
        ("MINE", "in_transit"),
    ]
    assert numbers(get(gw, "/v1/shipments", "globex")) == ["SHARED", "THEIRS"]
    assert numbers(get(gw, "/v1/shipments?status=delivered")) == []
    assert numbers(get(gw, "/v1/shipments", "initech")) == []


def test_expired_shipments_leave_the_search(gw: Harness, clock: Clock) -> None:
    record(gw, clock, [ship("GONE")])
    clock.tick(31 * 86_400)
    assert numbers(get(gw, "/v1/shipments")) == []


# -- cursors and parameters ---------------------------------------------------------------


def test_cursors_are_tamper_evident_and_bound_to_the_tenant_and_the_query(
    gw: Harness, clock: Clock
) -> None:
    for n in range(3):
        record(gw, clock, [ship(f"C{n}"), ship(f"C{n}", index=1)])
        record(gw, clock, [ship(f"C{n}", tenant="globex"), ship(f"C{n}", index=1, tenant="globex")])
    cursor = get(gw, "/v1/shipments?status=in_transit&limit=1").body["next_cursor"]
    body, mac = cursor.split(".")
    forged = json.dumps({"k": "search", "s": "in_transit", "c": None, "u": None, "a": "9"})
    forged_body = base64.urlsafe_b64encode(forged.encode()).decode().rstrip("=")
    flipped = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]
    for bad in (f"{forged_body}.{mac}", f"{flipped}.{mac}", f"{body}.{mac[:-1]}", body, "."):
        reply = get(gw, f"/v1/shipments?status=in_transit&cursor={bad}")
        assert error_code(reply) == "invalid_cursor", bad
    for junk in ("not-a-cursor", "x" * 2000, "%FF.%FF", "a.b.c"):
        assert error_code(get(gw, f"/v1/shipments?cursor={junk}")) == "invalid_cursor", junk
    stolen = get(gw, f"/v1/shipments?status=in_transit&limit=1&cursor={cursor}", "globex")
    assert error_code(stolen) == "invalid_cursor"
    for other in (
        "status=delivered",
        "status=in_transit&carrier=ups",
        "updated_since=2025-01-01T00:00:00Z",
    ):
        assert error_code(get(gw, f"/v1/shipments?{other}&cursor={cursor}")) == "invalid_cursor"
    theirs = get(gw, "/v1/shipments/C0/events?limit=1", "globex").body["next_cursor"]
    assert error_code(get(gw, f"/v1/shipments/C0/events?limit=1&cursor={theirs}")) == (
        "invalid_cursor"
    )
    assert numbers(get(gw, f"/v1/shipments?status=in_transit&limit=1&cursor={cursor}")) == ["C1"]


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("status=lost", "invalid_status"),
        ("updated_since=yesterday", "invalid_updated_since"),
        ("updated_since=2025-06-01T12:00:00", "invalid_updated_since"),
        ("updated_since=0001-01-01T00:00:00%2B05:00", "invalid_updated_since"),
        ("limit=0", "invalid_limit"),
        ("limit=501", "invalid_limit"),
        ("limit=%D9%A3", "invalid_limit"),
    ],
)
def test_bad_search_parameters_are_400(gw: Harness, query: str, code: str) -> None:
    assert error_code(get(gw, f"/v1/shipments?{query}")) == code


def test_a_cursor_signed_with_another_server_key_is_refused(gw: Harness, clock: Clock) -> None:
    record(gw, clock, [ship("K0"), ship("K1")])
    cursor = get(gw, "/v1/shipments?limit=1").body["next_cursor"]
    rekeyed = Harness(
        make_handler(replace(gw.services, cursor_key=b"k" * 32)), gw.services, gw.secrets, {}
    )
    assert error_code(get(rekeyed, f"/v1/shipments?limit=1&cursor={cursor}")) == "invalid_cursor"


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    path=st.sampled_from(["/v1/shipments", f"/v1/shipments/{NUMBER}/locations"]),
    query=st.dictionaries(
        st.sampled_from(["status", "carrier", "updated_since", "limit", "cursor"]),
        st.text(st.characters(exclude_categories=("Cs",)), max_size=40),
        max_size=5,
    ),
)
def test_query_parameters_never_cause_a_5xx(gw: Harness, path: str, query: dict[str, str]) -> None:
    reply = get(gw, f"{path}?{urlencode(query)}")
    assert reply.status in (200, 400, 404), (reply.status, reply.body)
