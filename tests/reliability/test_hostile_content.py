"""Authentic deliveries with hostile content, for every adapter, on DynamoDB Local.

Each class of defect an adversarial run found (issue 11), over every body fixture of
every discovered webhook adapter (``hostile.py``), signed as the carrier signs:

- invalid text (a lone surrogate, a NUL) in any string: parked (202) or stored and
  readable, never a 5xx;
- an event time no carrier means (years 0025, 0999, 2999, 9999): joins the history in
  time order, or is parked, and never moves the current state;
- a tracking number that cannot be read back (too long in bytes, ``#``, ``/``, ``%``,
  non-ASCII, NUL): parked with a reason, and a tenant can read every shipment stored;
- a native status the adapter does not map, later than a known one: joins the history,
  never replaces the known status;
- a body whose lists are all empty: stored, or answered with an explicit ``ignored``.

``make test`` samples a few strings per fixture; ``make soak`` tries every one.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

import pytest

from gateway.models import normalise_tracking_number
from gateway.signing.spec import split_signed
from gateway.testkit.harness import Harness, Reply
from tests.reliability.carrier_retry import TENANT, fresh_number
from tests.reliability.fuzz_support import secret_for
from tests.reliability.hostile import (
    Sample,
    encode,
    map_strings,
    partner_secrets,
    samples,
    shift_years,
    string_leaves,
    with_leaf,
)
from tests.support.scale import scaled

pytestmark = pytest.mark.integration

SAMPLES = samples()
LEAVES_PER_SAMPLE = scaled(fast=3, soak=10_000)
FAR_FUTURE = datetime(2031, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def gw(local_gateway: Callable[..., Harness]) -> Harness:
    harness = local_gateway()
    harness.secrets.values.update(partner_secrets(TENANT))
    return harness


def deliver(gw: Harness, sample: Sample, document: Any, now: datetime | None = None) -> Reply:
    """Sign the document's bytes as the sample's carrier does and post them."""
    body = encode(document)
    at = now or datetime.now(UTC)
    signed = sample.adapter.sign(body, secret_for(TENANT, sample.adapter.id), at.timestamp())
    headers, query = split_signed(signed)
    headers = sample.headers | headers
    headers.setdefault("content-type", sample.adapter.content_types[0])
    url = f"/webhooks/{TENANT}/{sample.adapter.id}" + (f"?{urlencode(query)}" if query else "")
    reply = gw.call("POST", url, body=body, headers=headers)
    assert reply.status < 500, (sample.id, reply)
    return reply


CURRENT = ("status", "detail", "estimated_delivery", "last_event_at", "last_event")


def states(gw: Harness, number: str) -> dict[str, dict[str, Any]]:
    """The shipment's current state per carrier (what the latest event decides), as the
    query API answers it; the counts and ``last_received_at`` move with every delivery."""
    reply = gw.call("GET", f"/v1/shipments/{quote(number)}", tenant=TENANT)
    assert reply.status == 200, (number, reply)
    return {s["carrier"]: {k: s.get(k) for k in CURRENT} for s in reply.body["shipments"]}


def history_times(gw: Harness, number: str) -> list[datetime]:
    reply = gw.call("GET", f"/v1/shipments/{quote(number)}/events?limit=500", tenant=TENANT)
    assert reply.status == 200, reply
    return [datetime.fromisoformat(e["occurred_at"]) for e in reply.body["events"]]


def chosen_leaves(sample: Sample, document: Any) -> list[tuple[Any, str]]:
    leaves = list(string_leaves(document))
    rng = random.Random(sample.id)  # the same choice on every run
    return rng.sample(leaves, min(LEAVES_PER_SAMPLE, len(leaves)))


def is_parked(reply: Reply) -> bool:
    return reply.status == 202 or (reply.status == 200 and reply.body.get("parked") is True)


# -- invalid text ---------------------------------------------------------------------------


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.id)
def test_a_lone_surrogate_in_any_string_parks_the_delivery(gw: Harness, sample: Sample) -> None:
    document, _ = sample.readdressed()
    for path, _ in chosen_leaves(sample, document):
        reply = deliver(gw, sample, with_leaf(document, path, "\ud800"))
        assert reply.status == 202 and reply.body["parked"] is True, (sample.id, path, reply)


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.id)
def test_a_nul_in_any_string_is_stored_readably_or_parked(gw: Harness, sample: Sample) -> None:
    document, numbers = sample.readdressed()
    for path, text in chosen_leaves(sample, document):
        reply = deliver(gw, sample, with_leaf(document, path, text[:3] + "\x00" + text[3:]))
        assert reply.status in (200, 202), (sample.id, path, reply)
        for number in numbers.values():  # whatever was stored can be read back
            answer = gw.call("GET", f"/v1/shipments/{number}", tenant=TENANT)
            assert answer.status in (200, 404), answer  # 404: that shipment was parked
            if answer.status == 200:
                assert history_times(gw, number)


# -- event times ----------------------------------------------------------------------------


@pytest.mark.parametrize("year", ["0025", "0999", "2999", "9999"])
@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.id)
def test_an_implausible_year_never_moves_the_state(gw: Harness, sample: Sample, year: str) -> None:
    document, numbers = sample.readdressed()
    assert deliver(gw, sample, document).status == 200
    before = {n: states(gw, n) for n in numbers.values()}
    reply = deliver(gw, sample, shift_years(document, year))
    assert reply.status in (200, 202), reply
    for number, state in before.items():
        assert states(gw, number) == state, (sample.id, year)
        times = history_times(gw, number)
        assert times == sorted(times), "history in the order of UTC instants"
        if reply.status == 200 and year in ("0025", "0999"):
            assert times[0].year == int(year), "an ancient event is listed first"


# -- tracking numbers -----------------------------------------------------------------------

ODD_NUMBERS: dict[str, Callable[[str], str]] = {
    "3000 characters": lambda n: n + "9" * 3000,
    "700 three-byte characters": lambda n: n + "\u20ac" * 700,
    "hash": lambda n: n[:4] + "#" + n[4:],
    "slash": lambda n: n[:4] + "/" + n[4:],
    "percent": lambda n: n[:4] + "%2F" + n[4:],
    "unicode": lambda n: "\u00c4" + n,
    "nul": lambda n: n + "\x00",
    "spaces and case": lambda n: f" {n[:4].lower()} {n[4:]} ",
}


@pytest.mark.parametrize("odd", sorted(ODD_NUMBERS))
@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.id)
def test_a_tracking_number_is_readable_or_the_delivery_is_parked(
    gw: Harness, sample: Sample, odd: str
) -> None:
    document, numbers = sample.readdressed()
    number = sorted(numbers.values())[0]
    spelled = ODD_NUMBERS[odd](number)
    for path in sample.number_paths(document, number):
        document = with_leaf(document, path, spelled)
    reply = deliver(gw, sample, document)
    try:
        readable = normalise_tracking_number(spelled)
    except ValueError:
        assert is_parked(reply), (sample.id, odd, reply)
        answer = gw.call("GET", f"/v1/shipments/{quote(spelled, safe='')}", tenant=TENANT)
        assert answer.status in (400, 404), answer
        return
    assert reply.status == 200, reply
    assert sample.adapter.id in states(gw, readable)


# -- unmapped statuses ----------------------------------------------------------------------


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.id)
def test_a_later_unmapped_status_never_replaces_a_known_one(
    local_gateway: Callable[..., Harness], sample: Sample
) -> None:
    gw = local_gateway(clock=lambda: FAR_FUTURE)  # 2026 events are in the past
    gw.secrets.values.update(partner_secrets(TENANT))
    document, numbers = sample.readdressed()
    assert deliver(gw, sample, document, FAR_FUTURE).status == 200
    before = {n: states(gw, n) for n in numbers.values()}
    later = sample.unmap_statuses(shift_years(document, "2026"))
    reply = deliver(gw, sample, later, FAR_FUTURE)
    assert reply.status in (200, 202), reply
    for number, state in before.items():
        for carrier, current in states(gw, number).items():
            if state[carrier]["status"] != "unknown":
                assert current["status"] == state[carrier]["status"], (sample.id, current)
                assert current["last_event_at"] == state[carrier]["last_event_at"]


# -- nothing stored, nothing said -----------------------------------------------------------


def _emptied(document: Any) -> Any:
    if isinstance(document, dict):
        return {k: _emptied(v) for k, v in document.items()}
    if isinstance(document, list):
        return []
    return document


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.id)
def test_a_delivery_that_stores_nothing_says_why(gw: Harness, sample: Sample) -> None:
    document, _ = sample.readdressed()
    reply = deliver(gw, sample, _emptied(document))
    assert reply.status in (200, 202), reply
    if reply.status == 200 and not reply.body.get("parked"):
        stored = reply.body["accepted"] + reply.body["duplicates"]
        assert stored > 0 or reply.body.get("ignored"), (sample.id, reply.body)


def test_the_samples_cover_every_webhook_adapter() -> None:
    from gateway.carriers.discovery import load_adapters

    webhooks = {a.id for a in load_adapters().adapters.values() if a.webhook}
    assert {s.adapter.id for s in SAMPLES} == webhooks
    assert fresh_number() != fresh_number()
    assert map_strings({"a": "x"}, lambda _, t: t + "y") == {"a": "xy"}
