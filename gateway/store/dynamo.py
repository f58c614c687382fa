"""The shipment store: events, dedupe and current state on one DynamoDB table.

Write path for one delivery (see ``record``):

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
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from gateway.errors import StoreUnavailableError
from gateway.models import CanonicalEvent, ShipmentState, instant_text
from gateway.store import codec
from gateway.store.capacity import CapacityMeter
from gateway.store.keys import EVENT_PREFIX, STATE_PREFIX, shipment_pk, state_sk

FINGERPRINT_PREFIX_BYTES = 8
DELIVERY_RING = 4
_CONDITION_FAILED = "ConditionalCheckFailedException"

ShipmentKey = tuple[str, str, str]  # tenant, tracking number, carrier


@dataclass(frozen=True)
class RecordResult:
    """Event ids newly stored and already known; ``duplicate_delivery`` for a plain retry."""

    accepted: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    duplicate_delivery: bool = False


def fingerprint_prefix(event: CanonicalEvent) -> bytes:
    """The first bytes of the event's fingerprint, as kept on the state item."""
    return bytes.fromhex(event.event_id.removeprefix("ev_"))[:FINGERPRINT_PREFIX_BYTES]


def delivery_digest(delivery_key: str) -> bytes:
    """Short digest of a delivery id or body hash, for the state's delivery ring."""
    return hashlib.sha256(delivery_key.encode()).digest()[:FINGERPRINT_PREFIX_BYTES]


@contextmanager
def store_errors() -> Iterator[None]:
    """Anything DynamoDB refuses becomes a 503 the carrier retries (dedupe makes it safe)."""
    try:
        yield
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "unknown")
        raise StoreUnavailableError(f"storage refused the write ({code})") from exc
    except BotoCoreError as exc:
        raise StoreUnavailableError(f"storage unreachable ({type(exc).__name__})") from exc


class DynamoStore:
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
        """Store the new events of one delivery and advance each shipment's state."""
        result = RecordResult()
        groups: dict[ShipmentKey, dict[str, CanonicalEvent]] = {}
        for event in events:
            key = (event.tenant, event.tracking_number, event.carrier)
            groups.setdefault(key, {})[event.event_id] = event
        digest = delivery_digest(delivery_key)
        expires_at = int((now + timedelta(days=retention_days)).timestamp())
        with store_errors():
            states = self._read_states(list(groups))
            replayed = [
                digest in states.get(key, {}).get("dlv", {}).get("BS", []) for key in groups
            ]
            for key, batch in groups.items():
                self._record_shipment(
                    key, list(batch.values()), states.get(key), digest, now, expires_at, result
                )
        return RecordResult(result.accepted, result.duplicates, bool(replayed) and all(replayed))

    def _record_shipment(
        self,
        key: ShipmentKey,
        events: list[CanonicalEvent],
        state: dict[str, Any] | None,
        digest: bytes,
        now: datetime,
        expires_at: int,
        result: RecordResult,
    ) -> None:
        known = set(state["fps"]["BS"]) if state else set()
        ring = list(state.get("dlv", {}).get("BS", [])) if state else []
        fresh = [e for e in events if fingerprint_prefix(e) not in known]
        result.duplicates.extend(e.event_id for e in events if fingerprint_prefix(e) in known)
        if not fresh:
            return
        write_id = os.urandom(8)
        for event in fresh:
            stored = self._put_new(codec.event_item(event, expires_at), write_id)
            (result.accepted if stored else result.duplicates).append(event.event_id)
        ring = ([digest] + [d for d in ring if d != digest])[:DELIVERY_RING]
        self._update_state(key, state, fresh, ring, now, expires_at)

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

    def _update_state(
        self,
        key: ShipmentKey,
        state: dict[str, Any] | None,
        fresh: list[CanonicalEvent],
        ring: list[bytes],
        now: datetime,
        expires_at: int,
    ) -> None:
        """Add the fingerprints; move the status (or only the ETA) when the news is newer."""
        tenant, tracking_number, carrier = key
        request = {
            "TableName": self.table,
            "Key": {
                "pk": {"S": shipment_pk(tenant, tracking_number)},
                "sk": {"S": state_sk(carrier)},
            },
            "ReturnConsumedCapacity": "TOTAL",
        }
        values: dict[str, Any] = {
            ":fps": {"BS": [fingerprint_prefix(e) for e in fresh]},
            ":dlv": {"BS": ring},
            ":now": {"S": instant_text(now)},
            ":exp": {"N": str(expires_at)},
        }
        base = "ADD fps :fps SET dlv = :dlv, last_received_at = :now, expires_at = :exp"
        # Once a state exists, an ETA-only event (UPS type U) moves the ETA, never the status.
        movers = [e for e in fresh if not (state and e.eta_only)]
        revisions = [e for e in fresh if state and e.eta_only and e.estimated_delivery]
        current_key = state.get("latest_key", {}).get("S") if state else None
        if revisions and not movers:
            newest = max(revisions, key=CanonicalEvent.ordering_key)
            eta = {
                ":eta": {"S": str(newest.estimated_delivery)},
                ":lk": {"S": newest.ordering_key()},
            }
            if self._conditional_update(
                request, base + ", eta = :eta", values | eta, "latest_key < :lk"
            ):
                return
        latest = max(movers, key=CanonicalEvent.ordering_key) if movers else None
        if latest is not None and (current_key is None or latest.ordering_key() > current_key):
            expression, advance = _advance(base, values, latest)
            condition = "attribute_not_exists(latest_key) OR latest_key < :lk"
            if self._conditional_update(request, expression, advance, condition):
                return
        response = self.client.update_item(
            **request, UpdateExpression=base, ExpressionAttributeValues=values
        )
        self.meter.add_write(response)

    def _conditional_update(
        self, request: dict[str, Any], expression: str, values: dict[str, Any], condition: str
    ) -> bool:
        """One guarded update; False when a newer event won the race (the condition failed)."""
        if "#status" in expression:
            request = request | {"ExpressionAttributeNames": {"#status": "status"}}
        try:
            response = self.client.update_item(
                **request,
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != _CONDITION_FAILED:
                raise
            return False
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

    # -- read path ----------------------------------------------------------------

    def get_shipments(
        self, tenant: str, tracking_number: str, now: datetime
    ) -> list[ShipmentState]:
        """Current state per carrier: one strongly consistent query of one partition."""
        with store_errors():
            response = self.client.query(
                TableName=self.table,
                KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
                ExpressionAttributeValues={
                    ":pk": {"S": shipment_pk(tenant, tracking_number)},
                    ":prefix": {"S": STATE_PREFIX},
                },
                ConsistentRead=True,
                ReturnConsumedCapacity="TOTAL",
            )
        self.meter.add_read(response)
        return [
            codec.state_from_item(tenant, tracking_number, item)
            for item in response.get("Items", [])
            if not _expired(item, now)
        ]

    def list_events(
        self,
        tenant: str,
        tracking_number: str,
        *,
        now: datetime,
        carrier: str | None = None,
        limit: int = 100,
        after: str | None = None,
    ) -> tuple[list[CanonicalEvent], str | None]:
        """A page of history in event-time order; returns the sort key to continue after."""
        pk = shipment_pk(tenant, tracking_number)
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": pk}, ":prefix": {"S": EVENT_PREFIX}},
            "Limit": limit,
            "ReturnConsumedCapacity": "TOTAL",
        }
        if after is not None:
            request["ExclusiveStartKey"] = {"pk": {"S": pk}, "sk": {"S": after}}
        with store_errors():
            response = self.client.query(**request)
        self.meter.add_read(response)
        events = [
            codec.event_from_item(item)
            for item in response.get("Items", [])
            if not _expired(item, now) and (carrier is None or item["carrier"]["S"] == carrier)
        ]
        last = response.get("LastEvaluatedKey")
        return events, (last["sk"]["S"] if last else None)


def _advance(
    base: str, values: dict[str, Any], latest: CanonicalEvent
) -> tuple[str, dict[str, Any]]:
    """The update expression and values that make ``latest`` the current state."""
    advance = values | {
        ":lk": {"S": latest.ordering_key()},
        ":st": {"S": latest.status.value},
        ":le": {"S": codec.last_event_doc(latest)},
    }
    sets = ", latest_key = :lk, #status = :st, le = :le"
    if latest.detail is not None:
        advance[":detail"] = {"S": latest.detail}
        sets += ", detail = :detail"
    if latest.estimated_delivery is not None:
        advance[":eta"] = {"S": latest.estimated_delivery}
        sets += ", eta = :eta"
    return base + sets + ("" if latest.detail is not None else " REMOVE detail"), advance


def _expired(item: dict[str, Any], now: datetime) -> bool:
    """TTL deletion lags (up to days on AWS): reads filter expired items themselves."""
    expires = item.get("expires_at", {}).get("N")
    return expires is not None and int(expires) <= int(now.timestamp())
