"""The shipment store: events, dedupe and current state on one DynamoDB table.

Write path for one delivery (see ``record``):

0. every item the delivery would write is built and checked against DynamoDB's limits
   first, so content DynamoDB would refuse fails before anything is written;
1. one strongly consistent read of each shipment's state item, which carries the
   8-byte prefixes of every known event fingerprint and the last few delivery keys;
2. a conditional put (``attribute_not_exists``) for each event not yet known: the
   put *is* the dedupe, so concurrent retries cannot both win;
3. one update of the state: fingerprints added (idempotent ``ADD``), and the
   current status moved only if the newest event is later than the current one
   (guarded by a condition, so a late or racing event never moves it backwards).

A retried delivery costs reads only; a resend with ``k`` new events costs ``k + 1``
writes. A crash between 2 and 3 heals on retry: the event's prefix is missing from
the state, its put finds it stored, and the state update is made then.

Step 3 is ``gateway/store/state.py``. The state item also carries the status index's
keys (``gateway/store/index.py``), set only when the status changes: an event that
keeps the status writes nothing to the index; a new shipment adds one index write, a
status move two (delete and put). Reads are ``gateway/store/reads.py``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from gateway.models import CanonicalEvent
from gateway.store import codec
from gateway.store.capacity import CapacityMeter
from gateway.store.errors import store_errors
from gateway.store.keys import shipment_pk, state_sk
from gateway.store.reads import ShipmentReads
from gateway.store.state import (
    FINGERPRINT_PREFIX_BYTES,
    ShipmentKey,
    StateUpdates,
    fingerprint_prefix,
)

__all__ = ["DynamoStore", "RecordResult", "fingerprint_prefix", "store_errors"]

DELIVERY_RING = 4
_CONDITION_FAILED = "ConditionalCheckFailedException"


@dataclass(frozen=True)
class RecordResult:
    """Event ids newly stored and already known; ``duplicate_delivery`` for a plain retry."""

    accepted: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    duplicate_delivery: bool = False


def delivery_digest(delivery_key: str) -> bytes:
    """Short digest of a delivery id or body hash, for the state's delivery ring."""
    return hashlib.sha256(delivery_key.encode()).digest()[:FINGERPRINT_PREFIX_BYTES]


class DynamoStore(StateUpdates, ShipmentReads):
    """Shipments, events and parked deliveries in one table (low-level boto3 client)."""

    def __init__(self, client: Any, table_name: str, meter: CapacityMeter | None = None) -> None:
        self.client = client
        self.table = table_name
        self.meter = meter or CapacityMeter()

    # -- write path ---------------------------------------------------------------

    def record(
        self,
        events: Sequence[CanonicalEvent],
        *,
        delivery_key: str,
        now: datetime,
        retention_days: int,
    ) -> RecordResult:
        """Store the new events of one delivery and advance each shipment's state.

        Every item is built and checked before the first write, so content DynamoDB
        would refuse raises :class:`~gateway.errors.UnstorableError` with nothing
        written (a deterministic failure leaves no partial shipment).
        """
        result = RecordResult()
        groups: dict[ShipmentKey, dict[str, CanonicalEvent]] = {}
        for event in events:
            key = (event.tenant, event.tracking_number, event.carrier)
            groups.setdefault(key, {})[event.event_id] = event
        digest = delivery_digest(delivery_key)
        expires_at = int((now + timedelta(days=retention_days)).timestamp())
        with store_errors():
            states = self._read_states(list(groups))
        plans = [
            _plan(key, list(batch.values()), states.get(key), digest, expires_at)
            for key, batch in groups.items()
        ]
        with store_errors():
            for plan in plans:
                result.duplicates.extend(plan.known)
                if plan.fresh:
                    self._write(plan, now, expires_at, result)
        replayed = [digest in plan.ring for plan in plans]
        return RecordResult(result.accepted, result.duplicates, bool(replayed) and all(replayed))

    def _write(
        self, plan: ShipmentWrite, now: datetime, expires_at: int, result: RecordResult
    ) -> None:
        """Put each new event (the put is the dedupe), then update the state."""
        write_id = os.urandom(8)
        for event, item in zip(plan.fresh, plan.items, strict=True):
            stored = self._put_new(item, write_id)
            (result.accepted if stored else result.duplicates).append(event.event_id)
        ring = ([plan.digest] + [d for d in plan.ring if d != plan.digest])[:DELIVERY_RING]
        self._update_state(plan.key, plan.state, plan.fresh, ring, now, expires_at)

    def _put_new(self, item: dict[str, Any], write_id: bytes) -> bool:
        """Put unless the key exists; True when this call's write is the one stored.

        The write id tells our own earlier attempt (an SDK retry after a lost
        response) from another delivery's write, as seen on a failed condition.
        """
        try:
            response = self.client.put_item(
                TableName=self.table,
                Item={**item, "wid": {"B": write_id}},
                ConditionExpression="attribute_not_exists(pk)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
                ReturnConsumedCapacity="TOTAL",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == _CONDITION_FAILED:
                old: dict[str, Any] = exc.response.get("Item") or {}  # type: ignore[assignment]
                return bytes(old.get("wid", {}).get("B", b"")) == write_id
            raise
        self.meter.add_write(response)
        return True

    def _read_states(self, keys: list[ShipmentKey]) -> dict[ShipmentKey, dict[str, Any]]:
        found: dict[ShipmentKey, dict[str, Any]] = {}
        for key in keys:  # one strongly consistent GetItem each; deliveries rarely span many
            tenant, tracking_number, carrier = key
            response = self.client.get_item(
                TableName=self.table,
                Key={
                    "pk": {"S": shipment_pk(tenant, tracking_number)},
                    "sk": {"S": state_sk(carrier)},
                },
                ConsistentRead=True,
                ReturnConsumedCapacity="TOTAL",
            )
            self.meter.add_read(response)
            if "Item" in response:
                found[key] = response["Item"]
        return found


@dataclass(frozen=True)
class ShipmentWrite:
    """What one delivery will write for one shipment, built and checked before any write."""

    key: ShipmentKey
    state: dict[str, Any] | None
    digest: bytes
    ring: list[bytes]  # the delivery digests the state knew
    known: list[str]  # event ids the state already knows
    fresh: list[CanonicalEvent]
    items: list[dict[str, Any]]  # one checked item per fresh event


def _plan(
    key: ShipmentKey,
    events: list[CanonicalEvent],
    state: dict[str, Any] | None,
    digest: bytes,
    expires_at: int,
) -> ShipmentWrite:
    known = set(state["fps"]["BS"]) if state else set()
    fresh = [e for e in events if fingerprint_prefix(e) not in known]
    items = [codec.event_item(e, expires_at, f"event {e.event_id}") for e in fresh]
    if fresh:
        codec.last_event_doc(max(fresh, key=CanonicalEvent.ordering_key))  # its text too
    return ShipmentWrite(
        key=key,
        state=state,
        digest=digest,
        ring=list(state.get("dlv", {}).get("BS", [])) if state else [],
        known=[e.event_id for e in events if fingerprint_prefix(e) in known],
        fresh=fresh,
        items=items,
    )
