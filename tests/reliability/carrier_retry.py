"""Simulated carriers: real fixture histories, signed as the carrier signs, retried on its schedule.

- :class:`History`: a fixture's full history (EasyPost ``tracking_details``, AfterShip
  ``checkpoints``, Standard Webhooks ``events``, Shippo ``tracking_history``, 17TRACK
  provider ``events``, Ship24 ``events``) in event-time order, under a fresh tracking
  number; ``body(indices, delivery_id)`` renders any selection of it as that carrier's body.
- :func:`post`: sign a body with the tenant's partner secret and post it to a harness.
- :func:`simulate`: each :class:`Outbound` delivery is sent, and on any non-2xx or
  no answer retried after the carrier's documented delays (``SCHEDULES``, from
  ``/work/shared/carriers/CARRIERS.md``), on a simulated clock: nothing sleeps.
"""

from __future__ import annotations

import base64
import copy
import heapq
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from gateway.carriers.adapter import Delivery
from gateway.carriers.discovery import load_adapters
from gateway.ingest.normalise import to_canonical
from gateway.models import STATUS_PRECEDENCE, CanonicalEvent, Status
from gateway.signing.spec import split_signed
from tests.support.fixtures import FIXTURES
from tests.support.gateway import Harness, Reply

ADAPTERS = load_adapters().adapters
TENANT = "hooli"  # the test tenant with every webhook carrier enabled
PARTNER_SECRETS: dict[str, str] = {
    "easypost": "ep-s\u00e9cret-reliability",  # NFKD applies, as in EasyPost's vector
    "aftership": "aftership-reliability-secret",
    "standard_webhooks": "whsec_" + base64.b64encode(b"reliability-partner-secret-32b!!").decode(),
    "shippo": "shippo-reliability-url-token",
    "seventeentrack": "seventeentrack-reliability-key",
    "ship24": "ship24-reliability-bearer",
    "fedex": "fedex-reliability-security-token",
}


def fresh_number(prefix: str = "RL") -> str:
    """A tracking number no other test uses."""
    return f"{prefix}{uuid.uuid4().hex[:14]}".upper()


def ordering(event: CanonicalEvent) -> tuple[bool, datetime, int]:
    """DESIGN.md invariant 4: an event with a known status outranks one without (``unknown``
    or ETA-only); then the latest ``occurred_at``, ties broken by status precedence."""
    known = event.status is not Status.UNKNOWN and not event.eta_only
    return known, event.occurred_at, STATUS_PRECEDENCE[event.status]


# -- fixture histories -------------------------------------------------------------------

Fill = Callable[[dict[str, Any], str, list[Any], str], None]


@dataclass(frozen=True)
class Shape:
    """Where a carrier's body keeps its history, tracking number and delivery id."""

    carrier: str
    fixture: str
    items: Callable[[dict[str, Any]], list[Any]]
    fill: Fill  # (document, tracking number, items, delivery id): set them in place
    time_key: str  # the field of an item that holds its time
    full_history: bool  # each delivery resends the whole history so far (CARRIERS.md gotcha 8)


def _easypost(doc: dict[str, Any], number: str, items: list[Any], delivery_id: str) -> None:
    doc["id"] = "evt_" + delivery_id
    doc["result"].update(tracking_code=number, tracking_details=items)


def _aftership(doc: dict[str, Any], number: str, items: list[Any], delivery_id: str) -> None:
    doc["event_id"] = delivery_id
    doc["msg"].update(tracking_number=number, title=number, checkpoints=items)


def _standard(doc: dict[str, Any], number: str, items: list[Any], delivery_id: str) -> None:
    doc["data"].update(tracking_number=number, events=items)  # the id is the webhook-id header


def _shippo(doc: dict[str, Any], number: str, items: list[Any], delivery_id: str) -> None:
    doc["data"].update(tracking_number=number, tracking_history=items)  # no delivery id


def _17track_items(doc: dict[str, Any]) -> list[Any]:
    providers = doc["data"]["track_info"]["tracking"]["providers"]
    return [(i, event) for i, provider in enumerate(providers) for event in provider["events"]]


def _17track(doc: dict[str, Any], number: str, items: list[Any], delivery_id: str) -> None:
    doc["data"]["number"] = number
    for i, provider in enumerate(doc["data"]["track_info"]["tracking"]["providers"]):
        provider["events"] = [event for j, event in items if j == i]


def _ship24(doc: dict[str, Any], number: str, items: list[Any], delivery_id: str) -> None:
    tracking = doc["trackings"][0]
    tracking["tracker"]["trackingNumber"] = number
    numbers = {"trackingNumber": number, "eventTrackingNumber": number}
    tracking["events"] = [item | numbers for item in items]


SHAPES: dict[str, Shape] = {
    shape.carrier: shape
    for shape in (
        Shape(
            "easypost",
            "event_tracker_updated_full_history",
            lambda d: d["result"]["tracking_details"],
            _easypost,
            "datetime",
            True,
        ),
        Shape(
            "aftership",
            "tracking_update_returned_synthetic",
            lambda d: d["msg"]["checkpoints"],
            _aftership,
            "checkpoint_time",
            True,
        ),
        Shape(
            "standard_webhooks",
            "tracking_updated_waybill_format",
            lambda d: d["data"]["events"],
            _standard,
            "occurred_at",
            False,
        ),
        Shape(
            "shippo",
            "track_updated_usps_delivered_2016_envelope_a",
            lambda d: d["data"]["tracking_history"],
            _shippo,
            "status_date",
            True,
        ),
        Shape(
            "seventeentrack",
            "tracking_updated_two_providers_built",
            _17track_items,
            _17track,
            "time_utc",
            True,
        ),
        Shape(
            "ship24",
            "trackings_single_built",
            lambda d: d["trackings"][0]["events"],
            _ship24,
            "occurrenceDatetime",
            False,
        ),
    )
}


@dataclass(frozen=True)
class History:
    """A fixture's history under its own tracking number, items in event-time order."""

    shape: Shape
    number: str
    document: dict[str, Any]
    items: tuple[Any, ...]
    events: tuple[CanonicalEvent, ...]  # ``events[i]`` is what ``items[i]`` becomes

    @classmethod
    def of(cls, carrier: str, number: str | None = None) -> History:
        """The carrier's fixture history, re-addressed to ``number`` (fresh by default)."""
        shape = SHAPES[carrier]
        document = json.loads((FIXTURES / carrier / f"{shape.fixture}.json").read_bytes())
        raw = History(shape, number or fresh_number(), document, tuple(shape.items(document)), ())
        events = expected_events(carrier, raw.body(range(len(raw.items))))
        assert len(events) == len(raw.items), "one event per history item"
        order = sorted(range(len(events)), key=lambda i: ordering(events[i]))
        items = tuple(raw.items[i] for i in order)
        return History(shape, raw.number, document, items, tuple(events[i] for i in order))

    def body(
        self, indices: Sequence[int], delivery_id: str = "", items: Sequence[Any] | None = None
    ) -> bytes:
        """The carrier's body carrying ``items`` (default: the history items at ``indices``)."""
        chosen = [copy.deepcopy(self.items[i]) for i in indices] if items is None else list(items)
        document = copy.deepcopy(self.document)
        self.shape.fill(document, self.number, chosen, delivery_id or uuid.uuid4().hex)
        return json.dumps(document, separators=(",", ":")).encode()

    def unreadable_body(self, delivery_id: str = "") -> bytes:
        """The whole history with one item's time unreadable: authentic but unparseable."""
        items = [copy.deepcopy(item) for item in self.items]
        last = items[-1][1] if isinstance(items[-1], tuple) else items[-1]  # 17TRACK pairs
        last[self.shape.time_key] = "not a time"
        return self.body([], delivery_id, items=items)


def expected_events(carrier: str, body: bytes, tenant: str = TENANT) -> list[CanonicalEvent]:
    """The canonical events a body holds, as the pipeline reads them (parse + normalise)."""
    at = datetime.now(UTC)  # the fingerprint does not depend on it (the plausible window does)
    delivery = Delivery(tenant=tenant, carrier=carrier, body=body, headers={}, received_at=at)
    parsed = ADAPTERS[carrier].parse(delivery)
    assert not parsed.failures and parsed.ignored is None, parsed
    return [
        to_canonical(e, tenant=tenant, carrier=carrier, received_at=at, delivery_id=None)
        for e in parsed.events
    ]


# -- signing and posting -----------------------------------------------------------------


def post(
    harness: Harness,
    carrier: str,
    body: bytes,
    *,
    now: datetime,
    delivery_id: str | None = None,
    tenant: str = TENANT,
    secret: str | None = None,
) -> Reply:
    """Sign ``body`` as the carrier does (partner secret by default) and post it."""
    adapter = ADAPTERS[carrier]
    signed = adapter.sign(
        body, secret or PARTNER_SECRETS[carrier], now.timestamp(), delivery_id=delivery_id
    )
    headers, query = split_signed(signed)
    headers.setdefault("content-type", adapter.content_types[0])
    url = f"/webhooks/{tenant}/{carrier}" + (f"?{urlencode(query)}" if query else "")
    return harness.call("POST", url, body=body, headers=headers)


def deliver(harness: Harness, delivery: Outbound, now: datetime) -> Reply:
    """One attempt of an :class:`Outbound` delivery, signed at ``now``."""
    return post(harness, delivery.carrier, delivery.body, now=now, delivery_id=delivery.delivery_id)


# -- retry schedules ---------------------------------------------------------------------


@dataclass(frozen=True)
class RetrySchedule:
    """Delays before each retry (after the first attempt), and where they come from."""

    delays: tuple[timedelta, ...]
    source: str


def _doubling_within(first: timedelta, budget: timedelta) -> tuple[timedelta, ...]:
    delays, total = [], timedelta(0)
    for n in range(64):  # bounded; stops at the budget long before
        step = first * 2**n
        if total + step > budget:
            break
        delays.append(step)
        total += step
    return tuple(delays)


SCHEDULES: dict[str, RetrySchedule] = {
    # CARRIERS.md §7: "up to 14 attempts, delay 2^retry x 30 s (30 s … 122,880 s, ~68 h)".
    "aftership": RetrySchedule(
        tuple(timedelta(seconds=30 * 2**n) for n in range(13)), "CARRIERS.md §7 (DOC-EXCERPT)"
    ),
    # CARRIERS.md §9: "immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h".
    "standard_webhooks": RetrySchedule(
        tuple(
            timedelta(seconds=s) for s in (5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)
        ),
        "CARRIERS.md §9 (CONFIRMED example schedule)",
    ),
    # CARRIERS.md §5: "progressive back-off for about 24 h"; steps not published: modelled
    # as doubling from 1 min while the total stays within 24 h (10 retries, ~17 h).
    "easypost": RetrySchedule(
        _doubling_within(timedelta(minutes=1), timedelta(hours=24)),
        "CARRIERS.md §5 (DOC-EXCERPT; steps modelled)",
    ),
}
# Not simulated: UPS documents no retry at all (a 5xx loses the event; back-fill with the
# Track API), and FedEx, Shippo, 17TRACK and Ship24 publish no schedule (UNCONFIRMED).


# -- the simulation ----------------------------------------------------------------------


@dataclass
class SimClock:
    """Simulated time: the handler and the carriers read it; only ``simulate`` moves it."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Outbound:
    """One delivery a carrier sends until a 2xx or the end of its schedule."""

    carrier: str
    body: bytes
    first_at: datetime
    delivery_id: str | None = None
    attempts: list[tuple[datetime, int]] = field(default_factory=list)  # (when, status)

    @property
    def acknowledged(self) -> bool:
        """True once an attempt got a 2xx."""
        return any(200 <= status < 300 for _, status in self.attempts)


Send = Callable[[Outbound, datetime], int]
NO_RESPONSE = 0  # the status of an attempt that got no answer (a dropped connection)


def simulate(outbound: Sequence[Outbound], send: Send, clock: SimClock) -> None:
    """Send every delivery at its ``first_at``, retrying per ``SCHEDULES`` in time order.

    ``send`` returns the HTTP status, or ``NO_RESPONSE`` when the connection dropped (it
    catches what the transport raises; anything else it raises, e.g. a failed assertion,
    ends the run). Any status but 2xx is a failed attempt. Deliveries of all carriers
    interleave on one timeline, as a gateway sees them.
    """
    queue = [(o.first_at, n, o) for n, o in enumerate(outbound)]
    heapq.heapify(queue)
    bound = sum(len(SCHEDULES[o.carrier].delays) + 1 for o in outbound)
    for step in range(bound):  # every attempt of every schedule, at the most
        if not queue:
            return
        at, _, delivery = heapq.heappop(queue)
        clock.now = at
        status = send(delivery, at)
        delivery.attempts.append((at, status))
        delays = SCHEDULES[delivery.carrier].delays
        failed = len(delivery.attempts)
        if not 200 <= status < 300 and failed <= len(delays):
            heapq.heappush(queue, (at + delays[failed - 1], len(outbound) + step, delivery))
    assert not queue, "more attempts than the schedules allow"
