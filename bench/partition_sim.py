"""The hot-partition simulation: one tenant's traffic, second by second, key by key.

See :mod:`bench.hot_partition` for what it models and reports. Each request goes
through gateway's own key functions and classes (``shipment_pk``, ``index_keys``,
``delivery_outcomes`` into :class:`~gateway.audit.windows.DynamoAudit`,
:class:`~gateway.tenancy.limits.UsageLimits`, :class:`~gateway.store.parked.ParkingLot`), which
write to a :class:`~bench.partition_ledger.Recorder` instead of DynamoDB.

Example:
    >>> ledger = Simulation(Workload(rate=20, seconds=2, shipments=50, containers=2)).run()
    >>> ledger.total("write", "table") > 0 and ledger.total("write", INDEX_NAME) > 0
    True
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bench.partition_ledger import Ledger, Recorder, write_units
from gateway.audit.outcomes import delivery_outcomes
from gateway.audit.windows import DynamoAudit
from gateway.models import Status
from gateway.store.capacity import CapacityMeter
from gateway.store.codec import event_item
from gateway.store.index import INDEX_NAME, INDEX_PK, SEARCH_SHARDS, index_keys, index_partition
from gateway.store.keys import shipment_pk
from gateway.store.parked import ParkedDelivery, ParkingLot
from gateway.tenancy.limits import UsageLimits
from gateway.tenancy.plans import Plan
from gateway.tenancy.tenants import CarrierOptions, TenantConfig
from gateway.testkit.events import make_event

START = datetime(2026, 11, 22, 11, 59, 50, tzinfo=UTC)  # the audit's minute ends inside
CARRIERS = ("ups", "fedex", "easypost")
STATE_WRU = 1.0  # the state update: under 1 KB up to ~45 events (docs/queries.md)
INDEX_WRU = 1.0  # one KEYS_ONLY entry put or deleted, whatever its size
NEXT = {
    Status.INFO_RECEIVED: Status.IN_TRANSIT,
    Status.IN_TRANSIT: Status.OUT_FOR_DELIVERY,
    Status.OUT_FOR_DELIVERY: Status.DELIVERED,
    Status.EXCEPTION: Status.IN_TRANSIT,
    Status.PENDING: Status.INFO_RECEIVED,  # a new shipment's first status
}
START_MIX = {Status.INFO_RECEIVED: 15, Status.IN_TRANSIT: 55, Status.OUT_FOR_DELIVERY: 8}
START_MIX |= {Status.DELIVERED: 20, Status.EXCEPTION: 2}
KINDS = ("new", "change", "retry", "duplicate", "parked")
PLAN = Plan(rate=10_000, burst=10_000, quota=10**12, quota_period="day", hard_cap=10**12)


@dataclass(frozen=True)
class Workload:
    """What one tenant sends, and how many Lambda containers serve it."""

    rate: int = 5000  # single-shipment deliveries a second (HTTP requests)
    seconds: int = 20  # two bulk pushes, a minute boundary, 10 hard-cap flush cycles
    shipments: int = 100_000
    containers: int = 200  # ~ rate x 40 ms per invocation
    mix: tuple[float, ...] = (0.45, 0.25, 0.10, 0.19, 0.01)  # weights of KINDS
    burst_every: int = 10  # seconds between bulk pushes (the first at second 0)
    burst_shipments: int = 1000
    burst_batch: int = 40  # shipments per bulk POST
    burst_new: float = 0.2  # share of re-sent shipments with a new event (half change status)
    burst_status: Status | None = None  # else: every re-sent shipment moves into it
    searches: int = 20  # status searches a second (8 index shards + 20 states each)
    gets: int = 200  # shipment GETs a second (1 strongly consistent read each)
    parked_body: int = 3000  # bytes
    tenant: str = "acme"
    seed: int = 7


class Simulation:
    """Runs a :class:`Workload` second by second into a :class:`Ledger`."""

    def __init__(self, work: Workload) -> None:
        self.work, self.rng = work, random.Random(work.seed)
        self.ledger = Ledger()
        self.db = Recorder(self.ledger)
        self.now = START
        config = TenantConfig(
            id=work.tenant, name="bench", carriers={c: CarrierOptions() for c in CARRIERS}
        )
        self.audits = [self._audit(config, n) for n in range(work.containers)]
        self.caps = [
            UsageLimits(self.db, "t", lambda _: PLAN, clock=lambda: self.now.timestamp())
            for _ in range(work.containers)
        ]
        self.parking = ParkingLot(self.db, "t", CapacityMeter())
        self.ids = list(range(work.shipments))  # the shipment in each slot
        self.status = self.rng.choices(list(START_MIX), list(START_MIX.values()), k=len(self.ids))
        self.next_id, self.requests = work.shipments, 0
        self.event_wru = write_units(event_item(make_event(0, text_bytes=490), 1))

    def _audit(self, config: TenantConfig, number: int) -> DynamoAudit:
        audit = DynamoAudit(self.db, "t", {config.id: config}.get, clock=lambda: self.now)
        audit.process = f"{number:08x}"  # deterministic window keys
        return audit

    def run(self) -> Ledger:
        """Every simulated second: bulk push, single deliveries, reads."""
        state = random.getstate()
        random.seed(self.work.seed)  # UsageLimits picks its counter shard with ``random``
        try:
            for second in range(self.work.seconds):
                self.ledger.second = second
                if self.work.burst_every and second % self.work.burst_every == 0:
                    self._burst(second)
                work = self.work
                kinds = self.rng.choices(KINDS, work.mix, k=work.rate)
                for n, kind in enumerate(kinds):
                    self.now = START + timedelta(seconds=second + n / work.rate)
                    self._request(kind, [self.rng.randrange(work.shipments)])
                self._reads()
        finally:
            random.setstate(state)
        return self.ledger

    def _burst(self, second: int) -> None:
        self.now = START + timedelta(seconds=second)
        work = self.work
        into = work.burst_status
        pool = [
            s for s in range(work.shipments) if into is None or NEXT.get(self.status[s]) is into
        ]
        slots = self.rng.sample(pool, min(work.burst_shipments, len(pool)))
        for start in range(0, len(slots), work.burst_batch):
            self._request("burst", slots[start : start + work.burst_batch], into)

    def _request(self, kind: str, slots: list[int], into: Status | None = None) -> None:
        container = self.rng.randrange(self.work.containers)  # Lambda picks any warm one
        self.requests += 1
        self.caps[container].admit(self.work.tenant)
        if kind == "parked":
            self._park()
            answer: dict[str, object] = {"parked": True}
        else:
            numbers = [n for slot in slots if (n := self._shipment(slot, kind, into)) is not None]
            dups = len(slots) - len(numbers)
            answer = {
                "accepted": len(numbers),
                "duplicates": dups,
                "duplicate_delivery": kind == "retry",
            }
        audit = self.audits[container]
        for outcome in delivery_outcomes(self.work.tenant, CARRIERS[0], answer, self.now):
            audit.record(outcome)
        audit.flush()  # the end of each invocation

    def _shipment(self, slot: int, kind: str, into: Status | None) -> str | None:
        """One shipment's share of a delivery; its number when a new event was stored.

        A status change moves into ``into``, else along :data:`NEXT`; a delivered
        shipment's slot takes a new shipment instead (its first event: no index delete).
        """
        if kind == "burst" and into is not None:
            kind = "change"
        elif kind == "burst":
            draw = self.rng.random()
            kind = "duplicate" if draw >= self.work.burst_new else "new"
            kind = "change" if draw < self.work.burst_new / 2 else kind
        if kind == "change" and self.status[slot] is Status.DELIVERED:
            self.ids[slot], self.next_id = self.next_id, self.next_id + 1  # a new shipment
            self.status[slot] = Status.PENDING
        number = f"1Z{self.ids[slot]:016d}"
        carrier = CARRIERS[self.ids[slot] % len(CARRIERS)]
        pk = self._pk(slot)
        self.ledger.add("read", "table", pk, 1.0)  # the strongly consistent state read
        if kind in ("retry", "duplicate"):
            return None
        self.ledger.add("write", "table", pk, self.event_wru + STATE_WRU)
        if kind == "change":
            old = self.status[slot]
            new = into or NEXT.get(old, Status.IN_TRANSIT)
            self.status[slot] = new
            for status in (old, new) if old is not Status.PENDING else (new,):
                entry = index_keys(self.work.tenant, number, carrier, status, self.now)
                self.ledger.add("write", INDEX_NAME, entry[INDEX_PK]["S"], INDEX_WRU)
        return number

    def _park(self) -> None:
        body = b"x" * self.work.parked_body + b"%d" % self.requests
        digest = f"{self.rng.getrandbits(256):064x}"
        parked = ParkedDelivery(self.work.tenant, CARRIERS[0], digest, body, {}, "bad", self.now)
        self.parking.park(parked, retention_days=90)

    def _reads(self) -> None:
        work, statuses = self.work, list(START_MIX)
        for _ in range(work.searches):
            status = self.rng.choice(statuses)
            for shard in range(SEARCH_SHARDS):
                self.ledger.add(
                    "read", INDEX_NAME, index_partition(work.tenant, status, shard), 0.5
                )
            for slot in self.rng.sample(range(work.shipments), min(20, work.shipments)):
                self.ledger.add("read", "table", self._pk(slot), 0.5)  # the page's states
        for _ in range(work.gets):
            self.ledger.add("read", "table", self._pk(self.rng.randrange(work.shipments)), 1.0)

    def _pk(self, slot: int) -> str:
        return shipment_pk(self.work.tenant, f"1Z{self.ids[slot]:016d}")
