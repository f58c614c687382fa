"""The local edge's throttle: what API Gateway's rate and burst do on AWS.

A token bucket per tenant and door (``rate`` tokens a second, ``burst`` at most): the
``/v1`` key's bucket, and the webhook route's own bucket in front of the signature check
(see :class:`EdgeThrottle`). A refused request takes no token. The quota and the daily
hard cap are not counted here: :class:`~gateway.tenancy.limits.UsageLimits` counts them
in DynamoDB Local, as it does on AWS (:mod:`gateway.local.wiring`). State is kept for
known tenants only, so a flood of made-up tenant ids in webhook paths costs no memory
(the handler answers them 404).

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
from gateway.tenancy.plans import Plan, retry_after


@dataclass
class _Bucket:
    """A token bucket: ``rate`` tokens a second, ``burst`` at most."""

    tokens: float
    refilled_at: float


class EdgeThrottle:
    """Token buckets per tenant, with an injectable clock.

    ``plan_of(tenant)`` gives the tenant's plan (None: unknown, not throttled here). Two
    doors, each raising :class:`ThrottledError` (``rate_limited``, with the wait for one
    token as ``retry_after``):

    - :meth:`admit`: a ``/v1`` request whose API key resolved to the tenant: the key's
      bucket (then :class:`~gateway.tenancy.limits.UsageLimits` counts it, see
      :func:`gateway.local.wiring.keyed_admission`);
    - :meth:`admit_route`: a request that only *names* the tenant in its path (a webhook,
      before its signature is checked): the route's own bucket, so a stranger can slow
      the route but never spend the tenant's ``/v1`` rate (nor its quota: only a verified
      delivery is counted, by ingest).
    """

    def __init__(
        self, plan_of: Callable[[str], Plan | None], *, clock: Callable[[], float] = time.time
    ) -> None:
        self.plan_of = plan_of
        self.clock = clock
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._lock = threading.Lock()

    def admit(self, tenant: str) -> None:
        """Take a token from the bucket of ``tenant``'s API key, or refuse the request."""
        self._admit(tenant, "key")

    def admit_route(self, tenant: str) -> None:
        """Let one request to ``tenant``'s webhook route through its bucket, or refuse it.

        A tenant whose file is broken has no bucket: the handler answers its route as no
        route (404) and logs why, as it does for an unknown tenant.
        """
        try:
            self._admit(tenant, "route")
        except TenantUnavailableError:
            return

    def _admit(self, tenant: str, door: str) -> None:
        plan = self.plan_of(tenant)
        if plan is None:
            return
        now = self.clock()
        with self._lock:
            bucket = self._buckets.setdefault((door, tenant), _Bucket(plan.burst, now))
            _check_bucket(bucket, plan, now)
            bucket.tokens -= 1


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
