"""Polling: simulated hours of trackers against the loopback carrier API, on DynamoDB Local.

Run: ``.venv/bin/python -m bench.polling`` (or ``python -m bench --only polling``).
Sections ``poll`` (what the poller did) and ``poll_cost`` (the AWS cost model).

The real poller (``build_services(...).trackers.poller``, :meth:`Poller.run_once`) runs
one pass per simulated minute over the trackers of :func:`plan_fleet`, on DynamoDB Local
and the loopback carrier API (:mod:`gateway.testkit.carrier_api`), for :data:`WINDOW`
from :data:`START` (21:00 UTC: the window crosses 00:00, so a spent daily budget renews
inside it). Trackers are added through ``services.trackers.add`` at random instants of
the first :data:`RAMP`; the carrier API knows each shipment's history so far and is
advanced (``api.advance``) with its later events (status changes, deliveries), dated
inside the window: hidden until the clock reaches them.

**Fleet size.** 10,000 trackers do not fit the bench's ~2 minutes here: DynamoDB Local
(one Java process, this machine's 2 CPUs shared with the poller) serves ~400-800 calls/s,
and a tracker's first check alone takes ~7 calls (~15 ms): measured here, a pass takes
~22 s per 1,000 checks at ~13 checks a pass and ~7.5 s per 1,000 in one pass of 1,000
(:func:`_drain`), so 10,000 trackers' first checks alone would take minutes. The bench
simulates :data:`TRACKERS` (the issue's mix and rates, a smaller fleet) and extrapolates what
scales per tracker (checks, units, bytes, cost) to 10,000 and to a day; every row says
what was run. What does not scale linearly is modeled apart (:func:`shared_wu`): the
pass's lease is paid once per busy pass, the budget reservations and check-log items per
(tenant, carrier) group of a pass, so their share per check falls as more trackers are
due per pass.

**Clock.** Waybill's clock and the carrier API's are one :class:`SimClock`: the pass's
simulated minute plus the real time since it began, as on AWS, where a check at
``:00.4`` would be next due ``:00.4`` plus the interval, after the pass of that minute
began, were due times not rounded down to the minute (they are).

Measured: checks made against the schedule's ideal (:func:`ideal_checks`, from each
tracker's status sequence); the budget (requests per UTC day never above it, the
counter equal to the requests made, the spent trackers waiting for 00:00); billed write
units per check that found nothing new and per check with news, broken down by what was
written (failed conditional writes counted); overdue p99 and max (simulated time from a
tracker's due time to its check); wall time per 1,000 due trackers (machine-dependent);
the read of a tracked shipment; the modeled AWS cost (:func:`cost_rows`,
:class:`PollAssumptions`), not counting the carriers' own API fees.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import random
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from bench.load import percentile
from bench.pricing import Prices, load_prices
from bench.report import Measure, print_rows
from gateway.local.dynamodb_local import DynamoDBLocal
from gateway.local.wiring import local_dynamodb
from gateway.models import Status
from gateway.notify.addresses import AddressPolicy
from gateway.poll.budget import next_day, utc_day
from gateway.poll.checks import log_pk
from gateway.poll.schedule import next_check
from gateway.poll.trackers import POLL_LEASE, Outcome, Tracker, tracker_key
from gateway.services import Services, build_services
from gateway.store.capacity import item_bytes
from gateway.store.due_index import DUE_INDEX_NAME
from gateway.store.keys import TRACKER_PREFIX, budget_key, shipment_pk
from gateway.store.table import ensure_table
from gateway.tenancy.local_secrets import LocalSecretStore
from gateway.testkit.carrier_api import CarrierApi, SimEvent

SECTION = "poll"
COST = "poll_cost"
TABLE = "bench-polling"
START = datetime(2026, 3, 2, 21, 0, tzinfo=UTC)
WINDOW = timedelta(hours=5)
RAMP = timedelta(hours=2)  # the in-transit interval: their checks spread over it
PASS_EVERY = timedelta(minutes=1)
TRACKERS = 1_200
SCALE_TO = 10_000  # the fleet, to which per-tracker figures are extrapolated
SEED = 20260302
CARRIERS = ("ups", "fedex", "seventeentrack")  # 1 number per call (OAuth), 30 (OAuth), 40
BUDGETED = ("thrift", "ups")  # the (tenant, carrier) whose daily budget runs out
BUDGETED_SHARE = 0.05  # of the fleet, in transit
BUDGET_PER_TRACKER = 0.8  # its daily budget: 0.8 requests per tracker
MAX_PASSES = 2 * int(WINDOW / PASS_EVERY)  # a bound on the pass loop
MAX_IDEAL = 10_000  # a bound on the checks one tracker's ideal schedule may call for
RETENTION_DAYS = 30
OVERDUE_TARGET = PASS_EVERY.total_seconds()
NOT_MADE = frozenset({"budget_spent", "slowed"})  # completed without asking the carrier


# -- the fleet: who is tracked, and what the carrier will say -----------------------------


@dataclass(frozen=True)
class Planned:
    """One tracker: its tenant, carrier, number, when it is added and the carrier's history
    (events dated later than the clock are hidden until then; none: a number the carrier
    does not know)."""

    tenant: str
    carrier: str
    number: str
    added_at: datetime
    cohort: str
    events: tuple[SimEvent, ...] = ()


MIX: tuple[tuple[str, float], ...] = (
    ("pre-transit, unknown to the carrier", 0.10),
    ("pre-transit, info_received", 0.10),
    ("info_received -> in transit", 0.05),
    ("in transit", 0.45),
    ("in transit -> out for delivery -> delivered", 0.10),
    ("out for delivery -> delivered", 0.10),
    ("exception", 0.05),
    ("exception -> in transit", 0.05),
)
"""The statuses of tenant ``acme``'s trackers (``a -> b``: it changes in the window)."""


def plan_fleet(
    count: int, start: datetime, window: timedelta, ramp: timedelta, seed: int = SEED
) -> list[Planned]:
    """``count`` trackers: :data:`BUDGETED_SHARE` in transit for the budgeted (tenant,
    carrier), the rest ``acme``'s in the :data:`MIX`, over :data:`CARRIERS` in turn; each
    added at a random instant of the first ``ramp``, its changes later in the window."""
    rng = random.Random(seed)
    end = start + window

    def added() -> datetime:
        return start + timedelta(seconds=rng.uniform(0, ramp.total_seconds()))

    def later(after: datetime) -> datetime:  # 15 min after, up to 10 min before the end
        room = max(0.0, (end - after).total_seconds() - 600)
        return after + timedelta(seconds=rng.uniform(min(900, room), room))

    def ago(low: float, high: float) -> datetime:
        return start - timedelta(hours=rng.uniform(low, high))

    fleet: list[Planned] = []
    tenant, carrier = BUDGETED
    budgeted = round(count * BUDGETED_SHARE)
    for i in range(budgeted):
        history = (
            SimEvent(Status.INFO_RECEIVED, ago(20, 40), city="Louisville"),
            SimEvent(Status.IN_TRANSIT, ago(1, 20), city="Reno"),
        )
        fleet.append(Planned(tenant, carrier, f"1ZTHRIFT{i:08d}", added(), "budgeted", history))
    rest = count - budgeted
    sizes = [int(rest * share) for _, share in MIX]
    sizes[3] += rest - sum(sizes)  # rounding goes to "in transit"
    serial = 0
    for (cohort, _), size in zip(MIX, sizes, strict=True):
        for _ in range(size):
            serial += 1
            carrier = CARRIERS[serial % len(CARRIERS)]
            when = added()
            events = _history(cohort, when, ago, later)
            fleet.append(Planned("acme", carrier, _number(carrier, serial), when, cohort, events))
    return fleet


def _history(
    cohort: str,
    added: datetime,
    ago: Callable[[float, float], datetime],
    later: Callable[[datetime], datetime],
) -> tuple[SimEvent, ...]:
    """A shipment of ``cohort``: labelled a day or so ago, moving for hours, its last
    status before the window within the last 2.5 h; its changes after it is ``added``."""
    label = _at(Status.INFO_RECEIVED, ago(20, 40))
    moving = _at(Status.IN_TRANSIT, ago(3, 12))
    recent = ago(0.2, 2.5)
    if cohort == "pre-transit, unknown to the carrier":
        return ()
    if cohort == "pre-transit, info_received":
        return (label,)
    if cohort == "info_received -> in transit":
        return (label, _at(Status.IN_TRANSIT, later(added)))
    if cohort == "in transit":
        return (label, moving)
    if cohort == "in transit -> out for delivery -> delivered":
        out = later(added)
        return (label, moving, _at(Status.OUT_FOR_DELIVERY, out), _at(Status.DELIVERED, later(out)))
    if cohort == "out for delivery -> delivered":
        return (
            label,
            moving,
            _at(Status.OUT_FOR_DELIVERY, recent),
            _at(Status.DELIVERED, later(added)),
        )
    if cohort == "exception":
        return (label, moving, _at(Status.EXCEPTION, recent))
    if cohort == "exception -> in transit":
        return (label, moving, _at(Status.EXCEPTION, recent), _at(Status.IN_TRANSIT, later(added)))
    raise ValueError(f"no such cohort: {cohort!r}")


def _at(status: Status, when: datetime) -> SimEvent:
    return SimEvent(status, when, city="Sparks")


def _number(carrier: str, serial: int) -> str:
    return {
        "ups": f"1ZBENCH{serial:09d}",
        "fedex": f"79{serial:010d}",
        "seventeentrack": f"RB{serial:09d}CN",
    }[carrier]


# -- the schedule's ideal ---------------------------------------------------------------


def status_at(events: Sequence[SimEvent], instant: datetime) -> Status:
    """What the carrier shows at ``instant``: the latest event's status by then
    (``unknown`` for a number it does not know, or not yet)."""
    seen = [e for e in events if e.at <= instant]
    return max(seen, key=lambda e: e.at).status if seen else Status.UNKNOWN


def ideal_checks(
    events: Sequence[SimEvent],
    added: datetime,
    end: datetime,
    overrides: Mapping[str, int] | None = None,
) -> list[datetime]:
    """When the schedule checks a tracker added at ``added``, before ``end``, if every
    check is made the instant it is due: the first at once, each next one the interval
    of the status the carrier showed at the check later, none after a terminal status.

    Example:
        >>> t0 = datetime(2026, 3, 2, 8, tzinfo=UTC)
        >>> moving = [SimEvent(Status.IN_TRANSIT, t0 - timedelta(hours=1))]
        >>> [c.hour for c in ideal_checks(moving, t0, t0 + timedelta(hours=5))]
        [8, 10, 12]
    """
    checks: list[datetime] = []
    when: datetime | None = added
    for _ in range(MAX_IDEAL):
        if when is None or when >= end:
            break
        checks.append(when)
        when = next_check(status_at(events, when), when, overrides=overrides)
    return checks


# -- the simulated clock ----------------------------------------------------------------


class SimClock:
    """The pass's simulated instant plus the real time since it was set."""

    def __init__(self, start: datetime) -> None:
        self.base, self.mark = start, time.monotonic()

    def set(self, instant: datetime) -> None:
        self.base, self.mark = instant, time.monotonic()

    def __call__(self) -> datetime:
        return self.base + timedelta(seconds=time.monotonic() - self.mark)

    def epoch(self) -> float:
        return self().timestamp()


# -- what each write and read was for ---------------------------------------------------

WRITES = frozenset({"update_item", "put_item", "delete_item"})
READS = frozenset({"get_item", "query", "batch_get_item"})


def _prefix(key: str) -> str:
    return key.split("#", 1)[0] + "#"


LOG_PREFIX = _prefix(log_pk("t", "c", "d"))
BUDGET_PREFIX = _prefix(budget_key("t", "c", "d")["pk"]["S"])
SHIPMENT_PREFIX = _prefix(shipment_pk("t", "n"))


def component(operation: str, request: Mapping[str, Any], answer: Mapping[str, Any]) -> str:
    """What a DynamoDB call was for, from its key; a tracker's completion says whether its
    check found something new (the ``added`` of the check it records first)."""
    key = request.get("Key") or request.get("Item") or {}
    pk = str(key.get("pk", {}).get("S", ""))
    sk = str(key.get("sk", {}).get("S", ""))
    if operation == "query":
        if request.get("IndexName") == DUE_INDEX_NAME:
            return "due count" if request.get("Limit") == 1000 else "due query"
        return "shipment read"
    if operation == "batch_get_item":
        return "due trackers read"
    if pk == POLL_LEASE:
        return "pass lease"
    if pk.startswith(BUDGET_PREFIX):
        return "budget"
    if pk.startswith(LOG_PREFIX) or "checks" in request.get("Item", {}):
        return "check log"
    if sk.startswith(TRACKER_PREFIX) and operation == "put_item":
        return "tracker add"
    if sk.startswith(TRACKER_PREFIX):
        recent = answer.get("Attributes", {}).get("recent", {}).get("L", [])
        added = int(recent[0]["M"]["added"]["N"]) if recent else 0
        return "completion, news" if added else "completion, quiet"
    if pk.startswith(SHIPMENT_PREFIX):
        return "events + state"
    return "other"


@dataclass
class Units:
    """Billed units and calls by component; writes apart for the table and the indexes."""

    write: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    table_write: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    index_write: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    failed: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    read: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    calls: Counter[str] = field(default_factory=Counter)

    def merge(self, other: Units) -> None:
        """Add ``other``'s counts to these."""
        for name in ("write", "table_write", "index_write", "failed", "read"):
            mine: defaultdict[str, float] = getattr(self, name)
            for key, value in getattr(other, name).items():
                mine[key] += value
        self.calls.update(other.calls)

    def billed(self, name: str) -> float:
        """Write units AWS bills for a component: reported plus failed conditions."""
        return float(self.write[name] + self.failed[name])


class MeteredClient:
    """A DynamoDB client that asks for units by index and counts them per component.

    A failed conditional write is billed as AWS bills it (1 unit per started KB of the
    item, at least 1); a read DynamoDB Local reports as 0 units (an empty Query) is
    counted at AWS's minimum (0.5 eventually consistent, 1 strongly)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.units = Units()
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._client, name)
        if name in WRITES or name in READS:
            return lambda **request: self._call(name, found, request)
        return found

    def take(self) -> Units:
        """The units counted so far; counting starts again from zero."""
        with self._lock:
            done, self.units = self.units, Units()
        return done

    def _call(self, operation: str, method: Callable[..., Any], request: dict[str, Any]) -> Any:
        if request.get("ReturnConsumedCapacity") == "TOTAL":
            request = {**request, "ReturnConsumedCapacity": "INDEXES"}
        try:
            answer = method(**request)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                name = component(operation, request, {})
                item = request.get("Item") or request.get("Key") or {}
                with self._lock:
                    self.units.failed[name] += max(1, math.ceil(item_bytes(item) / 1024))
                    self.units.calls[name] += 1
            raise
        name = component(operation, request, answer)
        consumed = answer.get("ConsumedCapacity") or []
        entries = consumed if isinstance(consumed, list) else [consumed]
        total = sum(float(e.get("CapacityUnits", 0.0)) for e in entries)
        with self._lock:
            self.units.calls[name] += 1
            if operation in WRITES:
                self.units.write[name] += total
                for entry in entries:
                    self.units.table_write[name] += entry.get("Table", {}).get("CapacityUnits", 0)
                    for index in entry.get("GlobalSecondaryIndexes", {}).values():
                        self.units.index_write[name] += index.get("CapacityUnits", 0)
            else:
                least = 1.0 if request.get("ConsistentRead") else 0.5
                self.units.read[name] += max(total, least)
        return answer


# -- the run ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Done:
    """One check, as the poller completed it."""

    tenant: str
    carrier: str
    number: str
    due: datetime
    at: datetime
    news: bool
    error: str | None
    next_at: datetime | None


@dataclass(frozen=True)
class Sent:
    """One request to the carrier API, as the poller's transport sent it."""

    tenant: str
    carrier: str
    at: datetime
    out_bytes: int
    in_bytes: int


@dataclass
class Run:
    """What the simulated window produced."""

    checks: list[Done] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)
    passes: list[tuple[int, float, float]] = field(default_factory=list)  # checks, wall, cpu
    overran: int = 0
    units: Units = field(default_factory=Units)  # the passes that checked something
    idle: Units = field(default_factory=Units)  # the passes that checked nothing
    adds: Units = field(default_factory=Units)
    simulated: timedelta = timedelta(0)
    api_requests: Counter[str] = field(default_factory=Counter)
    budget_used: dict[str, int] = field(default_factory=dict)  # UTC day: the counter
    tracker_bytes: float = 0.0
    log_bytes_per_check: float = 0.0
    live_hours: float = 0.0
    ideal: dict[str, tuple[int, int]] = field(default_factory=dict)  # group: made, ideal
    view_rcu: float = 0.0
    budget: int = 0
    drain: tuple[int, float] = (0, 0.0)  # checks, wall s
    real_s: float = 0.0


def _tenant_files(directory: Path, api: CarrierApi, budget: int) -> None:
    def polling(carrier: str, daily: int) -> list[str]:
        return [
            f"[carriers.{carrier}.polling]",
            f"daily_budget = {daily}",
            f'api_base_url = "{api.base_url(carrier)}"',
            "concurrency = 8",
        ]

    acme = ['name = "Acme"', f"retention_days = {RETENTION_DAYS}"]
    for carrier in CARRIERS:
        acme += polling(carrier, 1_000_000)
    (directory / "acme.toml").write_text("\n".join(acme) + "\n")
    tenant, carrier = BUDGETED
    thrift = ['name = "Thrift"', f"retention_days = {RETENTION_DAYS}", *polling(carrier, budget)]
    (directory / f"{tenant}.toml").write_text("\n".join(thrift) + "\n")


@contextlib.contextmanager
def world(
    root: Path, clock: SimClock, budget: int
) -> Iterator[tuple[Services, CarrierApi, MeteredClient]]:
    """Services on a fresh DynamoDB Local, polling the loopback carrier API, on ``clock``."""
    with DynamoDBLocal(in_memory=True) as ddb, CarrierApi(clock=clock.epoch) as api:
        client = MeteredClient(local_dynamodb(ddb.endpoint_url))
        ensure_table(client, TABLE)
        tenants = root / "tenants"
        tenants.mkdir()
        _tenant_files(tenants, api, budget)
        secrets = LocalSecretStore(root / "state")
        for tenant, carriers in (("acme", CARRIERS), (BUDGETED[0], BUDGETED[1:])):
            for carrier in carriers:
                secrets.set(tenant, f"{carrier}.api", api.slot_value(carrier), now=clock())
        services = build_services(
            dynamodb=client,
            table_name=TABLE,
            tenants_dir=tenants,
            secrets=secrets,
            count=lambda name, value=1: None,
            clock=clock,
            address_policy=AddressPolicy(allow_insecure=True),
        )
        services.trackers.poller.client.clock = clock.epoch  # tokens live on the API's clock
        yield services, api, client


def _observe(services: Services, clock: SimClock, run: Run) -> None:
    """Record each check the poller completes, and each request it sends (by tenant: a
    check's requests are made in the thread that asked for it)."""
    poller = services.trackers.poller
    store, client = poller.trackers, poller.client
    complete, check, send = store.complete, client.check, client.send
    lock, local = threading.Lock(), threading.local()

    def completing(
        tracker: Tracker, owner: str | None, outcome: Outcome, retention: int, made: Any = None
    ) -> Tracker:
        done = complete(tracker, owner, outcome, retention, made)
        fact = Done(
            tracker.tenant,
            tracker.carrier,
            tracker.tracking_number,
            tracker.next_check_at or tracker.created_at,
            outcome.checked_at,
            outcome.news,
            outcome.error,
            outcome.next_check_at,
        )
        with lock:
            run.checks.append(fact)
        return done

    def checking(tenant: str, carrier: str, *args: Any, **kwargs: Any) -> Any:
        local.who = tenant
        return check(tenant, carrier, *args, **kwargs)

    def sending(url: str, body: bytes, headers: dict[str, str], **options: Any) -> Any:
        sent = send(url, body, headers, **options)
        size = len(url) + len(body) + sum(len(k) + len(v) + 4 for k, v in headers.items())
        carrier = url.split("/")[3]
        fact = Sent(getattr(local, "who", ""), carrier, clock(), size, len(sent.body_excerpt))
        with lock:
            run.sent.append(fact)
        return sent

    setattr(store, "complete", completing)  # noqa: B010 (one instance's method, wrapped)
    setattr(client, "check", checking)  # noqa: B010
    client.send = sending


def simulate(
    trackers: int = TRACKERS,
    window: timedelta = WINDOW,
    ramp: timedelta = RAMP,
    drain: bool = True,
) -> tuple[Run, list[Planned]]:
    """The window: trackers added as planned, one pass per simulated minute; then what is
    read back, and (``drain``) one pass over every live tracker made due at once."""
    started = time.monotonic()
    fleet = plan_fleet(trackers, START, window, ramp)
    pending = sorted(fleet, key=lambda p: p.added_at, reverse=True)
    budget = max(1, round(BUDGET_PER_TRACKER * sum(p.cohort == "budgeted" for p in fleet)))
    run, clock, end = Run(budget=budget), SimClock(START), START + window
    with tempfile.TemporaryDirectory() as root, world(Path(root), clock, budget) as found:
        services, api, ddb = found
        _observe(services, clock, run)
        minute = START
        for _ in range(MAX_PASSES):
            if minute >= end:
                break
            _add(services, api, clock, pending, minute)
            run.adds.merge(ddb.take())
            clock.set(minute)
            before, cpu = len(run.checks), time.process_time()
            services.trackers.poller.run_once()
            wall, made = time.monotonic() - clock.mark, len(run.checks) - before
            run.passes.append((made, wall, time.process_time() - cpu))
            (run.units if made else run.idle).merge(ddb.take())
            following = minute + PASS_EVERY
            if clock() > following:  # overran its minute: the next pass starts late
                run.overran += 1
                following = minute + PASS_EVERY * math.ceil((clock() - minute) / PASS_EVERY)
            minute = following
        run.simulated = minute - START
        _read_back(services, api, clock, fleet, run, end)
        if drain:
            run.drain = _drain(services, clock, run, end)
    run.real_s = time.monotonic() - started
    return run, fleet


def _add(
    services: Services, api: CarrierApi, clock: SimClock, pending: list[Planned], until: datetime
) -> None:
    """Add the planned trackers whose time has come (``pending`` sorted latest first): the
    carrier knows the history so far, and is advanced with the events to come (hidden
    until the clock reaches them)."""
    for _ in range(len(pending)):
        if not pending or pending[-1].added_at > until:
            break
        plan = pending.pop()
        clock.set(plan.added_at)
        if plan.events:
            api.add(plan.carrier, plan.number, [e for e in plan.events if e.at <= plan.added_at])
            for event in (e for e in plan.events if e.at > plan.added_at):
                api.advance(plan.carrier, plan.number, event)
        services.trackers.add(plan.tenant, plan.number, plan.carrier)


def _read_back(
    services: Services,
    api: CarrierApi,
    clock: SimClock,
    fleet: list[Planned],
    run: Run,
    end: datetime,
) -> None:
    """After the window: the budget counters, item sizes, the ideal, a tracked GET."""
    clock.set(end)
    run.api_requests = Counter(r.carrier for r in api.requests)
    tenant, carrier = BUDGETED
    for day in sorted({utc_day(s.at) for s in run.sent}):
        instant = datetime.fromisoformat(day).replace(tzinfo=UTC)
        run.budget_used[day] = services.trackers.budget.used(tenant, carrier, instant)
    client, table = services.store.client, services.store.table
    sizes = []
    for plan in fleet[:: max(1, len(fleet) // 100)]:
        at = tracker_key(plan.tenant, plan.number, plan.carrier)
        item = client.get_item(TableName=table, Key=at).get("Item")
        if item:
            sizes.append(item_bytes(item))
    run.tracker_bytes = sum(sizes) / max(1, len(sizes))  # the cost model adds the 100
    logged, log_bytes = 0, 0
    for tenant_id, carrier_id in {(p.tenant, p.carrier) for p in fleet}:
        for day in {utc_day(START), utc_day(end)}:
            answer = client.query(
                TableName=table,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": log_pk(tenant_id, carrier_id, day)}},
            )
            for item in answer.get("Items", []):  # as billed: 100 bytes more per item
                logged += len(item["checks"]["L"])
                log_bytes += item_bytes(item) + 100
    run.log_bytes_per_check = log_bytes / max(1, logged)
    retired = {(c.tenant, c.carrier, c.number): c.at for c in run.checks if c.next_at is None}
    made = Counter((c.tenant, c.carrier, c.number) for c in run.checks if c.error not in NOT_MADE)
    ideal: dict[str, list[int]] = {"acme": [0, 0], "budgeted": [0, 0]}
    for plan in fleet:
        key = (plan.tenant, plan.carrier, plan.number)
        group = ideal["budgeted" if plan.cohort == "budgeted" else "acme"]
        group[0] += made[key]
        group[1] += len(ideal_checks(plan.events, plan.added_at, end))
        run.live_hours += ((retired.get(key) or end) - plan.added_at).total_seconds() / 3600
    run.ideal = {name: (m, i) for name, (m, i) in ideal.items()}
    tracked = next(p for p in fleet if p.cohort == "in transit")
    services.store.meter.reset()
    services.store.shipment_view(tracked.tenant, tracked.number, clock())
    run.view_rcu = services.store.meter.read_units


def _drain(services: Services, clock: SimClock, run: Run, end: datetime) -> tuple[int, float]:
    """A day later every live tracker is due: one pass checks them all (time to drain)."""
    clock.set(end + timedelta(days=1))
    before = len(run.checks)
    services.trackers.poller.run_once()
    return len(run.checks) - before, time.monotonic() - clock.mark


# -- the rows ---------------------------------------------------------------------------


def wu_breakdown(units: Units, quiet: int, news: int) -> dict[str, float]:
    """Billed write units per check, by what was written: a completion's tracker item and
    its due-index move (per quiet or news check); the check log, the budget and the
    pass lease shared by every check of the passes; the news' events and states."""
    checks = max(1, quiet + news)
    return {
        "quiet: tracker item": (
            units.table_write["completion, quiet"] + units.failed["completion, quiet"]
        )
        / max(1, quiet),
        "quiet: due-index move": units.index_write["completion, quiet"] / max(1, quiet),
        "news: tracker item + indexes": units.billed("completion, news") / max(1, news),
        "news: events + state": units.billed("events + state") / max(1, news),
        "check log share": units.billed("check log") / checks,
        "budget share": units.billed("budget") / checks,
        "pass lease share": units.billed("pass lease") / checks,
        "other share": (units.billed("other") + units.billed("tracker add")) / checks,
    }


def groups_per_pass(checks: float, shares: Sequence[float]) -> float:
    """Expected (tenant, carrier) groups with a due tracker in a pass of ``checks``
    trackers, ``shares`` of them per (tenant, carrier).

    The poller groups what a pass finds due by (tenant, carrier) (``Poller._check_due``),
    so each group reserves budget, writes a check-log item and makes carrier calls of its
    own.

    Example:
        >>> round(groups_per_pass(1, [0.5, 0.5]), 6), round(groups_per_pass(1e4, [0.5, 0.5]))
        (1.0, 2)
    """
    return float(sum(1 - (1 - s) ** checks for s in shares if s > 0))


@dataclass(frozen=True)
class Overheads:
    """Write units the checks of a pass share, per what drives them (measured)."""

    per_pass: float  # a busy pass's lease and release
    per_group: float  # a (tenant, carrier) group's budget reservation and log item


def shared_wu(passes: Sequence[float], shares: Sequence[float], o: Overheads) -> float:
    """Shared write units per check over passes of ``passes`` checks each."""
    checks = sum(passes)
    if checks <= 0:
        return 0.0
    busy = sum(1 for n in passes if n > 0)
    groups = sum(groups_per_pass(n, shares) for n in passes)
    return (o.per_pass * busy + o.per_group * groups) / checks


def rows(run: Run, fleet: list[Planned]) -> list[Measure]:
    """The measured rows, then the cost model's."""
    end = START + run.simulated
    window = [c for c in run.checks if c.at < end]
    news = sum(c.news for c in window)
    spent = [c for c in window if c.error == "budget_spent"]
    hours = run.simulated.total_seconds() / 3600
    scale = SCALE_TO / len(fleet)
    ran = f"{len(fleet):,} trackers, {hours:g} simulated h, {len(run.passes)} passes"
    made, ideal = run.ideal["acme"]
    measured = profile(run, window)
    first = len({(c.tenant, c.carrier, c.number) for c in window})
    fleet_size = PollAssumptions(trackers=SCALE_TO)
    per_day = sum(monthly_checks(measured, fleet_size)) / 30
    out = [
        Measure(
            SECTION,
            "checks completed (window)",
            len(window),
            "",
            None,
            f"{ran}; {news:,} with news, {len(spent)} budget-spent; {run.real_s:.0f} s real",
        ),
        Measure(
            SECTION,
            "acme: checks made / schedule's ideal",
            made / max(1, ideal),
            "x",
            None,
            f"{made:,} made, {ideal:,} ideal (x{scale:.3g} for {SCALE_TO:,} trackers)",
        ),
        Measure(
            SECTION,
            f"checks a day for {SCALE_TO:,} trackers (extrapolated)",
            per_day,
            "/day",
            None,
            f"per live tracker-day: {measured.quiet_per_day:.1f} quiet + "
            f"{measured.news_per_day:.1f} news measured over {run.live_hours:,.0f} tracker-h, "
            f"+ a first check per {fleet_size.tracker_life_days:g}-day life "
            f"(the window's {first:,} first checks left out)",
        ),
    ]
    out += _budget_rows(run, spent)
    overdue = [(c.at - c.due).total_seconds() for c in window]
    late = sum(o > OVERDUE_TARGET for o in overdue)
    caught = sum(o < 5 for o in overdue)
    note = f"n={len(overdue):,}: {caught:,} under 5 s, {late:,} over {OVERDUE_TARGET:g} s"
    out += [
        Measure(SECTION, "overdue p50", percentile(overdue, 50), "s"),
        Measure(SECTION, "overdue p99", percentile(overdue, 99), "s", OVERDUE_TARGET, note),
        Measure(
            SECTION,
            "overdue max",
            max(overdue, default=0.0),
            "s",
            OVERDUE_TARGET,
            "a due time is rounded down to its minute (gateway/poll/schedule.py); what waits "
            "near a minute is a tracker added mid-minute: the next pass takes it",
        ),
    ]
    out += _unit_rows(run, window, scale)
    out += _carrier_rows(run, window)
    out += _time_rows(run)
    out.append(
        Measure(
            SECTION,
            "GET shipment with a tracker (shipment_view)",
            run.view_rcu,
            "RCU",
            1.0,
            "one strongly consistent Query: state + tracker",
        )
    )
    out += cost_rows(measured)
    return out


def _budget_rows(run: Run, spent: list[Done]) -> list[Measure]:
    tenant, carrier = BUDGETED
    budget, end = run.budget, START + run.simulated
    window = [s for s in run.sent if s.at < end]
    per_day = Counter(utc_day(s.at) for s in window if s.tenant == tenant)
    sent = Counter(s.carrier for s in window)
    days = "; ".join(
        f"{d}: {n} sent, counter {run.budget_used.get(d, 0)}" for d, n in per_day.items()
    )
    drift = sum(abs(n - run.budget_used.get(d, 0)) for d, n in per_day.items())
    waited = sum(c.next_at == next_day(c.at) for c in spent)
    made, ideal = run.ideal["budgeted"]
    apart = sum(abs(sent[c] - run.api_requests[c]) for c in CARRIERS)
    return [
        Measure(
            SECTION,
            f"{tenant}/{carrier}: busiest UTC day's requests / budget",
            max(per_day.values(), default=0) / budget,
            "x",
            1.0,
            f"budget {budget}/day; {days}",
        ),
        Measure(
            SECTION,
            f"{tenant}/{carrier}: |budget counter - requests sent|",
            drift,
            "req",
            0.0,
            f"the carrier API counted what was sent ({apart} apart, all carriers)",
        ),
        Measure(
            SECTION,
            f"{tenant}/{carrier}: spent checks moved to 00:00 UTC",
            waited / max(1, len(spent)),
            "x",
            None,
            f"{waited} of {len(spent)}",
            floor=1.0,
        ),
        Measure(
            SECTION,
            f"{tenant}/{carrier}: checks made / ideal",
            made / max(1, ideal),
            "x",
            None,
            f"{made} made, {ideal} ideal: the budget caps it",
        ),
    ]


def _unit_rows(run: Run, window: list[Done], scale: float) -> list[Measure]:
    news = sum(c.news for c in window)
    quiet = len(window) - news
    units = run.units
    parts = wu_breakdown(units, quiet, news)
    quiet_wu, news_wu = per_check_wu(units, quiet, news)
    completion = parts["quiet: tracker item"] + parts["quiet: due-index move"]
    busy = [float(n) for n, _, _ in run.passes if n]
    groups = Counter((c.tenant, c.carrier) for c in window)
    shares = [n / max(1, len(window)) for n in groups.values()]
    items = units.calls["check log"]  # one per (tenant, carrier) group of a pass
    overheads = Overheads(
        per_pass=units.billed("pass lease") / max(1, len(busy)),
        per_group=(units.billed("budget") + units.billed("check log"))
        / sum(groups_per_pass(n, shares) for n in busy),
    )
    at_scale = completion + shared_wu([n * scale for n in busy], shares, overheads)
    modeled = sum(groups_per_pass(n, shares) for n in busy)
    lever = "lever: a slot schedule whose index key moves only when the status class does"
    per_pass = sum(busy) / max(1, len(busy))
    rows = [
        Measure(
            SECTION,
            "WU per check that finds nothing new",
            quiet_wu,
            "WU",
            1.0,
            f"{quiet:,} quiet checks, billed; {lever}",
        ),
        Measure(
            SECTION,
            "  quiet: tracker item",
            parts["quiet: tracker item"],
            "WU",
            None,
            f"{run.tracker_bytes:.0f} B (+100 overhead) with its latest checks: 1 WU",
        ),
        Measure(
            SECTION,
            "  quiet: due-index move",
            parts["quiet: due-index move"],
            "WU",
            None,
            "a GSI key update: delete + put",
        ),
        Measure(
            SECTION,
            "  shared: check log",
            parts["check log share"],
            "WU",
            None,
            f"{len(window) / max(1, items):.2f} checks an item: one per (tenant, carrier) a pass",
        ),
        Measure(
            SECTION,
            "  shared: budget",
            parts["budget share"],
            "WU",
            None,
            "per (tenant, carrier) a pass: a block reserved, what is left given back",
        ),
        Measure(
            SECTION,
            "  shared: pass lease",
            parts["pass lease share"],
            "WU",
            None,
            "lease + release per busy pass",
        ),
    ]
    if parts["other share"]:
        rows.append(Measure(SECTION, "  shared: other", parts["other share"], "WU"))
    rows += [
        Measure(
            SECTION,
            f"WU per quiet check at {SCALE_TO:,} trackers (modeled)",
            at_scale,
            "WU",
            1.0,
            f"{per_pass:.0f} x{scale:.3g} checks a pass; per busy pass "
            f"{overheads.per_pass:.2f} WU, per group {overheads.per_group:.2f} WU "
            f"(model {modeled:,.0f} groups vs {items:,} log items measured)",
        ),
        Measure(
            SECTION,
            "WU per check with news",
            news_wu,
            "WU",
            None,
            f"{news:,} checks; events + state {parts['news: events + state']:.2f}",
        ),
        Measure(
            SECTION,
            "RRU per check",
            sum(units.read.values()) / max(1, len(window)),
            "RRU",
            None,
            ", ".join(
                f"{k} {v / max(1, len(window)):.2f}"
                for k, v in sorted(units.read.items(), key=lambda kv: -kv[1])[:3]
            ),
        ),
    ]
    return rows


def _carrier_rows(run: Run, window: list[Done]) -> list[Measure]:
    """Numbers per carrier request: a batch carrier takes 30 (FedEx) or 40 (17TRACK)."""
    end = START + run.simulated
    sent = Counter(s.carrier for s in run.sent if s.at < end)
    asked = Counter(c.carrier for c in window if c.error not in NOT_MADE)
    batch = {"ups": 1, "fedex": 30, "seventeentrack": 40}
    return [
        Measure(
            SECTION,
            f"{carrier}: numbers checked per request",
            asked[carrier] / max(1, sent[carrier]),
            "/req",
            None,
            f"{asked[carrier]:,} checks, {sent[carrier]:,} requests (tokens, registrations "
            f"included); up to {batch[carrier]} a call",
        )
        for carrier in CARRIERS
    ]


def _time_rows(run: Run) -> list[Measure]:
    busy = [(n, w) for n, w, _ in run.passes if n]
    checks = sum(n for n, _ in busy)
    wall = sum(w for _, w in busy)
    biggest = max(busy, key=lambda p: p[1], default=(0, 0.0))
    drained, drain_s = run.drain
    here = "this machine, DynamoDB Local: machine-dependent"
    rows = [
        Measure(
            SECTION,
            "pass wall time per 1,000 due trackers",
            wall / max(1, checks) * 1000,
            "s",
            None,
            f"{len(busy)} passes, {checks / max(1, len(busy)):.0f} checks each; {here}",
        ),
        Measure(
            SECTION,
            "longest pass",
            biggest[1],
            "s",
            OVERDUE_TARGET,
            f"{biggest[0]} checks; {run.overran} passes overran their minute",
        ),
    ]
    if drained:
        rows.append(
            Measure(
                SECTION,
                "drain: every live tracker due at once, per 1,000",
                drain_s / drained * 1000,
                "s",
                None,
                f"{drained:,} in one pass, {drain_s:.1f} s (nothing new); {here}",
            )
        )
    return rows


# -- the cost model ---------------------------------------------------------------------


@dataclass(frozen=True)
class PollProfile:
    """What polling measured: checks per live tracker-day, and per check."""

    quiet_per_day: float  # checks that found nothing new, per live tracker-day
    news_per_day: float  # checks with news, a tracker's first check not counted
    wru_quiet: float  # billed write units of a check that found nothing new (shares included)
    wru_news: float
    rru: float  # read units per check
    ddb_calls: float  # per check
    requests: float  # carrier API requests per check (tokens, registrations included)
    cpu_ms: float  # this process's CPU per check (the loopback carrier API's included)
    wall_ms: float  # this machine's wall time per check (DynamoDB Local)
    request_bytes: float  # sent per carrier request (URL, headers, body)
    tracker_bytes: float
    log_bytes: float  # per check, in the day's packed log
    add_wru: float  # adding a tracker
    idle_rru: float  # a pass that finds nothing due
    idle_calls: float


@dataclass(frozen=True)
class PollAssumptions:
    """What the cost model does not measure here, each with its reason."""

    memory_gb: float = 0.5  # 512 MB arm64, the stack's default (infra/settings.py)
    cpu_scale: float = 1769 / 512  # 1 vCPU at 1,769 MB, in proportion below (bench/pricing.py)
    rtt_ms: float = 6.0  # one DynamoDB call from Lambda in-region
    carrier_ms: float = 400.0  # a carrier tracking API's answer (UPS, FedEx: 0.2-0.8 s)
    parallel: float = 4.0  # calls in flight at once (a carrier's default concurrency)
    safety: float = 1.2  # tail latency, retries, Graviton vs this CPU (bench/pricing.py)
    passes_per_month: float = 43_200.0  # EventBridge rate(1 minute), 30 days
    log_bytes_per_pass: float = 600.0  # the EMF metrics blob of a pass; warnings are rare
    log_months: float = 1.0  # log retention 30 days
    item_overhead: float = 100.0  # DynamoDB bills 100 bytes per item stored
    index_entry_bytes: float = 110.0  # a KEYS_ONLY entry (due index, status index)
    tracker_life_days: float = 5.0  # added at label creation, retired at delivery
    retention_days: float = RETENTION_DAYS  # retired trackers and check logs are kept this long
    trackers: float = 1000.0  # live trackers (each retired one replaced by a new one)


def per_check_wu(units: Units, quiet: int, news: int) -> tuple[float, float]:
    """Billed write units of a check that found nothing new, and of one with news, each
    with its share of what the checks of a pass write together."""
    parts = wu_breakdown(units, quiet, news)
    shared = sum(v for k, v in parts.items() if k.endswith("share"))
    return (
        parts["quiet: tracker item"] + parts["quiet: due-index move"] + shared,
        parts["news: tracker item + indexes"] + parts["news: events + state"] + shared,
    )


def profile(run: Run, window: list[Done]) -> PollProfile:
    """The figures of a run the cost model takes."""
    checks = max(1, len(window))
    news = sum(c.news for c in window)
    quiet = len(window) - news
    first = len({(c.tenant, c.carrier, c.number) for c in window})
    busy = [(n, w, c) for n, w, c in run.passes if n]
    idle = max(1, len(run.passes) - len(busy))
    sent = [s for s in run.sent if s.at < START + run.simulated]
    days = max(1e-9, run.live_hours) / 24
    wru_quiet, wru_news = per_check_wu(run.units, quiet, news)
    return PollProfile(
        quiet_per_day=quiet / days,
        news_per_day=max(0, news - first) / days,
        wru_quiet=wru_quiet,
        wru_news=wru_news,
        rru=sum(run.units.read.values()) / checks,
        ddb_calls=sum(run.units.calls.values()) / checks,
        requests=len(sent) / checks,
        cpu_ms=sum(c for _, _, c in busy) * 1000 / checks,
        wall_ms=sum(w for _, w, _ in busy) * 1000 / checks,
        request_bytes=sum(s.out_bytes for s in sent) / max(1, len(sent)),
        tracker_bytes=run.tracker_bytes,
        log_bytes=run.log_bytes_per_check,
        add_wru=sum(run.adds.write.values()) / max(1, first),
        idle_rru=sum(run.idle.read.values()) / idle,
        idle_calls=sum(run.idle.calls.values()) / idle,
    )


def pass_ms(cpu_ms: float, calls: float, requests: float, a: PollAssumptions) -> float:
    """Modeled Lambda milliseconds: CPU scaled to the function's share of a vCPU, plus the
    DynamoDB calls' and carrier requests' waits, ``parallel`` at once.

    Example:
        >>> pass_ms(10, 4, 1, PollAssumptions(cpu_scale=2, rtt_ms=5, carrier_ms=380,
        ...                                    parallel=4, safety=1.0))
        120.0
    """
    waits = (calls * a.rtt_ms + requests * a.carrier_ms) / a.parallel
    return (cpu_ms * a.cpu_scale + waits) * a.safety


def monthly_checks(p: PollProfile, a: PollAssumptions) -> tuple[float, float]:
    """Checks a month of ``a.trackers`` live trackers that find nothing new, and with
    news (each tracker's first check, once in its life, among them)."""
    days = a.trackers * 30
    return days * p.quiet_per_day, days * (p.news_per_day + 1 / a.tracker_life_days)


def monthly_cost(p: PollProfile, prices: Prices, a: PollAssumptions) -> dict[str, float]:
    """Dollars a month for ``a.trackers`` live trackers, by service (the per-minute pass
    itself is in :func:`fixed_monthly`); not the carriers' API fees. The carriers'
    answers come in free (data transfer in); events a check stores are priced as ingest's
    (their storage is not here)."""
    lam, ddb = prices["lambda"], prices["dynamodb"]
    quiet, news = monthly_checks(p, a)
    checks = quiet + news
    adds = a.trackers * 30 / a.tracker_life_days
    seconds = checks * pass_ms(p.cpu_ms, p.ddb_calls, p.requests, a) / 1000
    item = p.tracker_bytes + a.item_overhead
    retired = adds * a.retention_days / 30 * item  # kept for the tenant's retention
    logs = checks * p.log_bytes * a.retention_days / 30
    table_gb = (a.trackers * item + retired + logs) / 1e9
    index_gb = a.trackers * 2 * a.index_entry_bytes / 1e9  # due and status entries
    writes = quiet * p.wru_quiet + news * p.wru_news + adds * p.add_wru
    return {
        "Lambda duration": seconds * a.memory_gb * lam["arm_gb_second"],
        "DynamoDB writes": writes * ddb["wru_per_million"] / 1e6,
        "DynamoDB reads": checks * p.rru * ddb["rru_per_million"] / 1e6,
        "DynamoDB storage + PITR": table_gb * (ddb["storage_gb_month"] + ddb["pitr_gb_month"])
        + index_gb * ddb["storage_gb_month"],
        "data transfer out (requests)": checks
        * p.requests
        * p.request_bytes
        / 1e9
        * prices["data_transfer"]["out_gb"],
    }


def fixed_monthly(p: PollProfile, prices: Prices, a: PollAssumptions) -> dict[str, float]:
    """Dollars a month for the pass every minute whatever the fleet: its invocations, an
    idle pass's duration and Queries, its log lines; the EventBridge rule schedule is
    free (infra/notify.py)."""
    lam, ddb, cw = prices["lambda"], prices["dynamodb"], prices["cloudwatch"]
    idle_ms = max(1.0, pass_ms(0.0, p.idle_calls, 0.0, a))
    logs_gb = a.passes_per_month * a.log_bytes_per_pass / 1e9
    return {
        "Lambda requests": a.passes_per_month * lam["per_million_requests"] / 1e6,
        "Lambda idle duration": a.passes_per_month
        * idle_ms
        / 1000
        * a.memory_gb
        * lam["arm_gb_second"],
        "idle Queries": a.passes_per_month * p.idle_rru * ddb["rru_per_million"] / 1e6,
        "CloudWatch Logs": logs_gb
        * (cw["logs_ingest_gb"] + cw["logs_store_gb_month"] * a.log_months),
        "EventBridge": 0.0,
    }


def cost_rows(p: PollProfile, a: PollAssumptions | None = None) -> list[Measure]:
    """Dollars a month per 1,000 live trackers, by service; per 1,000 shipments tracked;
    and the fixed pass every minute."""
    a = a or PollAssumptions()
    prices = load_prices()
    per = monthly_cost(p, prices, a)
    quiet, news = monthly_checks(p, a)
    total = sum(per.values())
    top = max(per, key=lambda k: per[k])
    label = f"$/{a.trackers:,.0f} trackers/month"
    wall_s = (quiet + news) * p.wall_ms / 1000
    at_wall = wall_s * a.memory_gb * prices["lambda"]["arm_gb_second"]
    notes = {
        "Lambda duration": f"{pass_ms(p.cpu_ms, p.ddb_calls, p.requests, a):.0f} ms a check "
        f"(carrier {a.carrier_ms:g} ms, {a.parallel:g} at once); at this machine's wall "
        f"time (loopback carrier, DynamoDB Local) ${at_wall:.2f}",
        "DynamoDB writes": f"{p.wru_quiet:.2f} WU quiet, {p.wru_news:.2f} with news",
        "data transfer out (requests)": "answers come in free",
    }
    rows = [Measure(COST, f"{label}: {k}", v, "$", None, notes.get(k, "")) for k, v in per.items()]
    note = (
        f"{(quiet + news) / a.trackers / 30:.1f} checks a tracker-day ({news / 30 / a.trackers:.1f}"
        f" with news); {top} {per[top] / max(total, 1e-12):.0%}; not the carriers' API fees"
    )
    rows.append(Measure(COST, f"{label}: total", total, "$", None, note))
    rows.append(
        Measure(
            COST,
            f"$ per {a.trackers:,.0f} shipments tracked",
            total * a.tracker_life_days / 30,
            "$",
            None,
            f"each polled {a.tracker_life_days:g} days",
        )
    )
    fixed = fixed_monthly(p, prices, a)
    parts = ", ".join(f"{k} ${v:.3f}" for k, v in fixed.items())
    rows.append(
        Measure(COST, "$/month fixed: a pass a minute", sum(fixed.values()), "$", None, parts)
    )
    return rows


def measure() -> list[Measure]:
    """Simulate, then the rows (the poller's warnings about the loopback world dropped)."""
    quiet = logging.getLogger("gateway")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            run, fleet = simulate()
    finally:
        quiet.setLevel(level)
    return rows(run, fleet)


def main() -> None:
    """Print the rows."""
    print_rows(measure())


if __name__ == "__main__":
    main()
