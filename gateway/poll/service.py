"""Trackers as the tenant API and the CLI use them: add, read, list, remove, refresh, usage.

One code path for both (``gateway/api/trackers.py`` and ``gateway/cli/trackers_cmd.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.errors import BadRequestError, GatewayError, NotFoundError
from gateway.models import Status, normalise_tracking_number, utc_text
from gateway.poll.budget import Budget, next_day
from gateway.poll.checks import Check, CheckLog, from_entry
from gateway.poll.poller import OVERDUE_AFTER, Checked, Poller
from gateway.poll.trackers import Tracker, TrackerState, TrackerStore, news, tracker_from_item
from gateway.store.dynamo import TrackedNews
from gateway.tenancy.tenants import TenantConfig

INVALID_NUMBER = "invalid_tracking_number"
MAX_BATCH_REFRESH = 100
USAGE_SCAN_LIMIT = 100_000
RETRY_LATER = frozenset(
    {"slowed", "rate_limited", "carrier_error", "timeout", "connect_failed", "dns_failed"}
)


class PollingNotConfiguredError(GatewayError):
    """The tenant has no polling for that carrier (``[carriers.<id>.polling]``)."""

    status, code = 400, "polling_not_configured"


class TrackerRetiredError(GatewayError):
    """A retired tracker is not refreshed: add it again to start polling."""

    status, code = 409, "tracker_retired"


class PollBudgetSpentError(GatewayError):
    """Today's poll budget for the carrier is spent; it renews at 00:00 UTC."""

    status, code = 429, "poll_budget_spent"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Refreshed:
    """A manual refresh: the check made (200), or queued first (202, ``check`` None)."""

    tracker: Tracker
    check: Check | None


@dataclass(frozen=True)
class CarrierUsage:
    """One carrier's polling for a tenant today."""

    carrier: str
    requests_today: int
    daily_budget: int
    due: int
    overdue: int
    failing: int


class Trackers:
    """The tenant-facing operations on trackers."""

    def __init__(
        self,
        store: TrackerStore,
        budget: Budget,
        checks: CheckLog,
        poller: Poller,
        tenants: Callable[[str], TenantConfig | None],
        clock: Callable[[], datetime],
    ) -> None:
        self.store = store
        self.budget = budget
        self.checks = checks
        self.poller = poller
        self.tenants = tenants
        self.clock = clock
        self.tracked_news: TrackedNews = push_counts_as_check(store, tenants)
        """What the write path calls with news for a tracked shipment (a check)."""

    def add(self, tenant: str, tracking_number: str, carrier: str) -> tuple[Tracker, bool]:
        """Start tracking; (tracker, True) when new, the existing one and False otherwise."""
        number = _number(tracking_number)
        self._polled(tenant, carrier)
        return self.store.create(tenant, carrier, number, self.clock())

    def get(self, tenant: str, tracking_number: str, carrier: str) -> Tracker:
        """One tracker; 404 ``tracker_not_found`` when there is none."""
        tracker = self.store.get(tenant, carrier, _number(tracking_number))
        if tracker is None:
            raise NotFoundError("no such tracker", code="tracker_not_found")
        return tracker

    def recent_checks(self, tracker: Tracker) -> list[Check]:
        """The tracker's latest checks, newest first (kept on the tracker)."""
        return [from_entry(tracker.carrier, value) for value in tracker.recent]

    def log(
        self, tenant: str, carrier: str, day: str, tracking_number: str | None, limit: int
    ) -> list[Check]:
        """A UTC day's checks of a (tenant, carrier), newest first, maybe of one tracker."""
        number = _number(tracking_number) if tracking_number else None
        return self.checks.day(
            tenant, carrier, day, self.clock(), tracking_number=number, limit=limit
        )

    def page(
        self,
        tenant: str,
        state: TrackerState,
        carrier: str | None,
        limit: int,
        after: str | None,
    ) -> tuple[list[Tracker], str | None]:
        """A page of the tenant's trackers in ``state``."""
        return self.store.page(tenant, state, carrier=carrier, limit=limit, after=after)

    def remove(self, tenant: str, tracking_number: str, carrier: str) -> Tracker:
        """Stop polling; the history stays."""
        return self.store.remove(tenant, carrier, _number(tracking_number), self.clock())

    def refresh(self, tenant: str, tracking_number: str, carrier: str) -> Refreshed:
        """Check now, within the budget; queued first when the carrier cannot answer now."""
        tracker = self.get(tenant, tracking_number, carrier)
        if tracker.state == "retired":
            raise TrackerRetiredError("the tracker is retired; add it again to poll it")
        self._polled(tenant, carrier)
        checked: Checked | None = self.poller.refresh(tracker)
        if checked is None or checked.check.error in RETRY_LATER:
            return Refreshed(self.queue_first(tracker), None)
        if checked.check.error == "budget_spent":
            now = self.clock()
            wait = int((next_day(now) - now).total_seconds()) + 1
            raise PollBudgetSpentError("today's poll budget is spent", retry_after=wait)
        return Refreshed(checked.tracker, checked.check)

    def refresh_many(self, tenant: str, wanted: list[tuple[str, str]]) -> list[Tracker]:
        """Queue trackers first for the next pass (at most :data:`MAX_BATCH_REFRESH`)."""
        if not wanted or len(wanted) > MAX_BATCH_REFRESH:
            raise BadRequestError(
                f"give 1 to {MAX_BATCH_REFRESH} trackers", code="invalid_trackers"
            )
        found = [self.get(tenant, number, carrier) for number, carrier in wanted]
        for tracker in found:
            if tracker.state == "retired":
                raise TrackerRetiredError(f"tracker {tracker.tracking_number} is retired")
        return [self.queue_first(t) for t in found]

    def queue_first(self, tracker: Tracker) -> Tracker:
        """Make a tracker due now, ahead of everything due in its shard."""
        return self.store.queue_first(tracker, self.clock())

    def usage(self, tenant: str) -> list[CarrierUsage]:
        """Per polled carrier: requests today, the budget, trackers due, overdue, failing."""
        config = self.tenants(tenant)
        if config is None:
            return []
        now = self.clock()
        counts: dict[str, dict[str, int]] = {}
        for state in ("active", "failing"):
            after = None
            for _ in range(USAGE_SCAN_LIMIT // 100):
                page, after = self.store.page(tenant, state, limit=100, after=after)
                for tracker in page:
                    c = counts.setdefault(tracker.carrier, {"due": 0, "overdue": 0, "failing": 0})
                    due_at = tracker.next_check_at
                    c["due"] += int(due_at is not None and due_at <= now)
                    c["overdue"] += int(due_at is not None and due_at <= now - OVERDUE_AFTER)
                    c["failing"] += int(state == "failing")
                if after is None:
                    break
        rows = []
        for carrier, options in sorted(config.carriers.items()):
            if options.polling is None:
                continue
            c = counts.get(carrier, {"due": 0, "overdue": 0, "failing": 0})
            used = self.budget.used(tenant, carrier, now)
            rows.append(CarrierUsage(carrier, used, options.polling.daily_budget, **c))
        return rows

    def _polled(self, tenant: str, carrier: str) -> None:
        config = self.tenants(tenant)
        options = config.carriers.get(carrier) if config else None
        if config is None or options is None or not options.enabled or options.polling is None:
            raise PollingNotConfiguredError(
                f"carrier {carrier} is not polled for this tenant "
                f"(its tenant file needs [carriers.{carrier}.polling])"
            )
        adapter = self.poller.pipeline.adapter(config, carrier)
        if adapter is None or adapter.polling is None:
            raise PollingNotConfiguredError(
                f"carrier {carrier} has no tracking API in Waybill: it can only push"
            )


def tracker_json(tracker: Tracker) -> dict[str, Any]:
    """A tracker as the API and the CLI show it."""

    def at(value: datetime | None) -> str | None:
        return utc_text(value) if value else None

    return {
        "tracking_number": tracker.tracking_number,
        "carrier": tracker.carrier,
        "state": tracker.state,
        "status": tracker.status.value,
        "created_at": utc_text(tracker.created_at),
        "last_checked_at": at(tracker.last_checked_at),
        "last_source": tracker.last_source,
        "next_check_at": at(tracker.next_check_at) if tracker.state != "retired" else None,
        "consecutive_failures": tracker.failures,
        "last_error": tracker.last_error,
        "checks": tracker.checks,
        "retired_reason": tracker.retired_reason,
    }


def _number(value: str) -> str:
    try:
        number = normalise_tracking_number(value)
    except ValueError:
        number = ""
    if not number or len(number) > 64:
        raise BadRequestError("tracking number is blank or too long", code=INVALID_NUMBER)
    return number


def push_counts_as_check(
    store: TrackerStore, tenants: Callable[[str], TenantConfig | None]
) -> TrackedNews:
    """What the write path calls when a push or submit brings news for a tracked shipment:
    the tracker counts it as a check, and its next check follows the new status."""

    def tracked_news(
        item: dict[str, Any], after: dict[str, Any], now: datetime, source: str
    ) -> None:
        tracker = tracker_from_item(item)
        config = tenants(tracker.tenant)
        options = config.carriers.get(tracker.carrier) if config else None
        overrides = options.polling.intervals if options and options.polling else {}
        status = Status(after.get("status", tracker.status.value))
        eta = after.get("eta") or tracker.estimated_delivery
        outcome = news(now, status, eta, overrides, source=source)
        store.pushed(item, outcome)

    return tracked_news
