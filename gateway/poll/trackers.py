"""Trackers: the shipments Waybill polls a carrier for, their schedule and their leases.

A tracker lives in its shipment's partition (``sk = B#{carrier}``), so the shipment GET and
the write path read it with the states at no extra request. While it is active or failing
it carries due-index keys (``POLL#{shard}``, due at its next check): a poller finds what is
due with one Query per shard, never a Scan. Its status-index keys (``TRK#{tenant}#{state}``,
``{carrier}#{number}``) list a tenant's trackers by state; they change only with the state.

Leases: a pass that finds trackers due first takes the pass's lease (one conditional
write on ``LEASE#poll``, given back at the end), then reads the due trackers strongly
consistent and checks them: two passes never run at once, so never check one tracker
twice, and a pass that dies lets go when its lease ends (its trackers are still due).
Completing a check writes its outcome and the next due time in one write,
conditional on the tracker being as the poller read it. A manual refresh claims the one
tracker itself (a lease on the tracker item); a pass skips a tracker leased that way.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from gateway.errors import GatewayError, NotFoundError
from gateway.models import EPOCH, Status, instant_text, parse_instant_text
from gateway.poll.checks import RECENT, Check, entry
from gateway.poll.schedule import next_check
from gateway.store.capacity import CapacityMeter
from gateway.store.conditional import conditional_write
from gateway.store.due_index import (
    DUE_INDEX_NAME,
    DUE_PK,
    DUE_SHARDS,
    DUE_SK,
    TRACKERS,
    due_keys,
    due_partition,
)
from gateway.store.errors import condition_failed, store_errors
from gateway.store.index import INDEX_NAME, INDEX_PK, INDEX_SK
from gateway.store.keys import shipment_pk, tracker_sk
from gateway.store.pages import query_pages

TrackerState = Literal["active", "failing", "retired"]
STATES: tuple[TrackerState, ...] = ("active", "failing", "retired")
FAILING_AFTER = 3  # consecutive failed checks before a tracker reads as failing
LEASE = timedelta(seconds=120)
RETIRED_KEPT = timedelta(days=30)  # a retired tracker is kept this long for its readers
RETIRED = {"S": "retired"}
POLL_LEASE = "LEASE#poll"
PASS_LEASE_KEY = {"pk": {"S": POLL_LEASE}, "sk": {"S": "pass"}}
NO_LIVE_LEASE = "(attribute_not_exists(lease_until) OR lease_until < :now)"


@dataclass(frozen=True)
class Tracker:
    """One tracker as stored."""

    tenant: str
    carrier: str
    tracking_number: str
    state: TrackerState
    created_at: datetime
    status: Status = Status.UNKNOWN
    estimated_delivery: str | None = None
    next_check_at: datetime | None = None
    last_checked_at: datetime | None = None
    last_source: str | None = None
    last_news_at: datetime | None = None
    failures: int = 0
    last_error: str | None = None
    checks: int = 0
    ref: str | None = None
    retired_reason: str | None = None
    lease_owner: str | None = None
    lease_until: datetime | None = None
    recent: tuple[dict[str, Any], ...] = ()  # the latest checks (gateway/poll/checks.py)

    @property
    def key(self) -> dict[str, dict[str, str]]:
        """The item's key."""
        return tracker_key(self.tenant, self.tracking_number, self.carrier)


def tracker_key(tenant: str, tracking_number: str, carrier: str) -> dict[str, dict[str, str]]:
    """The key of a tracker item."""
    return {"pk": {"S": shipment_pk(tenant, tracking_number)}, "sk": {"S": tracker_sk(carrier)}}


def _spread(tenant: str, tracking_number: str, carrier: str) -> int:
    digest = hashlib.sha256(f"{tenant}#{tracking_number}#{carrier}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def listing_pk(tenant: str, state: str) -> str:
    """The status-index partition listing a tenant's trackers in ``state``."""
    return f"TRK#{tenant}#{state}"


def _listing(tenant: str, state: str, carrier: str, number: str) -> dict[str, dict[str, str]]:
    return {INDEX_PK: {"S": listing_pk(tenant, state)}, INDEX_SK: {"S": f"{carrier}#{number}"}}


def _due(tracker_or_key: tuple[str, str, str], due_at: datetime) -> dict[str, dict[str, str]]:
    return due_keys(_spread(*tracker_or_key), due_at, TRACKERS)


def _time(item: dict[str, Any], name: str) -> datetime | None:
    value = item.get(name, {}).get("S")
    return parse_instant_text(value) if value else None


def tracker_from_item(item: dict[str, Any]) -> Tracker:
    """A tracker from its item."""
    created = _time(item, "created_at")
    assert created is not None  # every tracker item is created with it
    return Tracker(
        tenant=item["tenant"]["S"],
        carrier=item["carrier"]["S"],
        tracking_number=item["number"]["S"],
        state=item["state"]["S"],
        created_at=created,
        status=Status(item.get("status", {}).get("S", "unknown")),
        estimated_delivery=item.get("eta", {}).get("S"),
        next_check_at=_time(item, "next_check_at"),
        last_checked_at=_time(item, "last_checked_at"),
        last_source=item.get("last_source", {}).get("S"),
        last_news_at=_time(item, "last_news_at"),
        failures=int(item.get("failures", {}).get("N", "0")),
        last_error=item.get("last_error", {}).get("S"),
        checks=int(item.get("checks", {}).get("N", "0")),
        ref=item.get("ref", {}).get("S"),
        retired_reason=item.get("retired_reason", {}).get("S"),
        lease_owner=item.get("lease_owner", {}).get("S"),
        lease_until=_time(item, "lease_until"),
        recent=tuple(item.get("recent", {}).get("L", [])),
    )


class TrackerChangedError(GatewayError):
    """The tracker changed meanwhile (another poller, a refresh, a removal)."""

    status = 409
    code = "tracker_changed"


@dataclass(frozen=True)
class Outcome:
    """What a check decided for its tracker: the next due time (None: retire) and facts."""

    checked_at: datetime
    status: Status
    estimated_delivery: str | None
    next_check_at: datetime | None
    failures: int
    error: str | None
    news: bool
    source: str = "poll"
    ref: str | None = None
    retired_reason: str | None = None
    events_added: int = 0


def news(
    now: datetime,
    status: Status,
    eta: str | None,
    overrides: Mapping[str, int],
    *,
    source: str = "poll",
    ref: str | None = None,
    added: int = 0,
) -> Outcome:
    """A check that brought news: the schedule follows the shipment's status, and a
    terminal status retires the tracker (for that reason)."""
    when = next_check(status, now, estimated_delivery=eta, overrides=overrides)
    return Outcome(
        checked_at=now,
        status=status,
        estimated_delivery=eta,
        next_check_at=when,
        failures=0,
        error=None,
        news=True,
        source=source,
        ref=ref,
        retired_reason=status.value if when is None else None,
        events_added=added,
    )


class TrackerStore:
    """Trackers in the table (low-level boto3 client, units metered)."""

    def __init__(self, client: Any, table: str, meter: CapacityMeter) -> None:
        self.client = client
        self.table = table
        self.meter = meter

    # -- create, read, list ---------------------------------------------------------

    def create(
        self, tenant: str, carrier: str, tracking_number: str, now: datetime
    ) -> tuple[Tracker, bool]:
        """Start tracking (due now); the existing tracker and False when there is one.

        A retired tracker is started again.
        """
        ident = (tenant, tracking_number, carrier)
        item = {
            **tracker_key(tenant, tracking_number, carrier),
            "tenant": {"S": tenant},
            "carrier": {"S": carrier},
            "number": {"S": tracking_number},
            "state": {"S": "active"},
            "created_at": {"S": instant_text(now)},
            "last_news_at": {"S": instant_text(now)},
            "next_check_at": {"S": instant_text(now)},
            "checks": {"N": "0"},
            "failures": {"N": "0"},
            **_listing(tenant, "active", carrier, tracking_number),
            **_due(ident, now),
        }
        try:
            with store_errors():
                answer = self.client.put_item(
                    TableName=self.table,
                    Item=item,
                    ConditionExpression="attribute_not_exists(pk) OR #s = :retired",
                    ExpressionAttributeNames={"#s": "state"},
                    ExpressionAttributeValues={":retired": {"S": "retired"}},
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                    ReturnConsumedCapacity="TOTAL",
                )
        except GatewayError as exc:
            if not condition_failed(exc):
                raise
            self.meter.add_failed_write(item)
            cause: Any = exc.__cause__
            return tracker_from_item(cause.response["Item"]), False
        self.meter.add_write(answer)
        return tracker_from_item(item), True

    def get(self, tenant: str, carrier: str, tracking_number: str) -> Tracker | None:
        """One tracker (strongly consistent); None when there is none."""
        with store_errors():
            answer = self.client.get_item(
                TableName=self.table,
                Key=tracker_key(tenant, tracking_number, carrier),
                ConsistentRead=True,
                ReturnConsumedCapacity="TOTAL",
            )
        self.meter.add_read(answer)
        item = answer.get("Item")
        return tracker_from_item(item) if item else None

    def page(
        self,
        tenant: str,
        state: TrackerState,
        *,
        carrier: str | None = None,
        limit: int = 100,
        after: str | None = None,
    ) -> tuple[list[Tracker], str | None]:
        """A page of a tenant's trackers in ``state`` (by carrier, then number); the
        position to continue from, or None on the last page."""
        values = {":pk": {"S": listing_pk(tenant, state)}}
        condition = f"{INDEX_PK} = :pk"
        if carrier:
            condition += f" AND begins_with({INDEX_SK}, :c)"
            values[":c"] = {"S": f"{carrier}#"}
        request: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": INDEX_NAME,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "Limit": limit,
            "ReturnConsumedCapacity": "TOTAL",
        }
        if after:
            request["ExclusiveStartKey"] = _start_key(tenant, state, after)
        with store_errors():
            answer = self.client.query(**request)
        self.meter.add_read(answer)
        keys = [{"pk": i["pk"], "sk": i["sk"]} for i in answer.get("Items", [])]
        found = {t.tracking_number + "#" + t.carrier: t for t in self._many(keys)}
        page = []
        for item in answer.get("Items", []):
            carrier_id, number = item[INDEX_SK]["S"].split("#", 1)
            tracker = found.get(number + "#" + carrier_id)
            if tracker is not None and tracker.state == state:
                page.append(tracker)
        last = answer.get("LastEvaluatedKey")
        return page, (last[INDEX_SK]["S"] if last else None)

    def state_count(self, tenant: str, state: TrackerState) -> int:
        """How many of a tenant's trackers are in ``state`` (keys only, paginated)."""
        request: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": INDEX_NAME,
            "KeyConditionExpression": f"{INDEX_PK} = :pk",
            "ExpressionAttributeValues": {":pk": {"S": listing_pk(tenant, state)}},
            "Select": "COUNT",
        }
        pages = query_pages(self.client, request, self.meter, max_pages=10_000)
        return sum(int(page.get("Count", 0)) for page in pages)

    def _many(self, keys: list[dict[str, Any]]) -> Iterator[Tracker]:
        for start in range(0, len(keys), 100):
            request: dict[str, Any] = {
                self.table: {"Keys": keys[start : start + 100], "ConsistentRead": True}
            }
            for _ in range(5):  # unprocessed keys are asked for again, a few times
                with store_errors():
                    answer = self.client.batch_get_item(
                        RequestItems=request, ReturnConsumedCapacity="TOTAL"
                    )
                self.meter.add_read(answer)
                yield from map(tracker_from_item, answer.get("Responses", {}).get(self.table, []))
                request = answer.get("UnprocessedKeys") or {}
                if not request:
                    break

    # -- the poller's loop ----------------------------------------------------------

    def due(self, shard: int, now: datetime, limit: int = 100) -> list[dict[str, Any]]:
        """Keys of trackers due by ``now`` in one due-index shard, oldest due first."""
        with store_errors():
            answer = self.client.query(
                TableName=self.table,
                IndexName=DUE_INDEX_NAME,
                KeyConditionExpression=f"{DUE_PK} = :pk AND {DUE_SK} <= :now",
                ExpressionAttributeValues={
                    ":pk": {"S": due_partition(shard, TRACKERS)},
                    ":now": {"S": instant_text(now)},
                },
                Limit=limit,
                ReturnConsumedCapacity="TOTAL",
            )
        self.meter.add_read(answer)
        return [{"pk": i["pk"], "sk": i["sk"]} for i in answer.get("Items", [])]

    def due_count(self, now: datetime) -> int:
        """How many trackers are due by ``now``, all shards (keys only)."""
        return sum(len(self.due(shard, now, limit=1000)) for shard in range(DUE_SHARDS))

    def lease_pass(self, owner: str, now: datetime) -> bool:
        """Take (or renew) the poll pass's lease; False while another pass holds it."""
        request = {
            "TableName": self.table,
            "Key": PASS_LEASE_KEY,
            "UpdateExpression": "SET lease_owner = :me, lease_until = :until",
            "ConditionExpression": f"{NO_LIVE_LEASE} OR lease_owner = :me",
            "ExpressionAttributeValues": {
                ":me": {"S": owner},
                ":until": {"S": instant_text(now + LEASE)},
                ":now": {"S": instant_text(now)},
            },
        }
        update = self.client.update_item
        return conditional_write(self.meter, update, request, billed=PASS_LEASE_KEY) is not None

    def release_pass(self, owner: str) -> None:
        """Give the pass's lease back (only while ``owner`` holds it: one that ran out and
        was taken by another pass is left alone)."""
        request = {
            "TableName": self.table,
            "Key": PASS_LEASE_KEY,
            "ConditionExpression": "lease_owner = :me",
            "ExpressionAttributeValues": {":me": {"S": owner}},
        }
        conditional_write(self.meter, self.client.delete_item, request, billed=PASS_LEASE_KEY)

    def load_due(self, keys: list[dict[str, Any]], now: datetime) -> list[Tracker]:
        """The trackers of ``keys`` that are really due (read strongly consistent: the
        index lags), not retired and not held by a manual refresh."""
        found = []
        for tracker in self._many(keys):
            if tracker.state == "retired" or tracker.next_check_at is None:
                continue
            if tracker.next_check_at > now or (tracker.lease_until or now) > now:
                continue
            found.append(tracker)
        return found

    def claim(
        self, key: dict[str, Any], owner: str, now: datetime, *, force: bool = False
    ) -> Tracker | None:
        """Lease one tracker for one check (a manual refresh); None when it is leased,
        retired, gone or (unless ``force``) not due."""
        until = now + LEASE
        conditions = ["attribute_exists(pk)", "#s <> :retired"]
        conditions.append(NO_LIVE_LEASE)
        if not force:
            conditions.append("next_check_at <= :now")
        number = key["pk"]["S"].split("#", 2)[2]
        carrier = key["sk"]["S"][2:]
        tenant = key["pk"]["S"].split("#", 2)[1]
        request = {
            "TableName": self.table,
            "Key": key,
            "UpdateExpression": "SET lease_until = :until, lease_owner = :me, "
            f"{DUE_PK} = :dpk, {DUE_SK} = :dsk",
            "ConditionExpression": " AND ".join(conditions),
            "ExpressionAttributeNames": {"#s": "state"},
            "ExpressionAttributeValues": {
                ":until": {"S": instant_text(until)},
                ":me": {"S": owner},
                ":now": {"S": instant_text(now)},
                ":retired": RETIRED,
                ":dpk": _due((tenant, number, carrier), until)[DUE_PK],
                ":dsk": {"S": instant_text(until)},
            },
            "ReturnValues": "ALL_NEW",
        }
        answer = conditional_write(self.meter, self.client.update_item, request, billed=key)
        return None if answer is None else tracker_from_item(answer["Attributes"])

    def complete(
        self,
        tracker: Tracker,
        owner: str | None,
        outcome: Outcome,
        retention_days: int,
        check: Check | None = None,
    ) -> Tracker:
        """Record a check's outcome: while ``owner`` holds the tracker's lease (a manual
        refresh; the lease ends), or (``owner`` None, a pass under its shard's lease) while
        the tracker is as it was read and no refresh holds it."""
        failures = outcome.failures
        retire = outcome.next_check_at is None
        state: TrackerState = "retired" if retire else "active"
        if not retire and failures >= FAILING_AFTER:
            state = "failing"
        ident = (tracker.tenant, tracker.tracking_number, tracker.carrier)
        sets: dict[str, dict[str, Any]] = {
            "state": {"S": state},
            "status": {"S": outcome.status.value},
            "last_checked_at": {"S": instant_text(outcome.checked_at)},
            "last_source": {"S": outcome.source},
            "failures": {"N": str(failures)},
            **_listing(tracker.tenant, state, tracker.carrier, tracker.tracking_number),
        }
        removes = ["lease_until", "lease_owner"]
        if check is not None:
            sets["recent"] = {"L": [entry(check), *tracker.recent[: RECENT - 1]]}
        if outcome.estimated_delivery:
            sets["eta"] = {"S": outcome.estimated_delivery}
        if outcome.news:
            sets["last_news_at"] = {"S": instant_text(outcome.checked_at)}
        if outcome.error:
            sets["last_error"] = {"S": outcome.error}
        else:
            removes.append("last_error")
        if outcome.ref:
            sets["ref"] = {"S": outcome.ref}
        if retire:
            sets["retired_reason"] = {"S": outcome.retired_reason or "stopped"}
            sets["expires_at"] = {
                "N": str(int((outcome.checked_at + timedelta(days=retention_days)).timestamp()))
            }
            removes += ["next_check_at", DUE_PK, DUE_SK]
        else:
            assert outcome.next_check_at is not None
            sets["next_check_at"] = {"S": instant_text(outcome.next_check_at)}
            sets |= _due(ident, outcome.next_check_at)
        if owner is not None:
            condition, values = "lease_owner = :owner", {":owner": {"S": owner}}
        else:
            removes = [r for r in removes if r not in ("lease_until", "lease_owner")]
            condition = f"checks = :seen AND {NO_LIVE_LEASE}"
            values = {
                ":seen": {"N": str(tracker.checks)},
                ":now": {"S": instant_text(outcome.checked_at)},
            }
        item = self._update(
            tracker,
            sets,
            removes,
            adds={"checks": {"N": "1"}} if outcome.source == "poll" else {},
            condition=condition,
            values=values,
        )
        return tracker_from_item(item)

    def pushed(self, item: dict[str, Any], outcome: Outcome) -> None:
        """A push or submit brought news for a tracked shipment: it counts as a check."""
        tracker = tracker_from_item(item)
        if tracker.state == "retired":
            return
        ident = (tracker.tenant, tracker.tracking_number, tracker.carrier)
        sets: dict[str, dict[str, Any]] = {
            "status": {"S": outcome.status.value},
            "last_checked_at": {"S": instant_text(outcome.checked_at)},
            "last_source": {"S": outcome.source},
            "last_news_at": {"S": instant_text(outcome.checked_at)},
        }
        if outcome.estimated_delivery:
            sets["eta"] = {"S": outcome.estimated_delivery}
        removes: list[str] = []
        if outcome.next_check_at is not None:
            sets["next_check_at"] = {"S": instant_text(outcome.next_check_at)}
            sets |= _due(ident, outcome.next_check_at)
        else:  # the push said delivered (or another end): the tracker stops
            retire_sets, removes = self._retire_sets(
                tracker, outcome.checked_at, outcome.retired_reason
            )
            sets |= retire_sets
        # A poller holding the lease completes its own check with the same news.
        with contextlib.suppress(TrackerChangedError):
            now = {":now": {"S": instant_text(outcome.checked_at)}}
            self._update(tracker, sets, removes, condition=NO_LIVE_LEASE, values=now)

    def queue_first(self, tracker: Tracker, now: datetime) -> Tracker:
        """Make a tracker due at ``now``, ahead of everything due in its shard (its
        due-index position is the epoch); unchanged when it is gone or retired."""
        ident = (tracker.tenant, tracker.tracking_number, tracker.carrier)
        sets = {"next_check_at": {"S": instant_text(now)}, **_due(ident, EPOCH)}
        try:
            item = self._update(
                tracker, sets, [], condition="#s <> :retired", values={":retired": RETIRED}
            )
        except TrackerChangedError:
            return tracker
        return tracker_from_item(item)

    def remove(self, tenant: str, carrier: str, tracking_number: str, now: datetime) -> Tracker:
        """Stop polling (the tracker is kept, retired, for its readers; history is kept)."""
        tracker = self.get(tenant, carrier, tracking_number)
        if tracker is None:
            raise NotFoundError("no such tracker", code="tracker_not_found")
        if tracker.state == "retired":
            return tracker
        sets, removes = self._retire_sets(tracker, now, "removed")
        item = self._update(tracker, sets, removes)
        return tracker_from_item(item)

    def _retire_sets(
        self, tracker: Tracker, now: datetime, reason: str | None
    ) -> tuple[dict[str, dict[str, Any]], list[str]]:
        sets = {
            "state": {"S": "retired"},
            "retired_reason": {"S": reason or "stopped"},
            "expires_at": {"N": str(int((now + RETIRED_KEPT).timestamp()))},
            **_listing(tracker.tenant, "retired", tracker.carrier, tracker.tracking_number),
        }
        return sets, ["next_check_at", DUE_PK, DUE_SK, "lease_until", "lease_owner"]

    def _update(
        self,
        tracker: Tracker,
        sets: dict[str, dict[str, Any]],
        removes: list[str],
        *,
        adds: dict[str, dict[str, Any]] | None = None,
        condition: str | None = None,
        values: dict[str, dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        names = {f"#a{i}": n for i, n in enumerate([*sets, *(adds or {}), *removes])}
        alias = {n: a for a, n in names.items()}
        parts = ["SET " + ", ".join(f"{alias[n]} = :v{i}" for i, n in enumerate(sets))]
        expression_values = {f":v{i}": v for i, v in enumerate(sets.values())}
        if adds:
            parts.append("ADD " + ", ".join(f"{alias[n]} :d{i}" for i, n in enumerate(adds)))
            expression_values |= {f":d{i}": v for i, v in enumerate(adds.values())}
        if removes:
            parts.append("REMOVE " + ", ".join(alias[n] for n in removes))
        if condition and "#s" in condition:
            names["#s"] = "state"
        request: dict[str, Any] = {
            "TableName": self.table,
            "Key": tracker.key,
            "UpdateExpression": " ".join(parts),
            "ConditionExpression": " AND ".join(filter(None, ["attribute_exists(pk)", condition])),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": expression_values | (values or {}),
            "ReturnValues": "ALL_NEW",
        }
        answer = conditional_write(self.meter, self.client.update_item, request, billed=tracker.key)
        if answer is None:
            raise TrackerChangedError("the tracker changed meanwhile")
        item: dict[str, Any] = answer["Attributes"]
        return item


def _start_key(tenant: str, state: str, after: str) -> dict[str, Any]:
    carrier, _, number = after.partition("#")
    return {
        **_listing(tenant, state, carrier, number),
        **tracker_key(tenant, number, carrier),
    }
