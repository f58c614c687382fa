"""The local edge's throttle: what API Gateway usage plans (and the hard cap) do on AWS.

Per tenant, in this order: the daily hard cap, the quota of the plan's period (UTC day
or calendar month), then a token bucket (``rate`` tokens a second, ``burst`` at most).
Only authenticated requests count against the quota and the hard cap: ``/v1`` requests
with a resolved API key, and webhook deliveries once ingest has verified them; a webhook
route has a bucket of its own in front of the signature check (see :class:`EdgeThrottle`).
A refused request consumes nothing. State is kept for known tenants only, so a flood of
made-up tenant ids in webhook paths costs no memory (the handler answers them 404).

Example:
    >>> from gateway.tenancy.plans import Plan
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
from gateway.tenancy.directory import TenantUnavailableError
from gateway.tenancy.plans import Plan, day_window, month_window, retry_after


@dataclass
class _Bucket:
    """A token bucket: ``rate`` tokens a second, ``burst`` at most."""

    tokens: float
    refilled_at: float


@dataclass
class _Counts:
    """One tenant's quota and hard-cap counters; a window resets when its key changes."""

    quota_window: str = ""
    quota_used: int = 0
    cap_window: str = ""
    cap_used: int = 0


class EdgeThrottle:
    """Token buckets, quota and hard cap per tenant, with an injectable clock.

    ``plan_of(tenant)`` gives the tenant's plan (None: unknown, not throttled here). Three
    doors, each raising :class:`ThrottledError` whose ``code`` names the limit hit
    (``rate_limited``, ``quota_exceeded``, ``hard_cap_reached``) and whose ``retry_after``
    says when it lifts:

    - :meth:`admit`: a ``/v1`` request whose API key resolved to the tenant: the key's
      bucket, the quota and the hard cap;
    - :meth:`admit_route`: a request that only *names* the tenant in its path (a webhook,
      before its signature is checked): the route's own bucket, nothing else, so a
      stranger can slow the route but never spend the tenant's quota, day or ``/v1`` rate;
    - :meth:`admit_verified`: a webhook delivery whose signature ingest verified: the
      quota and the hard cap.
    """

    def __init__(
        self, plan_of: Callable[[str], Plan | None], *, clock: Callable[[], float] = time.time
    ) -> None:
        self.plan_of = plan_of
        self.clock = clock
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._counts: dict[str, _Counts] = {}
        self._lock = threading.Lock()

    def admit(self, tenant: str) -> None:
        """Count one authenticated ``/v1`` request of ``tenant`` or refuse it."""
        self._admit(tenant, bucket="key", counted=True)

    def admit_route(self, tenant: str) -> None:
        """Let one request to ``tenant``'s webhook route through its bucket, or refuse it.

        A tenant whose file is broken has no bucket: the handler answers its route as no
        route (404) and logs why, as it does for an unknown tenant.
        """
        try:
            self._admit(tenant, bucket="route", counted=False)
        except TenantUnavailableError:
            return

    def admit_verified(self, tenant: str) -> None:
        """Count one verified delivery of ``tenant`` against its quota and hard cap."""
        self._admit(tenant, bucket=None, counted=True)

    def _admit(self, tenant: str, *, bucket: str | None, counted: bool) -> None:
        plan = self.plan_of(tenant)
        if plan is None:
            return
        now = self.clock()
        with self._lock:
            counts = self._counts.setdefault(tenant, _Counts()) if counted else None
            tokens = None
            if bucket is not None:
                tokens = self._buckets.setdefault((bucket, tenant), _Bucket(plan.burst, now))
            if counts is not None:
                _check_counts(counts, plan, now)
            if tokens is not None:
                _check_bucket(tokens, plan, now)
                tokens.tokens -= 1
            if counts is not None:
                counts.quota_used += 1
                counts.cap_used += 1


def _check_counts(counts: _Counts, plan: Plan, now: float) -> None:
    """Roll the windows; raise when the hard cap or the quota is reached."""
    day, day_end = day_window(now)
    if counts.cap_window != day:
        counts.cap_window, counts.cap_used = day, 0
    if counts.cap_used >= plan.hard_cap:
        raise ThrottledError(
            f"daily hard cap of {plan.hard_cap} requests reached",
            code="hard_cap_reached",
            retry_after=retry_after(day_end - now),
        )
    window, window_end = (day, day_end) if plan.quota_period == "day" else month_window(now)
    if counts.quota_window != window:
        counts.quota_window, counts.quota_used = window, 0
    if counts.quota_used >= plan.quota:
        raise ThrottledError(
            f"quota of {plan.quota} requests per {plan.quota_period} exceeded",
            code="quota_exceeded",
            retry_after=retry_after(window_end - now),
        )


def _check_bucket(bucket: _Bucket, plan: Plan, now: float) -> None:
    """Refill the bucket; raise when it holds less than one token."""
    elapsed = max(0.0, now - bucket.refilled_at)  # a clock stepping back refills nothing
    bucket.tokens = min(float(plan.burst), bucket.tokens + elapsed * plan.rate)
    bucket.refilled_at = max(bucket.refilled_at, now)
    if bucket.tokens < 1:
        raise ThrottledError(
            f"rate limit of {plan.rate:g}/s (burst {plan.burst}) exceeded",
            code="rate_limited",
            retry_after=retry_after((1 - bucket.tokens) / plan.rate),
        )
