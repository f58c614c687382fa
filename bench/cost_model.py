"""Modeled AWS cost per million webhook deliveries, by service, edge and volume; per tenant.

Run: ``.venv/bin/python -m bench --only cost_model`` (or ``-m bench.cost_model``).
Measures each request kind through the real handler on DynamoDB Local
(:mod:`bench.ingest_profile`) and the authorizer in process, prices them with the one
price table (``gateway/costs/prices.toml``, us-west-2, on-demand, 2026-11) through
:mod:`gateway.costs.model` under the stated :class:`~bench.pricing.Assumptions`, then
prints:

- ``cost``: dollars per 1M webhook deliveries of :data:`MIX`, one row per service, for
  the old edge (REST for everything, the authorizer on every webhook) and the new one
  (webhooks on an HTTP API, ``/v1`` on REST), at 10M and 100M deliveries a month; the
  stack's shared monthly costs (X-Ray at that volume, metrics, alarms, key, WAF's
  web ACL) spread over the volume; the total (target $5.00 for the new edge at 100M);
- ``cost_fixed``: what a tenant costs a month whatever its traffic (its secrets; keys,
  usage plans and routes are free);
- ``cost_shape``: per audited outcome, what one request uses (the constants of
  ``gateway/costs/shape.py``, which ``waybill costs`` and the dashboard price);
- ``cost_inputs``: per request kind, the modeled Lambda milliseconds and what was measured;
- ``cost_tenant``: three sample tenants' monthly cost and share (:data:`TENANTS`);
- ``cost_other``: notifications and polling, priced per message and per tracker by their
  own benchmarks, not per delivery.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace

from bench.pricing import (
    Assumptions,
    Profile,
    billed_ms,
    load_prices,
    mix_cost,
    request_cost,
    terms_of,
    unit_of,
)
from bench.report import Measure, print_rows
from gateway.costs.model import (
    NEW_EDGE,
    OLD_EDGE,
    TENANT_API,
    Edge,
    StackShape,
    Unit,
    request_dollars,
    secret_month,
    stack_monthly,
    weighted,
)
from gateway.costs.prices import Prices
from gateway.costs.shape import KINDS_OF, REFUSED

# Per webhook delivery: ~10 scans a shipment (docs/limits.md), so 1 in 10 deliveries with
# a new event starts a shipment; ~4 status changes in a life; carriers retry ~1 in 7;
# full-history carriers resend with nothing new (ETA or metadata updates) ~1 in 7.
MIX = {"first": 0.08, "new": 0.30, "change": 0.22, "one_event": 0.10, "resend": 0.15}
MIX |= {"retry": 0.14, "parked": 0.01}
TARGET = 5.0  # dollars per million webhook deliveries, new edge, 100M a month
VOLUMES = (10e6, 100e6)  # webhook deliveries a month
EDGES = (OLD_EDGE, NEW_EDGE)
SAMPLE_CARRIERS = 5  # a typical tenant's enabled carriers (cost_fixed)
LAMBDA_LOG_PREFIX = len("[INFO]\t2026-11-22T12:00:00.000Z\t" + "0" * 36 + "\t")


@dataclass(frozen=True)
class Tenant:
    """A sample tenant: its monthly webhooks (with their mix), /v1 reads and carriers."""

    name: str
    webhooks: float
    mix: Mapping[str, float]
    reads: Mapping[str, float]  # GETs a month per read kind
    carriers: int = 1  # enabled carriers: one partner secret each


TENANTS = (
    Tenant("shopfast: AfterShip, full history", 20e6,
           {"first": 0.08, "new": 0.35, "change": 0.25, "resend": 0.20, "retry": 0.11,
            "parked": 0.01}, {"get_shipment": 1e6}, carriers=1),
    Tenant("parcelly: EasyPost, one event each", 5e6,
           {"first": 0.10, "one_event": 0.55, "change": 0.25, "retry": 0.10},
           {"get_shipment": 0.2e6}, carriers=2),
    Tenant("pollco: polls GET /v1", 2e6, MIX,
           {"get_shipment": 18e6, "get_events": 9e6, "search": 3e6}, carriers=5),
)  # fmt: skip


def authorizer_profile(rounds: int = 2000) -> Profile:
    """The authorizer's CPU and log bytes per invocation, in process (no I/O: the key's
    tenant and the plan key from stubs, as from their caches). The old edge invoked it for
    every webhook (TTL 0) to do this same work: the tenant's file, its plan key, one line."""
    from gateway.aws.authorizer import logger, make_authorizer
    from gateway.tenancy.directory import TenantDirectory
    from gateway.testkit.harness import TENANTS_DIR

    authorize = make_authorizer(
        tenants=TenantDirectory(TENANTS_DIR), api_keys=lambda _: "acme", plan_keys=lambda _: "k"
    )
    arn = "arn:aws:execute-api:us-west-2:123456789012:abc123/prod/GET/v1/shipments/1Z"
    event: dict[str, object] = {"type": "REQUEST", "methodArn": arn}
    event |= {"resource": "/v1/shipments/{tracking_number}", "headers": {"x-api-key": "k"}}
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


def outcome_units(
    profiles: Mapping[str, Profile], stored: Mapping[str, float], a: Assumptions
) -> dict[str, Unit]:
    """The cost shape: per audited outcome, its kinds' units weighted by :data:`MIX`;
    refusals modeled as a retry's CPU and log line without its DynamoDB call."""
    units = {kind: unit_of(kind, p, stored, a) for kind, p in profiles.items()}
    shape = {
        outcome: weighted([(MIX[k], units[k]) for k in kinds])
        for outcome, kinds in KINDS_OF.items()
    }
    refused = replace(profiles["retry"], wru=0, rru=0, calls=0, accepted=0)
    unit = replace(unit_of("refused", refused, stored, a), rru=0.0, counted=False)
    return shape | dict.fromkeys(REFUSED, unit)


def edge_rows(
    costs: Mapping[str, Mapping[str, float]], prices: Prices, edge: Edge, volume: float
) -> list[Measure]:
    """Dollars per 1M deliveries of :data:`MIX` through ``edge`` at ``volume`` a month."""
    tag = f"{'new' if edge is NEW_EDGE else 'old'} edge, {volume / 1e6:g}M/month"
    per_million = {s: v * 1e6 for s, v in mix_cost(MIX, costs).items()}
    shared = stack_monthly(prices, edge, volume, StackShape())
    per_million |= {s: v / volume * 1e6 for s, v in shared.items()}
    out = [Measure("cost", f"{tag}: {s}", v, "$") for s, v in per_million.items()]
    total = sum(per_million.values())
    top = sorted(per_million.items(), key=lambda kv: -kv[1])[:3]
    note = ", ".join(f"{s} {v / total:.0%}" for s, v in top)
    target = TARGET if edge is NEW_EDGE and volume == max(VOLUMES) else None
    out.append(Measure("cost", f"{tag}: total", total, "$", target, note))
    return out


def fixed_rows(prices: Prices) -> list[Measure]:
    """A tenant-month whatever the traffic: per partner secret, its plan key, the free rest."""
    secret = secret_month(prices, StackShape())
    per_secret = sum(secret.values())
    note = ", ".join(f"{k} ${v:.3f}" for k, v in secret.items())
    typical = (SAMPLE_CARRIERS + 1) * per_secret
    return [
        Measure("cost_fixed", "per partner secret (enabled carrier or slot)", per_secret, "$",
                note=note),
        Measure("cost_fixed", "plan-key secret (one per tenant)", per_secret, "$"),
        Measure("cost_fixed", "API key, usage plan, HTTP API route", 0.0, "$",
                note="no charge; quotas: 10,000 keys, 300 routes per HTTP API (raisable)"),
        Measure("cost_fixed", f"tenant with {SAMPLE_CARRIERS} carriers", typical, "$",
                note=f"{SAMPLE_CARRIERS} key sets + the plan key; per tenant-month"),
    ]  # fmt: skip


def shape_rows(
    shape: Mapping[str, Unit], prices: Prices, auth: Profile, a: Assumptions
) -> list[Measure]:
    """Per outcome: $ per 1M requests on the new edge at 100M, and the unit to copy into
    ``gateway/costs/shape.py``."""
    terms = terms_of(auth, a)
    out = []
    for outcome, u in shape.items():
        dollars = sum(request_dollars(u, prices, NEW_EDGE, terms, max(VOLUMES)).values())
        note = (f"Unit({u.wru:.3f}, {u.rru:.3f}, {u.lambda_ms:.1f}, {u.log_bytes:.0f}, "
                f"{u.stored_bytes:.0f}, {u.response_bytes:.0f}, counted={u.counted})")  # fmt: skip
        out.append(Measure("cost_shape", f"{outcome}: $/1M (new edge)", dollars * 1e6, "$",
                           note=note))  # fmt: skip
    return out


def tenant_month(
    tenant: Tenant,
    hooks: Mapping[str, Mapping[str, float]],
    reads: Mapping[str, Mapping[str, float]],
    shared_per_request: float,
    per_secret: float,
) -> tuple[float, float, float]:
    """A tenant's monthly dollars: (webhooks, /v1 reads, fixed), the stack's shared costs
    spread per request, its secrets (one per carrier and the plan key) fixed."""
    webhooks = tenant.webhooks * (sum(mix_cost(tenant.mix, hooks).values()) + shared_per_request)
    gets = sum(n * (sum(reads[k].values()) + shared_per_request) for k, n in tenant.reads.items())
    return webhooks, gets, (tenant.carriers + 1) * per_secret


def tenant_rows(
    profiles: Mapping[str, Profile],
    stored: Mapping[str, float],
    auth: Profile,
    prices: Prices,
    a: Assumptions,
) -> list[Measure]:
    """The sample tenants on the new edge, at the three tenants' volume."""
    volume = sum(t.webhooks for t in TENANTS)
    hooks = {k: request_cost(k, p, stored, auth, prices, a, NEW_EDGE, volume)
             for k, p in profiles.items()}  # fmt: skip
    reads = {k: request_cost(k, p, stored, auth, prices, a, TENANT_API, volume)
             for k, p in profiles.items()}  # fmt: skip
    requests = volume + sum(sum(t.reads.values()) for t in TENANTS)
    shared = sum(stack_monthly(prices, NEW_EDGE, volume, StackShape()).values()) / requests
    per_secret = sum(secret_month(prices, StackShape()).values())
    months = {t.name: tenant_month(t, hooks, reads, shared, per_secret) for t in TENANTS}
    grand = sum(sum(m) for m in months.values())
    out = []
    for t in TENANTS:
        webhooks, gets, fixed = months[t.name]
        total = webhooks + gets + fixed
        per_m = total / (t.webhooks + sum(t.reads.values())) * 1e6
        note = (f"{total / grand:.0%} of the three; webhooks ${webhooks:,.0f}, /v1 ${gets:,.0f}, "
                f"fixed ${fixed:,.2f}; ${per_m:.2f} per 1M requests")  # fmt: skip
        out.append(Measure("cost_tenant", f"{t.name}: monthly", total, "$", note=note))
    return out


def other_rows() -> list[Measure]:
    """Rows for notifications and polling: priced by their own benchmarks' models, which
    take units those benchmarks measure (not measured here), per message and per tracker."""
    nan = float("nan")
    return [
        Measure("cost_other", "notifications: $/1M notifications", nan, "$",
                note="bench.notifications, section notify_cost (its own run)"),
        Measure("cost_other", "polling: $/1,000 trackers a month", nan, "$",
                note="bench.polling, section poll_cost (its own run)"),
    ]  # fmt: skip


def rows(
    profiles: Mapping[str, Profile],
    stored: Mapping[str, float],
    auth: Profile,
    prices: Prices,
    a: Assumptions,
) -> list[Measure]:
    """Every row of the model, from measured profiles."""
    out: list[Measure] = []
    for edge in EDGES:
        for volume in VOLUMES:
            costs = {k: request_cost(k, profiles[k], stored, auth, prices, a, edge, volume)
                     for k in MIX}  # fmt: skip
            out += edge_rows(costs, prices, edge, volume)
    out += fixed_rows(prices)
    out += shape_rows(outcome_units(profiles, stored, a), prices, auth, a)
    for kind, p in [*profiles.items(), ("authorizer", auth)]:
        note = (f"{p.wru:g} WRU, {p.rru:g} RRU, {p.calls:g} calls; CPU {p.cpu_ms:.2f} ms, "
                f"wall {p.wall_ms:.1f} ms here; logs {p.log_bytes:.0f} B")  # fmt: skip
        out.append(Measure("cost_inputs", f"{kind}: Lambda billed (modeled)", billed_ms(p, a),
                           "ms", note=note))  # fmt: skip
    out += tenant_rows(profiles, stored, auth, prices, a)
    return out + other_rows()


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
