"""Simulated carriers: real fixture histories, signed as the carrier signs, retried on its schedule.

- :class:`History`: a carrier's fixture history (every discovered webhook carrier whose
  fixtures hold one: :func:`tests.support.carriers.history_of` finds the lists in a body
  whose items each become one event, e.g. EasyPost ``tracking_details``, AfterShip
  ``checkpoints``, 17TRACK provider ``events``) in event-time order, under a fresh
  tracking number; ``body(indices, delivery_id)`` renders any selection of it as that
  carrier's body.
- :func:`post`: sign a body with the tenant's partner secret and post it to a harness.
- :func:`simulate`: each :class:`Outbound` delivery is sent, and on any non-2xx or
  no answer retried after the carrier's documented delays (``SCHEDULES``: the ``retry``
  its history fixture's ``.meta.json`` declares, from ``/work/shared/carriers/CARRIERS.md``),
  on a simulated clock: nothing sleeps.
"""

from __future__ import annotations

import copy
import heapq
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from gateway.carriers.adapter import Delivery
from gateway.ingest.normalise import to_canonical
from gateway.models import CanonicalEvent, Status
from gateway.signing.spec import split_signed
from gateway.testkit.fixtures import carrier_headers
from gateway.testkit.harness import Harness, Reply
from tests.support.carriers import (
    TENANT,
    UNREADABLE_TIME,
    HistoryShape,
    RetrySchedule,
    adapters,
    encode,
    history_carriers,
    history_of,
    secret_for,
    webhook_adapters,
    with_leaf,
)

ADAPTERS = adapters()
PARTNER_SECRETS: dict[str, str] = {
    a.id: secret_for(a.scheme.secret_form, f"{a.id}-reliability") for a in webhook_adapters()
}
"""The partner secret of every webhook carrier for ``TENANT`` (hooli: every carrier)."""


def fresh_number(prefix: str = "RL") -> str:
    """A tracking number no other test uses."""
    return f"{prefix}{uuid.uuid4().hex[:14]}".upper()


# The stages in the order a tie at the same instant is broken (the later stage wins), as
# DESIGN.md's invariant 4 means it: written out here, not read from the code under test.
STAGES = (
    "unknown", "pending", "info_received", "in_transit", "expired", "attempt_fail",
    "available_for_pickup", "out_for_delivery", "exception", "cancelled", "delivered",
    "returned",
)  # fmt: skip


def ordering(event: CanonicalEvent) -> tuple[bool, datetime, int]:
    """DESIGN.md invariant 4: an event with a known status outranks one without (``unknown``
    or ETA-only); then the latest ``occurred_at``, ties broken by status precedence."""
    known = event.status is not Status.UNKNOWN and not event.eta_only
    return known, event.occurred_at, STAGES.index(event.status.value)


# -- fixture histories -------------------------------------------------------------------

Shape = HistoryShape
SHAPES: dict[str, Shape] = {c: shape for c in history_carriers() if (shape := history_of(c))}
"""Every webhook carrier whose fixtures hold a history (see ``tests/support/carriers.py``)."""


@dataclass(frozen=True)
class History:
    """A fixture's history under its own tracking number, items in event-time order.

    Items are ``(list index, item)``: the list of the body each one goes back into."""

    shape: Shape
    number: str
    document: dict[str, Any]
    items: tuple[tuple[int, Any], ...]
    events: tuple[CanonicalEvent, ...]  # ``events[i]`` is what ``items[i]`` becomes

    @classmethod
    def of(cls, carrier: str, number: str | None = None) -> History:
        """The carrier's fixture history, re-addressed to ``number`` (fresh by default)."""
        shape = SHAPES[carrier]
        document = json.loads(shape.fixture.read_bytes())
        raw = History(shape, number or fresh_number(), document, tuple(shape.items(document)), ())
        events = expected_events(carrier, raw.body(range(len(raw.items))))
        assert len(events) == len(raw.items), "one event per history item"
        order = sorted(range(len(events)), key=lambda i: ordering(events[i]))
        items = tuple(raw.items[i] for i in order)
        return History(shape, raw.number, document, items, tuple(events[i] for i in order))

    def body(
        self,
        indices: Sequence[int],
        delivery_id: str = "",
        items: Sequence[tuple[int, Any]] | None = None,
    ) -> bytes:
        """The carrier's body carrying ``items`` (default: the history items at ``indices``)."""
        chosen = [copy.deepcopy(self.items[i]) for i in indices] if items is None else list(items)
        document = self.shape.fill(
            self.document, self.number, chosen, delivery_id or uuid.uuid4().hex
        )
        return encode(document)

    def with_time(self, index: int, value: str) -> tuple[int, Any]:
        """History item ``index`` with its time field (``shape.time``) set to ``value``."""
        n, item = self.items[index]
        return n, with_leaf(item, self.shape.time, value)

    def unreadable_body(self, delivery_id: str = "") -> bytes:
        """The whole history with one item's time unreadable: authentic but unparseable."""
        items = [*self.items[:-1], self.with_time(len(self.items) - 1, UNREADABLE_TIME)]
        return self.body([], delivery_id, items=items)


def sent_headers(carrier: str) -> dict[str, str]:
    """The non-signature headers the carrier sends (its history fixture's ``.headers.json``),
    names lower-cased."""
    shape = SHAPES.get(carrier)
    found = carrier_headers(shape.fixture) if shape else {}
    return {name.lower(): value for name, value in found.items()}


def expected_events(carrier: str, body: bytes, tenant: str = TENANT) -> list[CanonicalEvent]:
    """The canonical events a body holds, as the pipeline reads them (parse + normalise)."""
    at = datetime.now(UTC)  # the fingerprint does not depend on it (the plausible window does)
    headers = {name: (value,) for name, value in sent_headers(carrier).items()}
    delivery = Delivery(tenant=tenant, carrier=carrier, body=body, headers=headers, received_at=at)
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
    credentials, query = split_signed(signed)
    headers = sent_headers(carrier) | {name.lower(): v for name, v in credentials.items()}
    headers.setdefault("content-type", adapter.content_types[0])
    url = f"/webhooks/{tenant}/{carrier}" + (f"?{urlencode(query)}" if query else "")
    return harness.call("POST", url, body=body, headers=headers)


def deliver(harness: Harness, delivery: Outbound, now: datetime) -> Reply:
    """One attempt of an :class:`Outbound` delivery, signed at ``now``."""
    return post(harness, delivery.carrier, delivery.body, now=now, delivery_id=delivery.delivery_id)


# -- retry schedules ---------------------------------------------------------------------


SCHEDULES: dict[str, RetrySchedule] = {
    carrier: shape.retry for carrier, shape in SHAPES.items() if shape.retry is not None
}
"""The carriers that publish a retry schedule (the ``retry`` of their history's
``.meta.json``): EasyPost, AfterShip and Standard Webhooks partners. Not simulated: UPS
documents no retry at all (a 5xx loses the event; back-fill with the Track API), and
FedEx, Shippo, 17TRACK and Ship24 publish no schedule (UNCONFIRMED)."""


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
