"""The local edge's throttle: what API Gateway usage plans (and the hard cap) do on AWS.

Per tenant, in this order: the daily hard cap, the quota of the plan's period (UTC day
or calendar month), then a token bucket (``rate`` tokens a second, ``burst`` at most).
A refused request consumes nothing. State is kept for known tenants only, so a flood of
made-up tenant ids in webhook paths costs no memory (the handler answers them 404).

Example:
    >>> from gateway.plans import Plan
    >>> plan = Plan(rate=1, burst=2, quota=100, quota_period="day", hard_cap=200)
    >>> now = [0.0]
    >>> throttle = EdgeThrottle({"acme": plan}.get, clock=lambda: now[0])
    >>> throttle.admit("acme"), throttle.admit("acme")
    (None, None)
    >>> throttle.admit("acme")
    Traceback (most recent call last):
    ...
    gateway.errors.ThrottledError: rate limit of 1/s (burst 2) exceeded
    >>> now[0] += 1.0; throttle.admit("acme")  # one token refilled
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from gateway.errors import ThrottledError
from gateway.plans import Plan, day_window, month_window, retry_after


@dataclass
class _Usage:
    """One tenant's bucket and counters; windows are reset when their key changes."""

    tokens: float
    refilled_at: float
    quota_window: str = ""
    quota_used: int = 0
    cap_window: str = ""
    cap_used: int = 0


class EdgeThrottle:
    """Token bucket, quota and hard cap per tenant, with an injectable clock.

    ``plan_of(tenant)`` gives the tenant's plan (None: unknown, not throttled here).
    ``admit(tenant)`` returns None or raises :class:`ThrottledError` whose ``code`` names
    the limit hit (``rate_limited``, ``quota_exceeded``, ``hard_cap_reached``) and whose
    ``retry_after`` says when it lifts.
    """

    def __init__(
        self, plan_of: Callable[[str], Plan | None], *, clock: Callable[[], float] = time.time
    ) -> None:
        self.plan_of = plan_of
        self.clock = clock
        self._usage: dict[str, _Usage] = {}
        self._lock = threading.Lock()

    def admit(self, tenant: str) -> None:
        """Count one request of ``tenant`` or refuse it (see the class)."""
        plan = self.plan_of(tenant)
        if plan is None:
            return
        now = self.clock()
        with self._lock:
            usage = self._usage.setdefault(tenant, _Usage(float(plan.burst), now))
            self._check(usage, plan, now)
            usage.tokens -= 1
            usage.quota_used += 1
            usage.cap_used += 1

    def _check(self, usage: _Usage, plan: Plan, now: float) -> None:
        """Roll the windows and refill the bucket; raise for the first limit hit."""
        day, day_end = day_window(now)
        if usage.cap_window != day:
            usage.cap_window, usage.cap_used = day, 0
        if usage.cap_used >= plan.hard_cap:
            raise ThrottledError(
                f"daily hard cap of {plan.hard_cap} requests reached",
                code="hard_cap_reached",
                retry_after=retry_after(day_end - now),
            )
        window, window_end = (day, day_end) if plan.quota_period == "day" else month_window(now)
        if usage.quota_window != window:
            usage.quota_window, usage.quota_used = window, 0
        if usage.quota_used >= plan.quota:
            raise ThrottledError(
                f"quota of {plan.quota} requests per {plan.quota_period} exceeded",
                code="quota_exceeded",
                retry_after=retry_after(window_end - now),
            )
        elapsed = max(0.0, now - usage.refilled_at)  # a clock stepping back refills nothing
        usage.tokens = min(float(plan.burst), usage.tokens + elapsed * plan.rate)
        usage.refilled_at = max(usage.refilled_at, now)
        if usage.tokens < 1:
            raise ThrottledError(
                f"rate limit of {plan.rate:g}/s (burst {plan.burst}) exceeded",
                code="rate_limited",
                retry_after=retry_after((1 - usage.tokens) / plan.rate),
            )
