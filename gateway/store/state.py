"""The state item's update: fingerprints added, and the current state moved forward.

Moving the state is guarded by a condition (the newest event wins, whatever the
arrival order). The status index's keys (``gateway/store/index.py``) are written only
when the status changes, so an event that keeps the status writes nothing to the index.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from gateway.models import CanonicalEvent, instant_text
from gateway.store import codec
from gateway.store.capacity import CapacityMeter
from gateway.store.index import INDEX_PK, index_keys
from gateway.store.keys import shipment_pk, state_sk

FINGERPRINT_PREFIX_BYTES = 8
ORDER_KEY = "order_key"
"""The current event's :meth:`~gateway.models.CanonicalEvent.ordering_key` (it replaced
``latest_key``, whose text sorted years before 1000 wrongly: a state that still has only
that attribute is moved by the next event, once)."""
_CONDITION_FAILED = "ConditionalCheckFailedException"

ShipmentKey = tuple[str, str, str]  # tenant, tracking number, carrier


def fingerprint_prefix(event: CanonicalEvent) -> bytes:
    """The first bytes of the event's fingerprint, as kept on the state item."""
    return bytes.fromhex(event.event_id.removeprefix("ev_"))[:FINGERPRINT_PREFIX_BYTES]


class StateUpdates:
    """The state-update methods of :class:`~gateway.store.dynamo.DynamoStore`."""

    client: Any
    table: str
    meter: CapacityMeter

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
        # Once a state exists, an ETA-only event (UPS type U) moves the ETA, never the status;
        # the ETA follows the newest event that gave one (``eta_at``).
        movers = [e for e in fresh if not (state and e.eta_only)]
        revisions = [
            e for e in fresh if state and e.eta_only and e.estimated_delivery and e.plausible()
        ]
        if revisions and not movers:
            newest = max(revisions, key=lambda e: e.occurred_at)
            eta = {
                ":eta": {"S": str(newest.estimated_delivery)},
                ":eta_at": {"S": instant_text(newest.occurred_at)},
            }
            if self._conditional_update(
                request,
                base + ", eta = :eta, eta_at = :eta_at",
                values | eta,
                "attribute_not_exists(eta_at) OR eta_at < :eta_at",
            ):
                return
        latest = max(movers, key=CanonicalEvent.ordering_key) if movers else None
        if latest is not None and self._move_state(request, base, values, latest, state, now):
            return
        response = self.client.update_item(
            **request, UpdateExpression=base, ExpressionAttributeValues=values
        )
        self.meter.add_write(response)

    def _move_state(
        self,
        request: dict[str, Any],
        base: str,
        values: dict[str, Any],
        latest: CanonicalEvent,
        state: dict[str, Any] | None,
        now: datetime,
    ) -> bool:
        """Make ``latest`` the current state; False when it is not newer than the current one.

        The index keys are written only when the status changes: the same status as read
        is kept under the guard ``#status = :prev`` (no index write); if that fails,
        another delivery moved the status meanwhile, so the index keys are rewritten too.
        """
        current_key = state.get(ORDER_KEY, {}).get("S") if state else None
        if current_key is not None and latest.ordering_key() <= current_key:
            return False
        newer = f"(attribute_not_exists({ORDER_KEY}) OR {ORDER_KEY} < :lk)"
        prev = state.get("status", {}).get("S") if state and INDEX_PK in state else None
        if prev == latest.status.value:
            expression, advance = _advance(base, values, latest, {})
            guard = {":prev": {"S": prev}}
            condition = f"{newer} AND #status = :prev"
            if self._conditional_update(request, expression, advance | guard, condition):
                return True
        tenant, number, carrier = (latest.tenant, latest.tracking_number, latest.carrier)
        index = index_keys(tenant, number, carrier, latest.status, now)
        expression, advance = _advance(base, values, latest, index)
        return self._conditional_update(request, expression, advance, newer)

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


def _advance(
    base: str, values: dict[str, Any], latest: CanonicalEvent, index: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """The update expression and values that make ``latest`` the current state.

    ``index``: the index key attributes to set (empty when the status stays).
    """
    advance = values | {
        ":lk": {"S": latest.ordering_key()},
        ":st": {"S": latest.status.value},
        ":le": {"S": codec.last_event_doc(latest)},
    }
    sets = f", {ORDER_KEY} = :lk, #status = :st, le = :le"
    for name, value in index.items():
        advance[f":{name}"] = value
        sets += f", {name} = :{name}"
    if latest.detail is not None:
        advance[":detail"] = {"S": latest.detail}
        sets += ", detail = :detail"
    if latest.estimated_delivery is not None:
        advance[":eta"] = {"S": latest.estimated_delivery}
        advance[":eta_at"] = {"S": instant_text(latest.occurred_at)}
        sets += ", eta = :eta, eta_at = :eta_at"
    return base + sets + ("" if latest.detail is not None else " REMOVE detail"), advance
