"""The poller: check what is due, within the budget, and store what the carrier says.

One pass (:meth:`Poller.run_once`, every minute on AWS, every ``--poll-interval`` locally):
read the due trackers from the due index (8 Queries, never a Scan), claim each, group the
claimed by (tenant, carrier) and check them in batches of the carrier's size, then
complete each with its outcome and its next due time. What the carrier says goes through
the webhooks' normalise, dedupe and store path (:meth:`Pipeline.canonical` and
:meth:`Pipeline.store_reading`), so notifications follow from the stream as for a push.

Outcomes of a number: *found* (events stored; the schedule follows the shipment's
status, a terminal status retires the tracker); *unknown* to the carrier (the
pre-transit interval; retired after the idle limit); *failed* (consecutive failures back
off, and three make the tracker ``failing``). A spent budget moves the batch to the next
UTC day, and a slowed carrier to when it may be called again; neither counts as a
failure. Every check is logged (:mod:`gateway.poll.checks`).
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from gateway.carriers.adapter import Adapter, ParseResult
from gateway.carriers.polling import Polling, PollResult, PollTarget, parse_credentials
from gateway.ingest.pipeline import Counter, Pipeline
from gateway.models import Status
from gateway.poll.budget import Allowance, Budget, next_day
from gateway.poll.checks import Check, CheckLog
from gateway.poll.client import CALL_TIMEOUT, CarrierClient, CheckAnswer, CheckFailed
from gateway.poll.schedule import idle, next_check
from gateway.poll.trackers import (
    LEASE,
    Outcome,
    Tracker,
    TrackerChangedError,
    TrackerStore,
    news,
)
from gateway.store.due_index import DUE_SHARDS
from gateway.tenancy.tenants import PollingOptions, TenantConfig

log = logging.getLogger(__name__)

MAX_PER_PASS = 10_000  # trackers checked by one pass (the rest wait for the next)
CHUNK = 200  # trackers claimed at a time: a pass that ends early leaves few leases behind
OVERDUE_AFTER = timedelta(minutes=5)
DEADLINE_MARGIN = 5.0  # seconds kept in hand before a Lambda's deadline
REFRESH_WITHIN = 8.0  # a manual refresh's carrier calls, all of them (API Gateway: 29 s)
PARALLEL_CHECKS = 8
NOT_CONFIGURED_RETRY = timedelta(hours=1)


@dataclass(frozen=True)
class Checked:
    """One tracker's check, as the manual refresh answers it."""

    tracker: Tracker
    check: Check


@dataclass
class _Group:
    """The claimed trackers of one (tenant, carrier) in one pass."""

    tenant: TenantConfig
    carrier: str
    trackers: list[Tracker] = field(default_factory=list)


class Poller:
    """Everything a pass needs, injected."""

    def __init__(
        self,
        *,
        trackers: TrackerStore,
        budget: Budget,
        checks: CheckLog,
        client: CarrierClient,
        pipeline: Pipeline,
        clock: Callable[[], datetime],
        count: Counter,
        owner: str | None = None,
    ) -> None:
        self.trackers = trackers
        self.budget = budget
        self.checks = checks
        self.client = client
        self.pipeline = pipeline
        self.clock = clock
        self.count = count
        self.owner = owner or f"poller-{uuid.uuid4().hex[:12]}"
        self._deadline: float | None = None

    # -- a pass -------------------------------------------------------------------

    def run_once(self, limit: int = MAX_PER_PASS, deadline: float | None = None) -> int:
        """Check the due trackers, a chunk at a time, under the pass's lease, until none
        is due, ``limit`` were checked, or ``deadline`` (``time.monotonic()``) is near;
        how many were checked."""
        self._deadline = deadline
        now = self.clock()
        keys = self._due_keys(now, min(CHUNK, limit))
        if not keys or not self.trackers.lease_pass(self.owner, now):
            return 0  # nothing due (no write at all), or another pass runs
        checked, leased_at = 0, time.monotonic()
        try:
            while keys and checked < limit and self._has_time(deadline):
                due = self.trackers.load_due(keys, now)
                if not due:
                    break  # the index still lists trackers checked meanwhile
                self._check_due(due, now)
                checked += len(due)
                if time.monotonic() - leased_at > LEASE.total_seconds() / 2:
                    self.trackers.lease_pass(self.owner, self.clock())  # renewed, not lost
                    leased_at = time.monotonic()
                now = self.clock()
                keys = self._due_keys(now, min(CHUNK, limit - checked))
        finally:
            self.trackers.release_pass(self.owner)
        self.count("TrackersOverdue", self.trackers.due_count(self.clock() - OVERDUE_AFTER))
        return checked

    def _due_keys(self, now: datetime, limit: int) -> list[dict[str, Any]]:
        """Keys of up to ``limit`` due trackers, from every shard of the due index."""
        keys: list[dict[str, Any]] = []
        for shard in range(DUE_SHARDS):
            if len(keys) >= limit:
                break
            keys += self.trackers.due(shard, now, limit=limit - len(keys))
        return keys

    def _within(self, trigger: str) -> float | None:
        """Seconds a check may still take: a refresh's own bound, or what the pass's
        deadline leaves (a Lambda must record what it checked before it is stopped)."""
        if trigger == "refresh":
            return REFRESH_WITHIN
        if self._deadline is None:
            return None
        return max(0.0, self._deadline - DEADLINE_MARGIN - time.monotonic())

    def _has_time(self, deadline: float | None) -> bool:
        return deadline is None or time.monotonic() + CALL_TIMEOUT + DEADLINE_MARGIN < deadline

    def _check_due(self, due: list[Tracker], now: datetime) -> None:
        groups: dict[tuple[str, str], _Group] = {}
        for tracker in due:
            config = self.pipeline.tenants(tracker.tenant)
            if config is None:
                outcome = self._not_configured(tracker, now, "tenant_unknown")
                self._log(tracker.tenant, tracker.carrier, [self._complete(tracker, outcome)])
                continue
            key = (tracker.tenant, tracker.carrier)
            groups.setdefault(key, _Group(config, tracker.carrier)).trackers.append(tracker)
        with ThreadPoolExecutor(PARALLEL_CHECKS, thread_name_prefix="poll") as pool:
            list(pool.map(lambda g: self._check_group(g, now, "schedule"), groups.values()))

    def refresh(self, tracker: Tracker) -> Checked | None:
        """Check one tracker now, within the budget (a manual refresh, under a lease of
        the tracker itself); None when another check holds it."""
        now = self.clock()
        claimed = self.trackers.claim(tracker.key, self.owner, now, force=True)
        if claimed is None:
            return None
        config = self.pipeline.tenants(claimed.tenant)
        if config is None:
            outcome = self._not_configured(claimed, now, "tenant_unknown")
            return self._complete(claimed, outcome, None, "refresh")
        group = _Group(config, claimed.carrier, [claimed])
        done = self._check_group(group, now, "refresh")
        return done[0] if done else None

    # -- one (tenant, carrier) --------------------------------------------------------

    def _check_group(self, group: _Group, now: datetime, trigger: str) -> list[Checked]:
        options = group.tenant.carriers.get(group.carrier)
        polling_options = options.polling if options else None
        adapter = self.pipeline.adapter(group.tenant, group.carrier)
        polling = adapter.polling if adapter else None
        problem = None
        if polling_options is None or not group.tenant.carrier_enabled(group.carrier):
            problem = "polling_not_configured"
        elif polling is None:
            problem = "polling_unsupported"
        credentials = None
        if problem is None and polling is not None:
            credentials = self._credentials(group.tenant.id, group.carrier, polling, now)
            if credentials is None:
                problem = "credentials_missing"
        if problem is not None or polling is None or polling_options is None or adapter is None:
            code = problem or "polling_not_configured"
            done = [
                self._complete(t, self._not_configured(t, now, code), None, trigger)
                for t in group.trackers
            ]
            return self._log(group.tenant.id, group.carrier, done)
        allowance = Allowance(
            self.budget,
            group.tenant.id,
            group.carrier,
            polling_options.daily_budget,
            now,
            block=min(10, len(group.trackers)),
        )
        size = polling.batch_size
        batches = [group.trackers[i : i + size] for i in range(0, len(group.trackers), size)]

        def check(batch: list[Tracker]) -> list[Checked]:
            return self._check_batch(
                group.tenant,
                adapter,
                polling,
                polling_options,
                credentials,
                batch,
                allowance,
                now,
                trigger,
            )

        try:
            with ThreadPoolExecutor(polling_options.concurrency, thread_name_prefix="poll") as pool:
                done = [checked for part in pool.map(check, batches) for checked in part]
        finally:
            allowance.release()
        return self._log(group.tenant.id, group.carrier, done)

    def _credentials(self, tenant: str, carrier: str, polling: Polling, now: datetime) -> Any:
        values = self.pipeline.secrets.valid_secrets(tenant, f"{carrier}.{polling.slot}", now)
        if not values:
            return None
        try:
            return parse_credentials(polling.credentials, values[0])
        except ValueError:
            return None

    def _check_batch(
        self,
        tenant: TenantConfig,
        adapter: Adapter,
        polling: Polling,
        options: PollingOptions,
        credentials: Any,
        batch: Sequence[Tracker],
        allowance: Allowance,
        now: datetime,
        trigger: str,
    ) -> list[Checked]:
        targets = [PollTarget(t.tracking_number, t.ref) for t in batch]
        base_url = options.api_base_url or polling.base_url
        try:
            answer = self.client.check(
                tenant.id,
                adapter.id,
                polling,
                base_url,
                credentials,
                targets,
                allowance=allowance,
                concurrency=options.concurrency,
                within=self._within(trigger),
            )
        except CheckFailed as failed:
            self.count("PollsFailed", len(batch))
            if failed.code == "budget_spent":
                self.count("PollBudgetExhausted")
            gate = self.client.gate(adapter.id)
            return [
                self._complete(t, self._failed(t, options, now, failed, gate), failed, trigger)
                for t in batch
            ]
        self.count("PollsMade", answer.requests)
        outcomes = [self._found(tenant, adapter, options, t, answer, now) for t in batch]
        return [self._complete(t, o, answer, trigger) for t, o in zip(batch, outcomes, strict=True)]

    # -- outcomes -------------------------------------------------------------------

    def _found(
        self,
        tenant: TenantConfig,
        adapter: Adapter,
        options: PollingOptions,
        tracker: Tracker,
        answer: CheckAnswer,
        now: datetime,
    ) -> Outcome:
        result: PollResult = answer.result
        number = tracker.tracking_number
        ref = result.refs.get(number)
        parsed = result.found.get(number)
        if parsed is None:
            error = result.failed.get(number)
            if number in result.unknown:
                return self._quiet(tracker, options, now, Status.UNKNOWN, ref=ref)
            return self._failure(tracker, options, now, error or "no_answer", ref=ref)
        added, status, eta = self._store(tenant, adapter, tracker, parsed, now)
        if added < 0:
            return self._failure(tracker, options, now, "unreadable_items", ref=ref)
        if added == 0:
            return self._quiet(tracker, options, now, status, ref=ref, eta=eta)
        return news(now, status, eta, options.intervals, ref=ref, added=added)

    def _store(
        self,
        tenant: TenantConfig,
        adapter: Adapter,
        tracker: Tracker,
        parsed: ParseResult,
        now: datetime,
    ) -> tuple[int, Status, str | None]:
        """Store one number's events; (new events, the shipment's status, its ETA), or
        -1 new events when items could not be read (nothing stored then)."""
        reading = self.pipeline.canonical(tenant, adapter.id, parsed, now)
        if reading.failures:
            log.warning("poll answer unreadable: carrier=%s", adapter.id)
            return -1, tracker.status, tracker.estimated_delivery
        if not reading.events:
            return 0, tracker.status, tracker.estimated_delivery
        ids = "\n".join(e.event_id for e in reading.events).encode()
        digest = hashlib.sha256(ids).hexdigest()
        key = f"{adapter.id}:poll:{digest}"  # the same answer again is a plain retry: no write
        result = self.pipeline.record(tenant, reading.events, key, digest, now, "poll")
        after = result.states.get((tenant.id, tracker.tracking_number, adapter.id))
        if after is None and tracker.status is Status.UNKNOWN:  # known from pushes before
            states = self.pipeline.store.get_shipments(tenant.id, tracker.tracking_number, now)
            state = next((s for s in states if s.carrier == adapter.id), None)
            if state is not None:
                after = {"status": state.status.value, "eta": state.estimated_delivery}
        if after is None:
            return len(result.accepted), tracker.status, tracker.estimated_delivery
        status = Status(after.get("status", tracker.status.value))
        return len(result.accepted), status, after.get("eta") or tracker.estimated_delivery

    def _quiet(
        self,
        tracker: Tracker,
        options: PollingOptions,
        now: datetime,
        status: Status,
        *,
        ref: str | None = None,
        eta: str | None = None,
    ) -> Outcome:
        """Nothing new: the schedule of the status; retired when idle for too long."""
        eta = eta or tracker.estimated_delivery
        when = next_check(status, now, estimated_delivery=eta, overrides=options.intervals)
        reason = status.value if when is None else None
        if when is not None and idle(tracker.last_news_at or tracker.created_at, now):
            when, reason = None, "idle"
        return Outcome(now, status, eta, when, 0, None, news=False, ref=ref, retired_reason=reason)

    def _failure(
        self,
        tracker: Tracker,
        options: PollingOptions,
        now: datetime,
        error: str,
        *,
        ref: str | None = None,
    ) -> Outcome:
        failures = tracker.failures + 1
        when = next_check(
            tracker.status if tracker.status is not Status.DELIVERED else Status.UNKNOWN,
            now,
            failures=failures,
            overrides=options.intervals,
        )
        reason = None
        if idle(tracker.last_news_at or tracker.created_at, now):
            when, reason = None, "idle"
        return Outcome(
            now,
            tracker.status,
            tracker.estimated_delivery,
            when,
            failures,
            error,
            news=False,
            ref=ref,
            retired_reason=reason,
        )

    def _failed(
        self,
        tracker: Tracker,
        options: PollingOptions,
        now: datetime,
        failed: CheckFailed,
        gate: Any,
    ) -> Outcome:
        """The check failed as a whole; a spent budget or a slowed carrier is no failure."""
        if failed.code == "budget_spent":
            when = next_day(now)
        elif failed.code == "slowed":
            when = now + timedelta(seconds=max(1.0, gate.slowed_for(self.client.clock())))
        else:
            return self._failure(tracker, options, now, failed.code)
        return Outcome(
            now,
            tracker.status,
            tracker.estimated_delivery,
            when,
            tracker.failures,
            failed.code,
            news=False,
        )

    def _not_configured(self, tracker: Tracker, now: datetime, code: str) -> Outcome:
        return Outcome(
            now,
            tracker.status,
            tracker.estimated_delivery,
            now + NOT_CONFIGURED_RETRY,
            tracker.failures + 1,
            code,
            news=False,
        )

    def _complete(
        self,
        tracker: Tracker,
        outcome: Outcome,
        answer: CheckAnswer | CheckFailed | None = None,
        trigger: str = "schedule",
    ) -> Checked:
        """Write the check's outcome on its tracker (with the check among its latest)."""
        config = self.pipeline.tenants(tracker.tenant)
        retention = config.retention_days if config else 30
        check = Check(
            carrier=tracker.carrier,
            tracking_number=tracker.tracking_number,
            checked_at=outcome.checked_at,
            # to a tenth, as the check log keeps it: what a refresh answers is what is logged
            duration_ms=round(answer.duration_ms, 1) if answer is not None else 0.0,
            http_status=answer.http_status if answer is not None else None,
            events_added=outcome.events_added,
            status_changed=outcome.status is not tracker.status and outcome.news,
            error=outcome.error,
            trigger=trigger,
        )
        owner = self.owner if trigger == "refresh" else None
        try:
            done = self.trackers.complete(tracker, owner, outcome, retention, check)
        except TrackerChangedError:  # removed or refreshed meanwhile: theirs stands
            done = tracker
        return Checked(done, check)

    def _log(self, tenant: str, carrier: str, done: list[Checked]) -> list[Checked]:
        """Add checks made together to the day's log (one packed item, not one each)."""
        if done:
            config = self.pipeline.tenants(tenant)
            retention = config.retention_days if config else 30
            self.checks.add(tenant, carrier, [c.check for c in done], retention)
        return done
