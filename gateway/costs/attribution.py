"""A month's modeled AWS cost, attributed to each tenant.

Per tenant: its requests per audited outcome (the counted windows,
:mod:`gateway.costs.counts`) priced with the cost shape (:data:`~gateway.costs.shape.SHAPE`)
and the one price table (**variable**); the stack's shared monthly costs (X-Ray at the
month's volume, metrics, alarms, the KMS key, the cursor-key secret, WAF's web ACL)
spread by share of requests (**shared**); and its own secrets, stored and refreshed by
warm containers (**fixed**: one per enabled carrier, one per polled carrier's ``api``
slot, the plan key; API keys, usage plans and routes are free).

Example:
    >>> from collections import Counter
    >>> from gateway.costs.prices import load_prices
    >>> counts = {"acme": Counter({("accepted", "webhook"): 1_000_000}), "idle": Counter()}
    >>> costs = attribute(counts, {"acme": 2, "idle": 2}, load_prices())
    >>> [(c.tenant, round(c.variable, 2), round(c.share, 2)) for c in costs]
    [('acme', 4.92, 0.96), ('idle', 0.0, 0.04)]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from gateway.costs.counts import Counts, month_counts
from gateway.costs.model import (
    NEW_EDGE,
    TENANT_API,
    Edge,
    StackShape,
    Terms,
    request_dollars,
    secret_month,
    stack_monthly,
)
from gateway.costs.prices import Prices, load_price_table
from gateway.costs.shape import REQUEST_OUTCOMES, SHAPE
from gateway.store.capacity import CapacityMeter
from gateway.tenancy.tenants import TenantConfig

WEIGHT_VOLUME = 100e6  # the month's deliveries the dashboard's weights assume


@dataclass(frozen=True)
class TenantCost:
    """One tenant's month: requests per outcome and dollars."""

    tenant: str
    requests: Mapping[str, int]
    variable: float
    shared: float
    fixed: float
    share: float = 0.0

    @property
    def total(self) -> float:
        """Variable, shared and fixed dollars."""
        return self.variable + self.shared + self.fixed


def tenant_secrets(config: TenantConfig) -> int:
    """The secrets a tenant holds: a key set per enabled carrier, an ``api`` slot per
    polled one, its plan key. Optional adapter slots (``shippo.hmac``) are not counted."""
    enabled = config.enabled_carriers()
    polled = [c for c in enabled if config.carriers[c].polling is not None]
    return len(enabled) + len(polled) + 1


def outcome_dollars(
    outcome: str,
    prices: Prices,
    *,
    edge: Edge = NEW_EDGE,
    volume: float = WEIGHT_VOLUME,
    terms: Terms | None = None,
) -> float:
    """USD one request of ``outcome`` costs through ``edge`` (shared costs apart)."""
    return sum(request_dollars(SHAPE[outcome], prices, edge, terms or Terms(), volume).values())


def outcome_weights(prices: Prices) -> dict[str, float]:
    """USD per webhook request of each outcome on the deployed edge (the dashboard's)."""
    return {outcome: outcome_dollars(outcome, prices) for outcome in REQUEST_OUTCOMES}


def attribute(
    counts: Mapping[str, Counts],
    secrets: Mapping[str, int],
    prices: Prices,
    *,
    stack: StackShape | None = None,
) -> list[TenantCost]:
    """Every tenant's month, most expensive first; ``share`` of the grand total."""
    stack = stack or StackShape()
    webhooks = sum(_requests(c, "webhook") for c in counts.values())
    total_requests = sum(_requests(c) for c in counts.values())
    shared = sum(stack_monthly(prices, NEW_EDGE, webhooks, stack).values())
    per_secret = sum(secret_month(prices, stack).values())
    edges = {"webhook": NEW_EDGE, "submit": TENANT_API}
    found = []
    for tenant, tenant_counts in counts.items():
        requests = _requests(tenant_counts)
        variable = sum(
            n * outcome_dollars(outcome, prices, edge=edges[channel], volume=webhooks)
            for (outcome, channel), n in tenant_counts.items()
            if outcome in SHAPE
        )
        variable = float(variable)
        portion = requests / total_requests if total_requests else 1 / len(counts)
        by_outcome: dict[str, int] = {}
        for (outcome, _), n in tenant_counts.items():
            if outcome in SHAPE:
                by_outcome[outcome] = by_outcome.get(outcome, 0) + n
        fixed = secrets.get(tenant, 0) * per_secret
        found.append(TenantCost(tenant, by_outcome, variable, shared * portion, fixed))
    grand = sum(c.total for c in found) or 1.0
    ranked = sorted(found, key=lambda c: (-c.total, c.tenant))
    return [replace(c, share=c.total / grand) for c in ranked]


def month_costs(
    client: Any,
    table: str,
    tenants: Mapping[str, TenantConfig],
    month: str,
    *,
    meter: CapacityMeter | None = None,
) -> list[TenantCost]:
    """Every tenant's modeled cost for ``month`` (``YYYY-MM``), read from its counted
    windows (:func:`~gateway.costs.counts.month_counts`) and priced with the price table:
    what ``waybill costs`` prints and the console's tenants page shows."""
    counts = {t: month_counts(client, table, t, month, meter=meter) for t in sorted(tenants)}
    secrets = {t: tenant_secrets(config) for t, config in tenants.items()}
    return attribute(counts, secrets, load_price_table().prices)


def _requests(counts: Counts, channel: str | None = None) -> int:
    """Requests (not ``endpoint`` changes), of one channel or all."""
    return sum(
        n for (outcome, ch), n in counts.items() if outcome in SHAPE and channel in (None, ch)
    )
