"""Notification messages: their ids, their bodies, their items and their attempts.

A message is one (endpoint, event, type). Its id is derived from those three and from
when the event was received (48 bits of milliseconds, then 80 bits of a SHA-256, in
Crockford base32: ids sort by time like ULIDs), so the stream delivering a record twice
finds the same message, and the ``webhook-id`` a receiver dedupes on is stable across
retries. The item stays under 1 KB: it holds a snapshot of the shipment (status,
previous status, when it changed, ETA) and the event's key, not the event; the body is
rebuilt from the event item, byte for byte the same on every attempt. So a message that
succeeds on its first attempt costs two write units: its put and its result.

States: ``sending`` (first attempt under way), ``pending`` (waiting for a retry: on the
due index), ``delivered``, ``failed`` (attempts exhausted, or the endpoint said 410),
``paused`` (its endpoint is disabled: sent when enabled), ``dropped`` (its endpoint was
deleted).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from gateway.errors import GatewayError, NotFoundError
from gateway.models import instant_text, parse_instant_text, utc_text
from gateway.store.capacity import CapacityMeter
from gateway.store.due_index import (
    DUE_INDEX_NAME,
    DUE_PK,
    DUE_SHARDS,
    DUE_SK,
    due_keys,
    due_partition,
)
from gateway.store.errors import condition_failed, store_errors
from gateway.store.keys import message_pk

MESSAGE_SHARDS = 8
ATTEMPTS_KEPT = 12
STATES = ("sending", "pending", "delivered", "failed", "paused", "dropped")
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
MESSAGE_ID = re.compile(f"msg_[{_CROCKFORD}]{{26}}")


def _base32(value: int, length: int) -> str:
    return "".join(_CROCKFORD[(value >> (5 * i)) & 31] for i in reversed(range(length)))


def message_id(endpoint_id: str, event_id: str, message_type: str, received_at: datetime) -> str:
    """The message's id (its ``webhook-id``): time-ordered, the same however often derived.

    >>> from datetime import UTC
    >>> at = datetime(2026, 1, 2, tzinfo=UTC)
    >>> message_id("ep_1", "ev_1", "shipment.status_changed", at)
    'msg_01KDY02100SJ6VXE50WR0H7TPS'
    >>> message_id("ep_1", "ev_1", "shipment.event_added", at)[:14]  # same instant, sorts with it
    'msg_01KDY02100'
    """
    digest = hashlib.sha256(f"{endpoint_id}\n{event_id}\n{message_type}".encode()).digest()
    millis = int(received_at.timestamp() * 1000) & ((1 << 48) - 1)
    value = (millis << 80) | int.from_bytes(digest[:10], "big")
    return "msg_" + _base32(value, 26)


def shard_of(message: str) -> int:
    """The shard of a message id (from its hash part, so any id names its shard)."""
    return _CROCKFORD.index(message[-1]) % MESSAGE_SHARDS


@dataclass(frozen=True)
class Attempt:
    """One try: when, the HTTP status (None: no answer), how long, why it failed."""

    at: datetime
    status: int | None
    latency_ms: int
    error: str | None = None
    trigger: str = "stream"  # stream, retry, resend

    def public(self) -> dict[str, Any]:
        """As the API shows it."""
        return {
            "at": utc_text(self.at),
            "status": self.status,
            "latency_ms": self.latency_ms,
            "error": self.error,
            "trigger": self.trigger,
        }


@dataclass(frozen=True)
class Message:
    """One message for one endpoint (see the module docstring)."""

    tenant: str
    endpoint_id: str
    id: str
    type: str
    tracking_number: str
    carrier: str
    event_sk: str
    snapshot: dict[str, Any]  # status, previous_status, status_changed_at, estimated_delivery
    timestamp: datetime
    expires_at: int
    state: str = "sending"
    attempts: tuple[Attempt, ...] = ()
    attempt_count: int = 0
    next_at: datetime | None = None
    lease: str | None = None
    due_sk: str | None = field(default=None, repr=False)

    @property
    def pk(self) -> str:
        """Its partition."""
        return message_pk(self.tenant, self.endpoint_id, shard_of(self.id))

    @property
    def key(self) -> dict[str, Any]:
        """Its table key."""
        return {"pk": {"S": self.pk}, "sk": {"S": self.id}}

    def body(self, event_doc: str) -> bytes:
        """The JSON body, from the event's stored document (the same bytes every time)."""
        data = {
            "tracking_number": self.tracking_number,
            "carrier": self.carrier,
            **{name: self.snapshot.get(name) for name in SNAPSHOT_FIELDS},
            "event": json.loads(event_doc),
        }
        document = {"type": self.type, "timestamp": utc_text(self.timestamp), "data": data}
        return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()

    def public(self) -> dict[str, Any]:
        """As the API lists it."""
        return {
            "id": self.id,
            "type": self.type,
            "tracking_number": self.tracking_number,
            "carrier": self.carrier,
            "status": self.snapshot.get("status"),
            "state": self.state,
            "created_at": utc_text(self.timestamp),
            "next_attempt_at": utc_text(self.next_at) if self.next_at else None,
            "attempts": [a.public() for a in self.attempts],
        }


SNAPSHOT_FIELDS = ("status", "previous_status", "status_changed_at", "estimated_delivery")


def _attempt_value(attempt: Attempt) -> dict[str, Any]:
    value: dict[str, Any] = {
        "at": {"S": instant_text(attempt.at)},
        "ms": {"N": str(attempt.latency_ms)},
        "by": {"S": attempt.trigger},
    }
    if attempt.status is not None:
        value["code"] = {"N": str(attempt.status)}
    if attempt.error:
        value["err"] = {"S": attempt.error}
    return {"M": value}


def _attempt_of(value: dict[str, Any]) -> Attempt:
    entry = value["M"]
    code = entry.get("code", {}).get("N")
    return Attempt(
        at=parse_instant_text(entry["at"]["S"]),
        status=int(code) if code is not None else None,
        latency_ms=int(entry["ms"]["N"]),
        error=entry.get("err", {}).get("S"),
        trigger=entry.get("by", {}).get("S", "stream"),
    )


def message_item(message: Message) -> dict[str, Any]:
    """The item of a new message (no attempt yet)."""
    return {
        **message.key,
        "tenant": {"S": message.tenant},
        "ep": {"S": message.endpoint_id},
        "type": {"S": message.type},
        "tn": {"S": message.tracking_number},
        "carrier": {"S": message.carrier},
        "esk": {"S": message.event_sk},
        "snap": {"S": json.dumps(message.snapshot, separators=(",", ":"))},
        "ts": {"S": instant_text(message.timestamp)},
        "st": {"S": message.state},
        "n": {"N": str(message.attempt_count)},
        "att": {"L": [_attempt_value(a) for a in message.attempts]},
        "expires_at": {"N": str(message.expires_at)},
    }


def message_from_item(item: dict[str, Any]) -> Message:
    """Rebuild a message from its item."""
    next_at = item.get("next", {}).get("S")
    return Message(
        tenant=item["tenant"]["S"],
        endpoint_id=item["ep"]["S"],
        id=item["sk"]["S"],
        type=item["type"]["S"],
        tracking_number=item["tn"]["S"],
        carrier=item["carrier"]["S"],
        event_sk=item["esk"]["S"],
        snapshot=json.loads(item["snap"]["S"]),
        timestamp=parse_instant_text(item["ts"]["S"]),
        expires_at=int(item["expires_at"]["N"]),
        state=item["st"]["S"],
        attempts=tuple(_attempt_of(v) for v in item.get("att", {}).get("L", [])),
        attempt_count=int(item.get("n", {}).get("N", "0")),
        next_at=parse_instant_text(next_at) if next_at else None,
        lease=item.get("lease", {}).get("S"),
        due_sk=item.get(DUE_SK, {}).get("S"),
    )


def _live(items: list[dict[str, Any]], now: datetime) -> list[Message]:
    """The messages of ``items`` not past their expiry (TTL deletion lags by days)."""
    limit = now.timestamp()
    return [m for m in map(message_from_item, items) if m.expires_at > limit]


class MessageChangedError(GatewayError):
    """The message changed between reading and writing it (another sender has it)."""

    status, code = 409, "message_changed"


class MessageStore:
    """Messages in the table, and the due index that holds those waiting for a retry."""

    def __init__(
        self, client: Any, table: str, meter: CapacityMeter, clock: Callable[[], datetime]
    ) -> None:
        self.client, self.table, self.meter, self.clock = client, table, meter, clock

    def create(self, message: Message) -> tuple[Message, bool]:
        """Store a new message; when it exists already (the stream repeats itself), the
        stored one and False."""
        try:
            self._call(
                "put_item",
                Item=message_item(message),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except MessageChangedError:
            return self.get(message.tenant, message.endpoint_id, message.id), False
        return message, True

    def get(self, tenant: str, endpoint_id: str, message: str) -> Message:
        """One message; :class:`NotFoundError` when there is none by that id."""
        if not MESSAGE_ID.fullmatch(message):
            raise NotFoundError("no such message")
        key = {
            "pk": {"S": message_pk(tenant, endpoint_id, shard_of(message))},
            "sk": {"S": message},
        }
        answer = self._call("get_item", Key=key, ConsistentRead=True, metered="read")
        if "Item" not in answer:
            raise NotFoundError("no such message")
        return message_from_item(answer["Item"])

    def record(
        self,
        message: Message,
        attempt: Attempt | None,
        state: str,
        *,
        due_at: datetime | None = None,
        spread: int = 0,
    ) -> Message:
        """Write an attempt's outcome (or a change of state), guarded by what was read:
        the state and the lease. ``due_at`` puts the message on the due index."""
        attempts = list(message.attempts) + ([attempt] if attempt else [])
        attempts = attempts[-ATTEMPTS_KEPT:]
        count = message.attempt_count + (1 if attempt else 0)
        sets: dict[str, dict[str, Any]] = {
            "st": {"S": state},
            "n": {"N": str(count)},
            "att": {"L": [_attempt_value(a) for a in attempts]},
        }
        removes = ["lease", "lease_until"]
        if due_at is not None:
            sets |= due_keys(spread, due_at) | {"next": {"S": instant_text(due_at)}}
        else:
            removes += [DUE_PK, DUE_SK, "next"]
        names = {f"#{n}": n for n in [*sets, *removes]} | {"#st_was": "st"}
        values = {f":{n}": v for n, v in sets.items()} | {":st_was": {"S": message.state}}
        condition = "#st_was = :st_was"
        if message.lease is not None:
            names["#lease_was"] = "lease"
            values[":lease_was"] = {"S": message.lease}
            condition += " AND #lease_was = :lease_was"
        expression = "SET " + ", ".join(f"#{n} = :{n}" for n in sets)
        expression += " REMOVE " + ", ".join(f"#{n}" for n in removes)
        self._call(
            "update_item",
            Key=message.key,
            UpdateExpression=expression,
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )
        return replace(
            message,
            state=state,
            attempts=tuple(attempts),
            attempt_count=count,
            next_at=due_at,
            lease=None,
            due_sk=instant_text(due_at) if due_at is not None else None,
        )

    def claim(self, message: Message, token: str, until: datetime, now: datetime) -> Message:
        """Take a due message for one sender until ``until``; :class:`MessageChangedError`
        when another sender has it or it is no longer due as read."""
        self._call(
            "update_item",
            Key=message.key,
            UpdateExpression="SET lease = :token, lease_until = :until",
            ConditionExpression=(
                "st = :pending AND due_sk = :seen"
                " AND (attribute_not_exists(lease_until) OR lease_until < :now)"
            ),
            ExpressionAttributeValues={
                ":token": {"S": token},
                ":until": {"S": instant_text(until)},
                ":pending": {"S": "pending"},
                ":seen": {"S": message.due_sk or ""},
                ":now": {"S": instant_text(now)},
            },
        )
        return replace(message, lease=token)

    def due(self, now: datetime, limit: int) -> list[Message]:
        """Messages whose next attempt is due, oldest first per shard (no Scan)."""
        keys: list[dict[str, Any]] = []
        for shard in range(DUE_SHARDS):
            answer = self._call(
                "query",
                IndexName=DUE_INDEX_NAME,
                KeyConditionExpression="due_pk = :pk AND due_sk <= :now",
                ExpressionAttributeValues={
                    ":pk": {"S": due_partition(shard)},
                    ":now": {"S": instant_text(now)},
                },
                Limit=limit,
                metered="read",
            )
            keys += [{"pk": i["pk"], "sk": i["sk"]} for i in answer.get("Items", [])]
        return _live(self._get_many(keys[:limit]), now)

    def newest(
        self, tenant: str, endpoint_id: str, *, state: str | None, limit: int, before: str | None
    ) -> list[Message]:
        """An endpoint's messages newest first (ids before ``before``), maybe of one state."""
        found: list[Message] = []
        for shard in range(MESSAGE_SHARDS):
            found += self._list_shard(tenant, endpoint_id, shard, state, limit, before)
        found.sort(key=lambda m: m.id, reverse=True)
        return found[:limit]

    def each(self, tenant: str, endpoint_id: str, states: tuple[str, ...]) -> Iterator[Message]:
        """Every message of an endpoint in one of ``states`` (for enable, recover, delete)."""
        for shard in range(MESSAGE_SHARDS):
            start: dict[str, Any] | None = None
            while True:
                page = self._query_shard(tenant, endpoint_id, shard, states, 100, None, start)
                yield from _live(page.get("Items", []), self.clock())
                start = page.get("LastEvaluatedKey")
                if not start:
                    break

    def _list_shard(
        self,
        tenant: str,
        endpoint_id: str,
        shard: int,
        state: str | None,
        limit: int,
        before: str | None,
    ) -> list[Message]:
        found: list[Message] = []
        start: dict[str, Any] | None = None
        states = (state,) if state else ()
        for _ in range(10):  # bounded: a filter may skip many items per page
            page = self._query_shard(tenant, endpoint_id, shard, states, limit, before, start)
            found += _live(page.get("Items", []), self.clock())
            start = page.get("LastEvaluatedKey")
            if len(found) >= limit or not start:
                break
        return found[:limit]

    def _query_shard(
        self,
        tenant: str,
        endpoint_id: str,
        shard: int,
        states: tuple[str, ...],
        limit: int,
        before: str | None,
        start: dict[str, Any] | None,
    ) -> dict[str, Any]:
        condition = "pk = :pk" + (" AND sk < :before" if before else "")
        values: dict[str, Any] = {":pk": {"S": message_pk(tenant, endpoint_id, shard)}}
        if before:
            values[":before"] = {"S": before}
        request: dict[str, Any] = {
            "KeyConditionExpression": condition,
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if states:
            names = [f":st{i}" for i in range(len(states))]
            values |= {name: {"S": s} for name, s in zip(names, states, strict=True)}
            request["FilterExpression"] = f"st IN ({', '.join(names)})"
        if start:
            request["ExclusiveStartKey"] = start
        page: dict[str, Any] = self._call(
            "query", ExpressionAttributeValues=values, metered="read", **request
        )
        return page

    def _get_many(self, keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for start in range(0, len(keys), 100):
            pending: dict[str, Any] = {
                self.table: {"Keys": keys[start : start + 100], "ConsistentRead": True}
            }
            for _ in range(5):
                answer = self._call("batch_get_item", RequestItems=pending, table=False)
                items += answer.get("Responses", {}).get(self.table, [])
                pending = answer.get("UnprocessedKeys") or {}
                if not pending:
                    break
        return items

    def _call(
        self, operation: str, *, metered: str = "write", table: bool = True, **request: Any
    ) -> Any:
        if table:
            request["TableName"] = self.table
        request["ReturnConsumedCapacity"] = "TOTAL"
        try:
            with store_errors():
                answer = getattr(self.client, operation)(**request)
        except GatewayError as exc:
            if condition_failed(exc):
                item = request.get("Item") or {"pk": request["Key"]["pk"]}
                self.meter.add_failed_write(item)
                raise MessageChangedError("the message changed meanwhile") from None
            raise
        if metered == "read":
            self.meter.add_read(answer)
        else:
            self.meter.add_write(answer)
        return answer
