"""The quota and hard cap counters against Amazon DynamoDB Local: atomic, enforced, cheap,
failing open; windows of a day and a month in one item per shard."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from gateway.errors import ThrottledError
from gateway.store.capacity import CapacityMeter
from gateway.tenancy.limits import MONTH, UsageLimits, counter_key, day_attribute
from gateway.tenancy.plans import Plan, day_window, month_window

pytestmark = pytest.mark.integration

SHARDS = 4


def plan(hard_cap: int) -> Plan:
    """A daily quota as large as the hard cap (the quota is then what refuses)."""
    return Plan(rate=1000, burst=10, quota=hard_cap, quota_period="day", hard_cap=hard_cap)


class Clock:
    """Real time (DynamoDB Local's TTL sweeper really deletes expired counters) frozen."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def stored_total(client: Any, table: str, tenant: str, day: str) -> tuple[int, int]:
    """The day's total over the shards, and how many shard items exist."""
    keys = [counter_key(tenant, day[:7], shard) for shard in range(SHARDS)]
    response = client.batch_get_item(RequestItems={table: {"Keys": keys, "ConsistentRead": True}})
    items = response["Responses"][table]
    attribute = day_attribute(day)
    return sum(int(item.get(attribute, {"N": "0"})["N"]) for item in items), len(items)


def stored_month(client: Any, table: str, tenant: str, month: str) -> int:
    keys = [counter_key(tenant, month, shard) for shard in range(SHARDS)]
    response = client.batch_get_item(RequestItems={table: {"Keys": keys, "ConsistentRead": True}})
    return sum(int(item[MONTH]["N"]) for item in response["Responses"][table])


class Faulty:
    """The real client, failing on demand (an outage) or leaving keys unprocessed once."""

    def __init__(self, client: Any) -> None:
        self.client, self.fail, self.unprocessed_once = client, False, False
        self.writes = self.reads = 0

    def update_item(self, **request: Any) -> Any:
        if self.fail:
            raise ClientError({"Error": {"Code": "InternalServerError"}}, "UpdateItem")
        self.writes += 1
        return self.client.update_item(**request)

    def batch_get_item(self, RequestItems: dict[str, Any], **rest: Any) -> Any:
        if self.fail:
            raise ClientError({"Error": {"Code": "InternalServerError"}}, "BatchGetItem")
        self.reads += 1
        ((table, request),) = RequestItems.items()
        if not self.unprocessed_once:
            return self.client.batch_get_item(RequestItems=RequestItems, **rest)
        self.unprocessed_once = False
        first, later = request["Keys"][:1], request["Keys"][1:]
        answer = self.client.batch_get_item(RequestItems={table: {**request, "Keys": first}})
        answer["UnprocessedKeys"] = {table: {**request, "Keys": later}}
        return answer


def fresh_tenant() -> str:
    return f"t{time.time_ns()}"


def test_counts_are_flushed_every_n_requests_or_after_flush_seconds(
    client: Any, table: str
) -> None:
    clock, tenant = Clock(), fresh_tenant()
    faulty = Faulty(client)
    counter = UsageLimits(
        faulty, table, {tenant: plan(1000)}.get, flush_every=4, flush_seconds=10, clock=clock
    )
    for _ in range(8):
        counter.admit(tenant)
    assert faulty.writes == 2 and faulty.reads == 1  # cached: one read for the first request
    counter.admit(tenant)
    clock.now += 10
    counter.admit(tenant)  # a quiet tenant's count is written once it is 10 s old
    assert faulty.writes == 3
    assert stored_total(client, table, tenant, day_window(clock.now)[0])[0] == 10


def test_dynamodb_errors_fail_open_and_lose_no_count(client: Any, table: str) -> None:
    clock, tenant = Clock(), fresh_tenant()
    faulty = Faulty(client)
    counter = UsageLimits(faulty, table, {tenant: plan(1000)}.get, flush_every=2, clock=clock)
    faulty.fail = True
    for _ in range(5):
        counter.admit(tenant)  # admitted: the counter is a safety net, not a single point
    faulty.fail = False
    counter.flush()
    assert stored_total(client, table, tenant, day_window(clock.now)[0])[0] == 5


def test_unprocessed_keys_are_read_again(client: Any, table: str) -> None:
    clock, tenant = Clock(), fresh_tenant()
    others = UsageLimits(client, table, {tenant: plan(10)}.get, flush_every=2, clock=clock)
    for _ in range(8):
        others.admit(tenant)
    faulty = Faulty(client)
    faulty.unprocessed_once = True
    counter = UsageLimits(faulty, table, {tenant: plan(10)}.get, clock=clock)
    counter.admit(tenant)
    counter.admit(tenant)
    with pytest.raises(ThrottledError):
        counter.admit(tenant)
    assert faulty.reads == 2


def test_a_monthly_quota_counts_every_day_of_the_month_and_lifts_with_the_next(
    client: Any, table: str
) -> None:
    """Standard and pro tiers have a monthly quota: the month's total refuses, not the day's."""
    clock, tenant = Clock(), fresh_tenant()
    monthly = Plan(rate=1000, burst=10, quota=30, quota_period="month", hard_cap=20)
    month, month_ends = month_window(clock.now)
    clock.now = month_ends - 3 * 86_400 + 1  # three days before the month ends
    counter = UsageLimits(client, table, {tenant: monthly}.get, flush_every=5, clock=clock)
    for _ in range(15):
        counter.admit(tenant)
    clock.now += 86_400  # the next day: the day is fresh, the month is not
    for _ in range(15):
        counter.admit(tenant)
    with pytest.raises(ThrottledError) as caught:
        counter.admit(tenant)
    assert caught.value.code == "quota_exceeded"
    assert caught.value.retry_after == max(1, int(month_ends - clock.now + 0.999))
    month = month_window(clock.now)[0]
    assert stored_month(client, table, tenant, month) == 30
    cold = UsageLimits(client, table, {tenant: monthly}.get, clock=clock)
    with pytest.raises(ThrottledError, match="quota"):
        cold.admit(tenant)  # a fresh container reads the month's total
    clock.now = month_ends
    counter.admit(tenant)
    cold.admit(tenant)


def test_concurrent_increments_from_threads_and_processes_are_not_lost(
    client: Any, table: str
) -> None:
    tiers = {"acme": plan(1_000_000)}.get
    processes = [UsageLimits(client, table, tiers, flush_every=7, shards=SHARDS) for _ in range(2)]
    per_thread, threads_per_process = 150, 4
    start = threading.Barrier(len(processes) * threads_per_process)

    def work(cap: UsageLimits) -> None:
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
    cap = UsageLimits(client, table, tiers, flush_every=10, shards=SHARDS, clock=clock)
    for _ in range(100):
        cap.admit("acme")
    with pytest.raises(ThrottledError) as caught:
        cap.admit("acme")
    day, ends = day_window(clock.now)
    assert caught.value.code == "hard_cap_reached"  # named first when both are reached
    assert caught.value.retry_after == max(1, int(ends - clock.now + 0.999))
    assert stored_total(client, table, "acme", day)[0] == 100  # flushed, visible to others
    cap.admit("globex")  # another tenant is not affected

    cold = UsageLimits(client, table, tiers, flush_every=10, shards=SHARDS, clock=clock)
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
        UsageLimits(client, table, tiers, flush_every=flush_every, cache_seconds=0, clock=clock)
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
    cap = UsageLimits(client, table, tiers, flush_every=flush_every, clock=clock, meter=meter)
    for _ in range(requests):  # 20 requests a second for 50 s: the total is read 10 times
        cap.admit("acme")
        clock.now += 0.05
    cap.flush()
    assert 0 < meter.write_units <= requests / flush_every + SHARDS
    with capsys.disabled():
        print(
            f"\nusage counter: {requests} requests -> {meter.write_units:g} write units, "
            f"{meter.read_units:g} read units (flush every {flush_every}, {SHARDS} shards)"
        )
