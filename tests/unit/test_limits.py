"""The usage counters' decisions without storage: which limit refuses, when it lifts, and
which requests are counted at all.

Counting itself (flushes, windows, failures, atomic ADDs under threads, measured write
units) runs on DynamoDB Local: ``tests/integration/test_hard_cap_dynamodb_local.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from gateway.tenancy.limits import UsageLimits, _Window, keyed_tenant
from gateway.tenancy.plans import Plan, day_window, month_window

START = datetime(2026, 11, 22, 23, 59, 0, tzinfo=UTC).timestamp()  # a minute to midnight


class Untouchable:
    """A client that must not be called: nothing is counted, so nothing is stored."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"DynamoDB called ({name}) for a request that counts nothing")


def window(day_total: int, month_total: int, now: float = START) -> _Window:
    day, day_ends = day_window(now)
    month, month_ends = month_window(now)
    found = _Window(day, day_ends, month, month_ends)
    found.days, found.months = {0: day_total}, {0: month_total}
    return found


DAILY = Plan(rate=100, burst=10, quota=10, quota_period="day", hard_cap=20)
MONTHLY = Plan(rate=100, burst=10, quota=100, quota_period="month", hard_cap=20)


@pytest.mark.parametrize(
    ("plan", "day_total", "month_total", "code", "retry_after"),
    [
        (DAILY, 9, 9, None, None),
        (DAILY, 10, 10, "quota_exceeded", 60),  # a daily quota lifts at midnight
        (MONTHLY, 19, 99, None, None),
        (MONTHLY, 20, 50, "hard_cap_reached", 60),  # the day's cap, whatever the month
        (MONTHLY, 5, 100, "quota_exceeded", 8 * 86_400 + 60),  # the month ends Dec 1st
        (DAILY, 20, 20, "hard_cap_reached", 60),  # the cap is named before the quota
    ],
)
def test_the_window_refuses_at_the_quota_of_its_period_and_the_days_hard_cap(
    plan: Plan, day_total: int, month_total: int, code: str | None, retry_after: int | None
) -> None:
    refused = window(day_total, month_total).refusal(plan, START)
    assert (refused and (refused.code, refused.retry_after)) == (
        (code, retry_after) if code else None
    )


def test_unknown_tenants_and_requests_without_a_tenant_are_not_counted() -> None:
    counter = UsageLimits(Untouchable(), "t", {"acme": DAILY}.get, clock=lambda: START)
    counter.admit("nobody")
    counter.admit(None)
    counter.flush()


@pytest.mark.parametrize(
    ("event", "tenant"),
    [
        ({"requestContext": {"authorizer": {"tenant": "acme"}}}, "acme"),
        ({"pathParameters": {"tenant": "acme", "carrier": "ups"}}, None),  # verified later
        ({"requestContext": {"authorizer": {"tenant": "a"}},
          "pathParameters": {"tenant": "b"}}, "a"),
        ({"requestContext": {"authorizer": None}, "pathParameters": None}, None),
        ({"pathParameters": {"tracking_number": "1Z"}}, None),
        ({"requestContext": {"authorizer": {"tenant": 7}}}, None),
    ],
)  # fmt: skip
def test_only_a_keyed_tenant_is_counted_before_the_handler(
    event: dict[str, Any], tenant: str | None
) -> None:
    assert keyed_tenant(event) == tenant
