"""The local edge's throttle: token buckets (rate and burst), on a fake clock.

The quota and the hard cap are not the edge's: ``UsageLimits`` counts them
(``tests/unit/test_limits.py``; locally on DynamoDB Local,
``tests/functional/test_edge_throttling.py``)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.errors import ThrottledError
from gateway.local.throttle import EdgeThrottle
from gateway.tenancy.plans import Plan, month_window

START = datetime(2026, 11, 22, 10, 0, tzinfo=UTC).timestamp()


class Clock:
    """A clock that only moves when told to."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def plan(**overrides: object) -> Plan:
    values: dict[str, object] = {
        "rate": 2,
        "burst": 5,
        "quota": 1_000,
        "quota_period": "day",
        "hard_cap": 2_000,
    }
    return Plan.model_validate(values | overrides)


def throttle(clock: Clock, **plans: Plan) -> EdgeThrottle:
    return EdgeThrottle(plans.get, clock=clock)


def refused(throttle: EdgeThrottle, tenant: str) -> ThrottledError:
    with pytest.raises(ThrottledError) as caught:
        throttle.admit(tenant)
    assert caught.value.status == 429
    return caught.value


def admit_n(throttle: EdgeThrottle, tenant: str, n: int) -> None:
    for _ in range(n):
        throttle.admit(tenant)


def test_burst_then_429_then_refill() -> None:
    clock = Clock()
    edge = throttle(clock, acme=plan(rate=2, burst=5))
    admit_n(edge, "acme", 5)  # the whole burst at one instant
    error = refused(edge, "acme")
    assert (error.code, error.retry_after) == ("rate_limited", 1)  # 1 token / 2 per s = 0.5 s
    assert "rate limit of 2/s (burst 5)" in error.message
    clock.advance(0.5)  # one token back
    edge.admit("acme")
    refused(edge, "acme")
    clock.advance(10)  # long quiet: the bucket refills to burst, never beyond
    admit_n(edge, "acme", 5)
    refused(edge, "acme")


def test_refused_requests_consume_nothing() -> None:
    clock = Clock()
    edge = throttle(clock, acme=plan(rate=1, burst=1))
    edge.admit("acme")
    for _ in range(50):
        refused(edge, "acme")
    clock.advance(1)
    edge.admit("acme")  # fifty refusals did not push the refill further away


def test_retry_after_for_a_slow_rate_is_the_wait_for_one_token() -> None:
    clock = Clock()
    edge = throttle(clock, acme=plan(rate=0.1, burst=1))
    edge.admit("acme")
    assert refused(edge, "acme").retry_after == 10
    clock.advance(7.5)
    assert refused(edge, "acme").retry_after == 3  # 2.5 s left, rounded up
    clock.advance(2.5)
    edge.admit("acme")


def test_the_quota_and_the_hard_cap_are_not_counted_at_the_edge() -> None:
    clock = Clock()
    edge = throttle(clock, acme=plan(rate=1000, burst=10, quota=10, hard_cap=10))
    for _ in range(5):  # 50 requests: far past the quota and cap, never refused for them
        admit_n(edge, "acme", 10)
        clock.advance(1)
    assert edge.admit_route("acme") is None


def test_the_keys_bucket_and_the_routes_bucket_are_apart() -> None:
    clock = Clock()
    edge = throttle(clock, acme=plan(rate=1, burst=2))
    for _ in range(2):
        edge.admit_route("acme")
    with pytest.raises(ThrottledError, match="rate limit"):
        edge.admit_route("acme")
    admit_n(edge, "acme", 2)  # the route's flood left the key's bucket full
    assert refused(edge, "acme").code == "rate_limited"


def test_tenants_are_independent() -> None:
    clock = Clock()
    edge = throttle(clock, acme=plan(rate=1, burst=2), globex=plan(rate=1, burst=2))
    admit_n(edge, "acme", 2)
    refused(edge, "acme")
    admit_n(edge, "globex", 2)  # acme's empty bucket is not globex's
    refused(edge, "globex")


def test_an_unknown_tenant_is_admitted_and_not_remembered() -> None:
    edge = throttle(Clock(), acme=plan())
    for n in range(100):
        edge.admit(f"made-up-{n}")
        edge.admit_route(f"made-up-{n}")
    assert edge._buckets == {}


def test_a_plan_change_takes_effect_at_once_and_clamps_the_bucket() -> None:
    clock = Clock()
    tiers = {"acme": plan(rate=1, burst=10)}
    edge = EdgeThrottle(tiers.get, clock=clock)
    edge.admit("acme")
    tiers["acme"] = plan(rate=1, burst=2)
    admit_n(edge, "acme", 2)  # 9 tokens left, clamped to the new burst of 2
    refused(edge, "acme")


def test_a_clock_stepping_back_refills_nothing() -> None:
    clock = Clock()
    edge = throttle(clock, acme=plan(rate=1, burst=1))
    edge.admit("acme")
    clock.advance(-30)
    refused(edge, "acme")
    clock.advance(30)
    refused(edge, "acme")  # the step back did not bank 30 s of tokens
    clock.advance(1)
    edge.admit("acme")


@pytest.mark.parametrize(
    ("when", "window", "ends"),
    [
        (datetime(2026, 1, 31, 23, 59, 59, tzinfo=UTC), "2026-01", datetime(2026, 2, 1)),
        (datetime(2028, 2, 29, 12, tzinfo=UTC), "2028-02", datetime(2028, 3, 1)),
        (datetime(2026, 12, 1, tzinfo=UTC), "2026-12", datetime(2027, 1, 1)),
    ],
)
def test_month_windows_are_utc_calendar_months(when: datetime, window: str, ends: datetime) -> None:
    assert month_window(when.timestamp()) == (window, ends.replace(tzinfo=UTC).timestamp())
