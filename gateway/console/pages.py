"""The data of each page, read through :class:`~gateway.console.reads.Reads` (no Scan).

Each function returns the template's context; the app renders it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from gateway.audit.provenance import history
from gateway.audit.query import AuditRecord
from gateway.console.charts import per_minute, stacked
from gateway.console.reads import Reads
from gateway.console.usage import MonthCost
from gateway.costs.counts import days_counts
from gateway.costs.shape import REQUEST_OUTCOMES
from gateway.notify.messages import STATES
from gateway.poll.budget import utc_day
from gateway.poll.poller import OVERDUE_AFTER
from gateway.poll.trackers import TrackerState, tracker_from_item
from gateway.store.due_index import MESSAGES, TRACKERS
from gateway.tenancy.keysets import KeySet, mask
from gateway.tenancy.plans import current_plans
from gateway.tenancy.tenants import TenantConfig

Tenants = Mapping[str, TenantConfig]
TRACKER_STATES: tuple[TrackerState, ...] = ("active", "failing", "retired")
LIST_LIMIT = 50


def _polled(config: TenantConfig) -> list[tuple[str, int]]:
    return [
        (carrier, options.polling.daily_budget)
        for carrier, options in sorted(config.carriers.items())
        if options.enabled and options.polling is not None
    ]


def overview(reads: Reads, tenants: Tenants, now: datetime) -> dict[str, Any]:
    """Last hour and day of deliveries, notifications, endpoints, trackers, budgets, parked."""
    records: list[AuditRecord] = []
    for tenant in sorted(tenants):
        records += reads.windows(tenant, now - timedelta(days=1), now)
    minutes = per_minute(records)
    charts = [
        stacked("hour", "Last hour", minutes, now, buckets=60, minutes=1),
        stacked("day", "Last day", minutes, now, buckets=144, minutes=10),
    ]
    refused: Counter[tuple[str, str]] = Counter()
    for record in records:
        if record.outcome in ("rejected", "failed", "throttled"):
            refused[record.outcome, record.code] += record.count
    notifications: dict[str, Counter[str]] = {"hour": Counter(), "day": Counter()}
    endpoints_disabled, endpoints_failing, failing_trackers = [], [], 0
    budgets, parked = [], {}
    for tenant, config in sorted(tenants.items()):
        for endpoint in reads.endpoints.for_tenant(tenant):
            if not endpoint.enabled:
                endpoints_disabled.append(endpoint)
            elif endpoint.failing_since is not None:
                endpoints_failing.append(endpoint)
            notifications["day"] += reads.message_states(tenant, endpoint.id, now - timedelta(1))
            hour = reads.message_states(tenant, endpoint.id, now - timedelta(hours=1))
            notifications["hour"] += hour
        failing_trackers += reads.trackers.state_count(tenant, "failing")
        for carrier, budget in _polled(config):
            budgets.append((tenant, carrier, reads.budget.used(tenant, carrier, now), budget))
        parked[tenant] = reads.parked_count(tenant)
    return {
        "charts": charts,
        "refused": sorted(refused.items(), key=lambda kv: -kv[1]),
        "notifications": notifications,
        "message_states": STATES,
        "retry_waiting": reads.due_count(MESSAGES, None),
        "endpoints_disabled": endpoints_disabled,
        "endpoints_failing": endpoints_failing,
        "trackers_due": reads.due_count(TRACKERS, now),
        "trackers_overdue": reads.due_count(TRACKERS, now - OVERDUE_AFTER),
        "trackers_failing": failing_trackers,
        "budgets": budgets,
        "parked": parked,
    }


def tenants_page(reads: Reads, tenants: Tenants, now: datetime) -> dict[str, Any]:
    """Every tenant: plan, requests today and this month as the quota and hard cap count
    them (one BatchGetItem of the counters), the month's modeled cost (cached)."""
    month = reads.month_costs(tenants, now)
    usage = reads.usage(sorted(tenants), now)
    rows = [
        {
            "config": config,
            "plan": current_plans().get(config.plan),
            "usage": usage[tenant],
            "cost": month.costs.get(tenant),
        }
        for tenant, config in sorted(tenants.items())
    ]
    return {"rows": rows, "month": f"{now:%Y-%m}", "day": utc_day(now)} | _as_of(reads, month)


def _as_of(reads: Reads, month: MonthCost) -> dict[str, Any]:
    """When the cost shown was computed, and how long it is kept."""
    return {"as_of": month.as_of, "cost_minutes": round(reads.costs.ttl.total_seconds() / 60)}


def _outcomes(reads: Reads, tenant: str, now: datetime) -> list[tuple[str, str, int]]:
    """Today's audited requests per (outcome, channel), from the counted windows (refusals
    too; ``endpoint`` changes are not requests)."""
    counts = days_counts(reads.client, reads.table, tenant, [utc_day(now)], meter=reads.meter)
    found = counts.items()
    return sorted((o, channel, n) for (o, channel), n in found if o in REQUEST_OUTCOMES and n)


def tenant_page(
    reads: Reads,
    tenants: Tenants,
    config: TenantConfig,
    now: datetime,
    secrets: list[tuple[str, KeySet]],
    keys: list[Any],
) -> dict[str, Any]:
    """One tenant: plan and usage (the quota counters, today's audited requests by
    outcome), carriers and masked secrets, keys, endpoints, trackers, modeled cost this
    month (cached)."""
    month = reads.month_costs(tenants, now)
    stored = dict(secrets)
    targets = sorted(set(config.enabled_carriers()) | set(stored))
    carriers = []
    for target in targets:
        keyset = stored.get(target)
        previous = []
        if keyset is not None:
            for old in sorted(keyset.previous, key=lambda p: p.created_at, reverse=True):
                previous.append((mask(old.value), old.expires_at, old.is_valid(now)))
        carriers.append(
            {
                "target": target,
                "enabled": config.carrier_enabled(target.partition(".")[0]),
                "current": mask(keyset.current.value) if keyset else None,
                "set_at": keyset.current.created_at if keyset else None,
                "previous": previous,
            }
        )
    trackers = {s: reads.trackers.state_count(config.id, s) for s in TRACKER_STATES}
    return {
        "config": config,
        "plan": current_plans().get(config.plan),
        "usage": reads.usage([config.id], now)[config.id],
        "outcomes": _outcomes(reads, config.id, now),
        "day": utc_day(now),
        "cost": month.costs.get(config.id),
        "month": f"{now:%Y-%m}",
        "carriers": carriers,
        "keys": keys,
        "endpoints": reads.endpoints.for_tenant(config.id),
        "trackers": trackers,
    } | _as_of(reads, month)


def shipment_page(reads: Reads, tenant: str, number: str, now: datetime) -> dict[str, Any]:
    """One shipment: state per carrier with freshness, history with provenance, the
    notifications its events caused with their attempts."""
    states, items = reads.store.shipment_view(tenant, number, now)
    trackers = {carrier: tracker_from_item(item) for carrier, item in items.items()}
    events = history(reads.client, reads.table, tenant, number, now=now, meter=reads.meter)
    endpoints = reads.endpoints.for_tenant(tenant)
    latest = [event for event, _ in events[-25:]]
    messages = reads.caused(tenant, endpoints, latest) if endpoints else []
    return {
        "tenant": tenant,
        "number": number,
        "states": states,
        "trackers": trackers,
        "events": events,
        "messages": messages,
        "messages_of": len(latest),
    }


def parked_page(reads: Reads, tenants: Tenants) -> dict[str, Any]:
    """Every tenant's parked deliveries, grouped by reason (never a body or header)."""
    groups: dict[tuple[str, str], list[Any]] = {}
    for tenant in sorted(tenants):
        for item in reads.parking.list(tenant):
            groups.setdefault((tenant, item.reason), []).append(item)
    return {"groups": sorted(groups.items(), key=lambda kv: (kv[0][0], -len(kv[1])))}


def notifications_page(reads: Reads, tenants: Tenants) -> dict[str, Any]:
    """Every tenant's endpoints, failing and disabled first, with their last errors."""
    rows: list[dict[str, Any]] = []
    for tenant in sorted(tenants):
        for endpoint in reads.endpoints.for_tenant(tenant):
            troubled = not endpoint.enabled or endpoint.failing_since is not None
            errors = []
            if troubled:
                for message in reads.messages.newest(
                    tenant, endpoint.id, state=None, limit=5, before=None
                ):
                    errors += [
                        (message, a)
                        for a in message.attempts[-1:]
                        if a.error or (a.status or 0) >= 300
                    ]
            rows.append({"endpoint": endpoint, "troubled": troubled, "errors": errors})
    rows.sort(key=lambda r: (not r["troubled"], r["endpoint"].tenant, r["endpoint"].id))
    return {"rows": rows}


def endpoint_page(reads: Reads, tenant: str, endpoint_id: str) -> dict[str, Any]:
    """One endpoint and its newest messages with their attempts."""
    endpoint = reads.endpoints.get(tenant, endpoint_id)
    messages = reads.messages.newest(tenant, endpoint_id, state=None, limit=20, before=None)
    return {"endpoint": endpoint, "messages": messages}


def trackers_page(reads: Reads, tenants: Tenants, now: datetime) -> dict[str, Any]:
    """Every tenant's trackers by state (a page each) and today's per-check log."""
    sections = []
    for tenant, config in sorted(tenants.items()):
        polled = _polled(config)
        if not polled:
            continue
        lists = {s: reads.trackers.page(tenant, s, limit=LIST_LIMIT)[0] for s in TRACKER_STATES}
        log = {
            c: reads.checks.day(tenant, c, utc_day(now), now, limit=LIST_LIMIT) for c, _ in polled
        }
        sections.append(
            {"tenant": tenant, "carriers": [c for c, _ in polled], "lists": lists, "log": log}
        )
    return {"sections": sections, "states": TRACKER_STATES, "day": utc_day(now)}


def tracker_page(
    reads: Reads, tenant: str, carrier: str, number: str, now: datetime
) -> dict[str, Any]:
    """One tracker and its checks today (the per-check log of that tracker)."""
    tracker = reads.trackers.get(tenant, carrier, number)
    log = reads.checks.day(
        tenant, carrier, utc_day(now), now, tracking_number=number, limit=LIST_LIMIT
    )
    return {"tenant": tenant, "carrier": carrier, "number": number, "tracker": tracker, "log": log}
