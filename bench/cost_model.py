"""Modeled AWS cost per million webhook deliveries, by service, and per tenant.

Run: ``.venv/bin/python -m bench.cost_model``. Measures each request kind through the
real handler on DynamoDB Local (:mod:`bench.ingest_profile`) and the authorizer in
process, prices them with ``bench/prices.toml`` (us-west-2, on-demand, 2026-11) under
the stated :class:`~bench.pricing.Assumptions`, then prints:

- ``cost``: dollars per 1M webhook deliveries of :data:`MIX`, one row per service, and
  the total (target $5.00); a "webhook event" is one delivery, whatever it carries;
- ``cost_inputs``: per request kind, the modeled Lambda milliseconds and what was measured;
- ``cost_tenant``: three sample tenants' monthly cost and share (:data:`TENANTS`).
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass

from bench.pricing import (
    Assumptions,
    Prices,
    Profile,
    billed_ms,
    fixed_monthly,
    load_prices,
    mix_cost,
    request_cost,
)
from bench.report import Measure, print_rows

# Per webhook delivery: ~10 scans a shipment (docs/limits.md), so 1 in 10 deliveries with
# a new event starts a shipment; ~4 status changes in a life; carriers retry ~1 in 7;
# full-history carriers resend with nothing new (ETA or metadata updates) ~1 in 7.
MIX = {"first": 0.08, "new": 0.30, "change": 0.22, "one_event": 0.10, "resend": 0.15}
MIX |= {"retry": 0.14, "parked": 0.01}
TARGET = 5.0  # dollars per million webhook deliveries
LAMBDA_LOG_PREFIX = len("[INFO]\t2026-11-22T12:00:00.000Z\t" + "0" * 36 + "\t")


@dataclass(frozen=True)
class Tenant:
    """A sample tenant: its monthly webhooks (with their mix) and its /v1 reads."""

    name: str
    webhooks: float
    mix: Mapping[str, float]
    reads: Mapping[str, float]  # GETs a month per read kind


TENANTS = (
    Tenant("shopfast: AfterShip, full history", 20e6,
           {"first": 0.08, "new": 0.35, "change": 0.25, "resend": 0.20, "retry": 0.11,
            "parked": 0.01}, {"get_shipment": 1e6}),
    Tenant("parcelly: EasyPost, one event each", 5e6,
           {"first": 0.10, "one_event": 0.55, "change": 0.25, "retry": 0.10},
           {"get_shipment": 0.2e6}),
    Tenant("pollco: polls GET /v1", 2e6, MIX,
           {"get_shipment": 18e6, "get_events": 9e6, "search": 3e6}),
)  # fmt: skip


def authorizer_profile(rounds: int = 2000) -> Profile:
    """The authorizer's CPU and log bytes per webhook request, in process (no I/O: TTL 0,
    the tenant from the path, the plan key from its 300 s cache)."""
    from gateway.aws.authorizer import logger, make_authorizer
    from gateway.tenancy.directory import TenantDirectory
    from gateway.testkit.harness import TENANTS_DIR

    authorize = make_authorizer(
        tenants=TenantDirectory(TENANTS_DIR), api_keys=lambda _: None, plan_keys=lambda _: "k"
    )
    arn = "arn:aws:execute-api:us-west-2:123456789012:abc123/prod/POST/webhooks/acme/easypost"
    event: dict[str, object] = {"type": "REQUEST", "methodArn": arn}
    event |= {"resource": "/webhooks/{tenant}/{carrier}"}
    event |= {"pathParameters": {"tenant": "acme", "carrier": "easypost"}}
    lines = io.StringIO()
    handler = logging.StreamHandler(lines)
    level, propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        authorize(event, None)  # warm the tenant cache
        cpu = time.process_time()
        for _ in range(rounds):
            authorize(event, None)
        cpu_ms = (time.process_time() - cpu) * 1000 / rounds
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate
    logged = len(lines.getvalue().encode()) / (rounds + 1) + LAMBDA_LOG_PREFIX
    return Profile(0, 0, 0, cpu_ms=cpu_ms, wall_ms=cpu_ms, log_bytes=logged, response_bytes=0,
                   accepted=0)  # fmt: skip


def tenant_month(
    tenant: Tenant, costs: Mapping[str, Mapping[str, float]], fixed_per_request: float
) -> tuple[float, float]:
    """A tenant's monthly dollars: (webhooks, reads), fixed costs shared per request."""
    hooks = tenant.webhooks * (sum(mix_cost(tenant.mix, costs).values()) + fixed_per_request)
    reads = sum(n * (sum(costs[k].values()) + fixed_per_request) for k, n in tenant.reads.items())
    return hooks, reads


def rows(
    profiles: Mapping[str, Profile],
    stored: Mapping[str, float],
    auth: Profile,
    prices: Prices,
    a: Assumptions,
) -> list[Measure]:
    """Every row of the model, from measured profiles."""
    costs = {k: request_cost(k, p, stored, auth, prices, a) for k, p in profiles.items()}
    per_million = {s: v * 1e6 for s, v in mix_cost(MIX, costs).items()}
    fixed = fixed_monthly(prices, a) / a.monthly_requests
    per_million[f"fixed monthly over {a.monthly_requests / 1e6:g}M requests"] = fixed * 1e6
    out = [Measure("cost", f"$/1M webhooks: {s}", v, "$") for s, v in per_million.items()]
    total = sum(per_million.values())
    top = sorted(per_million.items(), key=lambda kv: -kv[1])[:3]
    note = ", ".join(f"{s} {v / total:.0%}" for s, v in top)
    out.append(Measure("cost", "$/1M webhooks: total", total, "$", TARGET, note))
    for kind, p in [*profiles.items(), ("authorizer", auth)]:
        note = (f"{p.wru:g} WRU, {p.rru:g} RRU, {p.calls:g} calls; CPU {p.cpu_ms:.2f} ms, "
                f"wall {p.wall_ms:.1f} ms here; logs {p.log_bytes:.0f} B")  # fmt: skip
        out.append(Measure("cost_inputs", f"{kind}: Lambda billed (modeled)", billed_ms(p, a),
                           "ms", note=note))  # fmt: skip
    months = {t.name: tenant_month(t, costs, fixed) for t in TENANTS}
    grand = sum(sum(m) for m in months.values())
    for t in TENANTS:
        hooks, reads = months[t.name]
        per_m = (hooks + reads) / (t.webhooks + sum(t.reads.values())) * 1e6
        note = (f"{(hooks + reads) / grand:.0%} of the three; webhooks ${hooks:,.0f}, "
                f"/v1 ${reads:,.0f}; ${per_m:.2f} per 1M requests")  # fmt: skip
        out.append(Measure("cost_tenant", f"{t.name}: monthly", hooks + reads, "$", note=note))
    return out


def measure() -> list[Measure]:
    """Measure the request kinds and the authorizer, then model."""
    from bench.ingest_profile import profile

    profiles, stored = profile()
    return rows(profiles, stored, authorizer_profile(), load_prices(), Assumptions())


def main() -> None:
    """Print the rows."""
    print_rows(measure())


if __name__ == "__main__":
    main()
