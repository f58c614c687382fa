"""The daily hard cap's counter against Amazon DynamoDB Local: atomic, enforced, cheap."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from gateway.errors import ThrottledError
from gateway.store.capacity import CapacityMeter
from gateway.tenancy.limits import HardCap, counter_key
from gateway.tenancy.plans import Plan, day_window

pytestmark = pytest.mark.integration

SHARDS = 4


def plan(hard_cap: int) -> Plan:
    return Plan(rate=1000, burst=10, quota=hard_cap, quota_period="day", hard_cap=hard_cap)


class Clock:
    """Real time (DynamoDB Local's TTL sweeper really deletes expired counters) frozen."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def stored_total(client: Any, table: str, tenant: str, day: str) -> tuple[int, int]:
    """The day's total over the shards, and how many shard items exist."""
    keys = [counter_key(tenant, day, shard) for shard in range(SHARDS)]
    response = client.batch_get_item(RequestItems={table: {"Keys": keys, "ConsistentRead": True}})
    items = response["Responses"][table]
    return sum(int(item["n"]["N"]) for item in items), len(items)


def test_concurrent_increments_from_threads_and_processes_are_not_lost(
    client: Any, table: str
) -> None:
    tiers = {"acme": plan(1_000_000)}.get
    processes = [HardCap(client, table, tiers, flush_every=7, shards=SHARDS) for _ in range(2)]
    per_thread, threads_per_process = 150, 4
    start = threading.Barrier(len(processes) * threads_per_process)

    def work(cap: HardCap) -> None:
        start.wait()
        for _ in range(per_thread):
            cap.admit("acme")

    threads = [
        threading.Thread(target=work, args=(cap,))
        for cap in processes
        for _ in range(threads_per_process)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for cap in processes:
        cap.flush()
    total, shard_items = stored_total(client, table, "acme", day_window(time.time())[0])
    assert total == len(threads) * per_thread  # 1200: every ADD applied, none lost
    assert shard_items > 1  # the flushes spread over the shards


def test_the_cap_is_enforced_then_lifts_at_the_next_utc_day(client: Any, table: str) -> None:
    clock = Clock()
    tiers = {"acme": plan(100), "globex": plan(100)}.get
    cap = HardCap(client, table, tiers, flush_every=10, shards=SHARDS, clock=clock)
    for _ in range(100):
        cap.admit("acme")
    with pytest.raises(ThrottledError) as caught:
        cap.admit("acme")
    day, ends = day_window(clock.now)
    assert caught.value.code == "hard_cap_reached"
    assert caught.value.retry_after == max(1, int(ends - clock.now + 0.999))
    assert stored_total(client, table, "acme", day)[0] == 100  # flushed, visible to others
    cap.admit("globex")  # another tenant is not affected

    cold = HardCap(client, table, tiers, flush_every=10, shards=SHARDS, clock=clock)
    with pytest.raises(ThrottledError):
        cold.admit("acme")  # a fresh process (a new Lambda container) reads the total

    clock.now = ends  # 00:00:00 UTC
    cap.admit("acme")
    cold.admit("acme")


def test_drift_across_processes_is_bounded_by_their_unflushed_counts(
    client: Any, table: str
) -> None:
    clock, flush_every, hard_cap = Clock(), 10, 100
    tiers = {"acme": plan(hard_cap)}.get
    processes = [
        HardCap(client, table, tiers, flush_every=flush_every, cache_seconds=0, clock=clock)
        for _ in range(3)
    ]
    admitted = 0
    for n in range(300):  # round robin, as a load balancer spreads requests
        try:
            processes[n % 3].admit("acme")
        except ThrottledError:
            continue
        admitted += 1
    assert hard_cap <= admitted <= hard_cap + len(processes) * (flush_every - 1)
    for cap in processes:
        cap.flush()
    assert stored_total(client, table, "acme", day_window(clock.now)[0])[0] == admitted


def test_write_units_per_n_requests(client: Any, table: str, capsys: Any) -> None:
    requests, flush_every, clock = 1_000, 50, Clock()
    meter = CapacityMeter()
    tiers = {"acme": plan(1_000_000)}.get
    cap = HardCap(client, table, tiers, flush_every=flush_every, clock=clock, meter=meter)
    for _ in range(requests):  # 20 requests a second for 50 s: the total is read 10 times
        cap.admit("acme")
        clock.now += 0.05
    cap.flush()
    assert 0 < meter.write_units <= requests / flush_every + SHARDS
    with capsys.disabled():
        print(
            f"\nhard cap counter: {requests} requests -> {meter.write_units:g} write units, "
            f"{meter.read_units:g} read units (flush every {flush_every}, {SHARDS} shards)"
        )
