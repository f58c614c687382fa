"""The shipment store: events, dedupe and current state on one DynamoDB table.

Write path for one delivery (see ``record``), per shipment and carrier:

0. every item the delivery would write is built and checked against DynamoDB's limits
   first, so content DynamoDB would refuse fails before anything is written;
1. one strongly consistent Query reads the state and its fingerprint pages
   (``gateway/store/shipment.py``): every known event, and the last deliveries;
2. a conditional put (``attribute_not_exists``) for each event not yet known: the put
   *is* the dedupe, so concurrent copies cannot both win. A copy whose put loses reads
   what is still missing (after a short pause when the winner is still writing) and puts
   only that, so a k-way race of identical deliveries costs about one failed write per
   losing copy;
3. one update of the state (``gateway/store/state.py``) with what the state does not know
   yet: what this copy stored, and what it found stored by others. A copy that found a
   racing copy's events first gives it a few milliseconds and reads the state again, so
   it usually writes nothing; each fingerprint is guarded, so an event is counted once.

A retried delivery costs the read only; a resend with ``k`` new events costs ``k + 1``
writes (``k + 2`` when the state's fingerprints spill into a page). A crash between 2 and
3 heals on the carrier's retry: the retry's put finds the event stored, the state does not
know it, and the retry teaches it.
Reads are ``gateway/store/reads.py``.
"""

from __future__ import annotations

import hashlib
import os
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from botocore.exceptions import ClientError

from gateway.errors import StoreUnavailableError
from gateway.models import CanonicalEvent
from gateway.store import codec
from gateway.store.capacity import CapacityMeter
from gateway.store.errors import condition_failed, store_errors
from gateway.store.reads import ShipmentReads
from gateway.store.shipment import (
    FINGERPRINT_PREFIX_BYTES,
    ShipmentKey,
    ShipmentRead,
    fingerprint_prefix,
    read_shipment,
)
from gateway.store.state import compose

__all__ = ["DynamoStore", "RecordResult", "fingerprint_prefix"]

DELIVERY_RING = 4
MAX_STATE_ATTEMPTS = 10
STATE_BACKOFF = 0.005  # seconds, times the attempt, jittered: racing copies spread out
ACTIVE_WRITER_SECONDS = 10
"""A foreign event item younger than this was written by a copy that may still be running
(it will most likely update the state itself); an older one by a writer that is gone."""
WAIT_FOR_WRITER = (0.01, 0.02, 0.04, 0.08, 0.16)  # pauses while a racing copy still puts
WAIT_FOR_STATE = (0.05, 0.1)  # pauses before reading whether it taught the state


Source = Literal["push", "submit", "poll"]
TrackedNews = Callable[[dict[str, Any], dict[str, Any], datetime, Source], None]
"""Told of new events for a shipment that has a tracker: (its tracker item, the state's
``status`` and ``eta`` after them, now, source)."""


def _status_and_eta(item: dict[str, Any]) -> dict[str, Any]:
    return {name: item[name]["S"] for name in ("status", "eta") if name in item}


@dataclass(frozen=True)
class RecordResult:
    """Event ids newly stored and already known; ``duplicate_delivery`` for a plain retry."""

    accepted: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    duplicate_delivery: bool = False
    states: dict[ShipmentKey, dict[str, Any]] = field(default_factory=dict)
    """Each shipment's ``status`` and ``eta`` after this write, where it wrote the state."""


def delivery_digest(delivery_key: str) -> bytes:
    """Short digest of a delivery id or body hash, for the state's delivery ring."""
    return hashlib.sha256(delivery_key.encode()).digest()[:FINGERPRINT_PREFIX_BYTES]


def write_id(now: float) -> bytes:
    """Tells this call's puts from anyone else's, and says when they were made."""
    return int(now).to_bytes(4, "big") + os.urandom(4)


def _written_at(wid: bytes) -> int:
    return int.from_bytes(wid[:4], "big") if len(wid) == 8 else 0


@dataclass
class Puts:
    """What one copy's puts found: stored by it, by an active writer, by a writer gone."""

    stored: list[CanonicalEvent] = field(default_factory=list)
    active: list[CanonicalEvent] = field(default_factory=list)
    gone: list[CanonicalEvent] = field(default_factory=list)


class DynamoStore(ShipmentReads):
    """Shipments, events and parked deliveries in one table (low-level boto3 client)."""

    def __init__(
        self,
        client: Any,
        table_name: str,
        meter: CapacityMeter | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.table = table_name
        self.meter = meter or CapacityMeter()
        self.sleep = sleep
        self.on_tracked_news: TrackedNews | None = None

    # -- write path ---------------------------------------------------------------

    def record(
        self,
        events: Sequence[CanonicalEvent],
        *,
        delivery_key: str,
        now: datetime,
        retention_days: int,
        body_sha256: str | None = None,
        source: Source = "push",
    ) -> RecordResult:
        """Store the new events of one delivery and advance each shipment's state.

        ``source`` says how they came (``push``, ``submit``, ``poll``). When a shipment
        with new events has a tracker and they did not come from polling it,
        :attr:`on_tracked_news` is told (the poller's schedule counts a push as a check).

        Every item is built and checked before the first write, so content DynamoDB
        would refuse raises :class:`~gateway.errors.UnstorableError` with nothing
        written (a deterministic failure leaves no partial shipment).
        """
        groups: dict[ShipmentKey, dict[str, CanonicalEvent]] = {}
        for event in events:
            key = (event.tenant, event.tracking_number, event.carrier)
            groups.setdefault(key, {})[event.event_id] = event
        digest = delivery_digest(delivery_key)
        expires_at = int((now + timedelta(days=retention_days)).timestamp())
        with store_errors():
            reads = [read_shipment(self.client, self.table, k, self.meter) for k in groups]
        plans = [
            _plan(read, list(groups[read.key].values()), expires_at, body_sha256) for read in reads
        ]
        result = RecordResult()
        with store_errors():
            for plan in plans:
                result.duplicates.extend(e.event_id for e in plan.known)
                if plan.fresh:
                    self._write(plan, digest, now, expires_at, result, source)
        replayed = [digest in plan.read.ring for plan in plans]
        return RecordResult(
            result.accepted, result.duplicates, bool(replayed) and all(replayed), result.states
        )

    def _write(
        self,
        plan: ShipmentWrite,
        digest: bytes,
        now: datetime,
        expires_at: int,
        result: RecordResult,
        source: Source,
    ) -> None:
        """Put each new event (the put is the dedupe), then teach the state what it lacks."""
        puts = self._put_fresh(plan, now)
        result.accepted.extend(e.event_id for e in puts.stored)
        result.duplicates.extend(e.event_id for e in puts.active + puts.gone)
        read = plan.read
        if puts.active:  # a racing copy is still writing: let it teach the state itself
            read = self._await_writer(read, puts.active)
        after = self._update_state(
            read, puts.stored, puts.active + puts.gone, digest, now, expires_at, source
        )
        result.states[read.key] = after
        if puts.stored and read.tracker is not None and source != "poll" and self.on_tracked_news:
            self.on_tracked_news(read.tracker, after, now, source)

    def _await_writer(self, read: ShipmentRead, active: list[CanonicalEvent]) -> ShipmentRead:
        """Read the state again, after short pauses, until it knows what ``active`` wrote.

        The racing copy usually updates the state within milliseconds; if it crashed, this
        copy teaches the state itself once the pauses are over (the carrier's retry heals).
        """
        wanted = {fingerprint_prefix(e) for e in active}
        for pause in WAIT_FOR_STATE:
            self.sleep(pause)
            read = read_shipment(self.client, self.table, read.key, self.meter)
            if wanted <= read.known:
                break
        return read

    def _put_fresh(self, plan: ShipmentWrite, now: datetime) -> Puts:
        """Put each event; after a lost put, only what a re-read shows still missing."""
        wid, puts = write_id(now.timestamp()), Puts()
        pending = list(zip(plan.fresh, plan.items, strict=True))
        while pending:
            event, item = pending.pop(0)
            found = self._put_new(item, wid)
            if found is None:
                puts.stored.append(event)
                continue
            active = now.timestamp() - _written_at(found) < ACTIVE_WRITER_SECONDS
            (puts.active if active else puts.gone).append(event)
            if pending:  # someone else writes this shipment: see what is still missing
                if active:
                    self._await_puts(pending[-1][1])
                pending = self._still_missing(pending, now, puts)
        return puts

    def _await_puts(self, last: dict[str, Any]) -> None:
        """Give a racing copy, which puts the same events in the same order, time to put
        the last one (a probe of one key between short pauses; it may have crashed)."""
        key = {"pk": last["pk"], "sk": last["sk"]}
        for pause in WAIT_FOR_WRITER:
            self.sleep(pause)
            response = self.client.get_item(
                TableName=self.table,
                Key=key,
                ConsistentRead=True,
                ProjectionExpression="sk",
                ReturnConsumedCapacity="TOTAL",
            )
            self.meter.add_read(response)
            if "Item" in response:
                return

    def _put_new(self, item: dict[str, Any], wid: bytes) -> bytes | None:
        """Put unless the key exists; None when this call's write is the one stored, else
        the write id of the item found (an SDK retry of our own lost write is ours)."""
        try:
            response = self.client.put_item(
                TableName=self.table,
                Item={**item, "wid": {"B": wid}},
                ConditionExpression="attribute_not_exists(pk)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
                ReturnConsumedCapacity="TOTAL",
            )
        except ClientError as exc:
            if not condition_failed(exc):
                raise
            self.meter.add_failed_write(item)
            old: dict[str, Any] = exc.response.get("Item") or {}  # type: ignore[assignment]
            found = bytes(old.get("wid", {}).get("B", b""))
            return None if found == wid else found
        self.meter.add_write(response)
        return None

    def _still_missing(
        self,
        pending: list[tuple[CanonicalEvent, dict[str, Any]]],
        now: datetime,
        puts: Puts,
    ) -> list[tuple[CanonicalEvent, dict[str, Any]]]:
        """The pending events not stored yet (strongly consistent reads, in chunks)."""
        found: dict[str, bytes] = {}
        for start in range(0, len(pending), 100):
            chunk = pending[start : start + 100]
            keys = [{"pk": item["pk"], "sk": item["sk"]} for _, item in chunk]
            request: dict[str, Any] = {
                self.table: {
                    "Keys": keys,
                    "ConsistentRead": True,
                    "ProjectionExpression": "sk, wid",
                }
            }
            for _ in range(5):  # unprocessed keys are asked for again, a few times
                response = self.client.batch_get_item(
                    RequestItems=request, ReturnConsumedCapacity="TOTAL"
                )
                self.meter.add_read(response)
                for got in response.get("Responses", {}).get(self.table, []):
                    found[got["sk"]["S"]] = bytes(got.get("wid", {}).get("B", b""))
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
        missing = []
        for event, item in pending:
            wid = found.get(item["sk"]["S"])
            if wid is None:
                missing.append((event, item))
            elif now.timestamp() - _written_at(wid) < ACTIVE_WRITER_SECONDS:
                puts.active.append(event)
            else:
                puts.gone.append(event)
        return missing

    def _update_state(
        self,
        read: ShipmentRead,
        stored: list[CanonicalEvent],
        found: list[CanonicalEvent],
        digest: bytes,
        now: datetime,
        expires_at: int,
        source: Source = "push",
    ) -> dict[str, Any]:
        """Compose and write the state update; read again and recompose when it lost a race.

        The state's ``status`` and ``eta`` after it, as far as this call knows (a
        tracker's schedule follows them).
        """
        for attempt in range(MAX_STATE_ATTEMPTS):
            update = compose(read, stored, found, digest, DELIVERY_RING, now, expires_at, source)
            if update is None:
                return _status_and_eta(read.state or {})
            spilled = all([self._put_page(page) for page in update.pages])
            if spilled and self._conditional_update(update.request(read)):
                return _status_and_eta({**(read.state or {}), **update.sets})
            if spilled:  # the update's condition failed (billed all the same); else a racing
                # spill took the page number first: this spill must be composed again
                self.meter.add_failed_write(read.state or read.state_key())
            self.sleep(random.uniform(0, STATE_BACKOFF * (attempt + 1)))  # jittered
            read = read_shipment(self.client, self.table, read.key, self.meter)
        raise StoreUnavailableError("the shipment's state kept changing; retry the delivery")

    def _put_page(self, page: dict[str, Any]) -> bool:
        """Write a spilled page; False when one exists already (a racing spill's, whose
        content may differ: the state update that assumed this one must not be made)."""
        try:
            response = self.client.put_item(
                TableName=self.table,
                Item=page,
                ConditionExpression="attribute_not_exists(pk)",
                ReturnConsumedCapacity="TOTAL",
            )
        except ClientError as exc:
            if not condition_failed(exc):
                raise
            self.meter.add_failed_write(page)
            return False
        self.meter.add_write(response)
        return True

    def _conditional_update(self, request: dict[str, Any]) -> bool:
        """One guarded update; False when its condition failed (someone wrote meanwhile)."""
        try:
            response = self.client.update_item(TableName=self.table, **request)
        except ClientError as exc:
            if not condition_failed(exc):
                raise
            return False
        self.meter.add_write(response)
        return True


@dataclass(frozen=True)
class ShipmentWrite:
    """What one delivery will write for one shipment, built and checked before any write."""

    read: ShipmentRead
    known: list[CanonicalEvent]  # the state or its pages know them already
    fresh: list[CanonicalEvent]
    items: list[dict[str, Any]]  # one checked item per fresh event


def _plan(
    read: ShipmentRead, events: list[CanonicalEvent], expires_at: int, body_sha256: str | None
) -> ShipmentWrite:
    known = read.known
    fresh = [e for e in events if fingerprint_prefix(e) not in known]
    items = [codec.event_item(e, expires_at, f"event {e.event_id}", body_sha256) for e in fresh]
    if fresh:
        codec.last_event_doc(max(fresh, key=CanonicalEvent.ordering_key))  # its text too
    return ShipmentWrite(
        read=read,
        known=[e for e in events if fingerprint_prefix(e) in known],
        fresh=fresh,
        items=items,
    )
