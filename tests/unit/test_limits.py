"""The hard cap's counter logic on an in-memory fake DynamoDB: flushing, windows, failures.

The real engine (atomic ADDs under threads, measured write units) is in
``tests/integration/test_hard_cap_dynamodb_local.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from gateway.errors import ThrottledError
from gateway.tenancy.limits import HardCap, keyed_tenant
from gateway.tenancy.plans import Plan

START = datetime(2026, 11, 22, 23, 59, 0, tzinfo=UTC).timestamp()  # a minute to midnight


class FakeDynamo:
    """UpdateItem ADD and BatchGetItem over a dict; can fail, can leave keys unprocessed."""

    def __init__(self) -> None:
        self.items: dict[str, int] = {}
        self.writes: list[tuple[str, int]] = []
        self.reads = 0
        self.fail = False
        self.unprocessed_once = False

    def update_item(self, **request: Any) -> dict[str, Any]:
        if self.fail:
            raise ClientError({"Error": {"Code": "InternalServerError"}}, "UpdateItem")
        pk, add = request["Key"]["pk"]["S"], int(request["ExpressionAttributeValues"][":n"]["N"])
        self.items[pk] = self.items.get(pk, 0) + add
        self.writes.append((pk, add))
        return {"Attributes": {"n": {"N": str(self.items[pk])}}}

    def batch_get_item(self, RequestItems: dict[str, Any], **_: Any) -> dict[str, Any]:
        if self.fail:
            raise ClientError({"Error": {"Code": "InternalServerError"}}, "BatchGetItem")
        self.reads += 1
        ((table, request),) = RequestItems.items()
        keys = request["Keys"]
        later = keys[1:] if self.unprocessed_once else []
        self.unprocessed_once = False
        found = [
            {"pk": key["pk"], "n": {"N": str(self.items[key["pk"]["S"]])}}
            for key in keys[: len(keys) - len(later)]
            if key["pk"]["S"] in self.items
        ]
        unprocessed = {table: {"Keys": later}} if later else {}
        return {"Responses": {table: found}, "UnprocessedKeys": unprocessed}


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


CAP = Plan(rate=100, burst=10, quota=10, quota_period="day", hard_cap=10)


def cap(db: FakeDynamo, clock: Clock, **settings: Any) -> HardCap:
    return HardCap(db, "t", {"acme": CAP}.get, clock=clock, **settings)


def test_counts_are_flushed_every_n_requests_as_one_add() -> None:
    db, clock = FakeDynamo(), Clock()
    counter = cap(db, clock, flush_every=4, shards=1)
    for _ in range(8):
        counter.admit("acme")
    assert db.writes == [("L#acme#2026-11-22#0", 4), ("L#acme#2026-11-22#0", 4)]
    assert db.reads == 1  # cached: one read for the first request only


def test_a_quiet_tenant_is_flushed_after_flush_seconds() -> None:
    db, clock = FakeDynamo(), Clock()
    counter = cap(db, clock, flush_every=100, flush_seconds=10, shards=1)
    counter.admit("acme")
    counter.admit("acme")
    assert db.writes == []
    clock.now += 10
    counter.admit("acme")
    assert db.writes == [("L#acme#2026-11-22#0", 3)]


def test_the_cap_counts_what_others_flushed_and_refusal_flushes_our_own() -> None:
    db, clock = FakeDynamo(), Clock()
    db.items["L#acme#2026-11-22#2"] = 7  # other containers' flushes
    counter = cap(db, clock, flush_every=50, shards=4)
    for _ in range(3):
        counter.admit("acme")
    with pytest.raises(ThrottledError) as caught:
        counter.admit("acme")
    assert (caught.value.code, caught.value.retry_after) == ("hard_cap_reached", 60)
    assert sum(db.items.values()) == 10  # our 3 were written when we refused
    reads = db.reads
    for _ in range(5):
        clock.now += 10
        with pytest.raises(ThrottledError):
            counter.admit("acme")
    assert db.reads == reads  # once full, the day stays full: no more reads


def test_the_next_utc_day_starts_from_zero_and_yesterdays_tail_is_kept() -> None:
    db, clock = FakeDynamo(), Clock()
    counter = cap(db, clock, flush_every=50, shards=1)
    for _ in range(10):
        counter.admit("acme")
    assert db.writes == []
    clock.now += 60  # 00:00:00 UTC
    counter.admit("acme")
    assert db.items == {"L#acme#2026-11-22#0": 10}  # flushed to yesterday's counter
    counter.flush()
    assert db.items["L#acme#2026-11-23#0"] == 1


def test_dynamodb_errors_fail_open_and_lose_no_count() -> None:
    db, clock = FakeDynamo(), Clock()
    counter = cap(db, clock, flush_every=2, shards=1)
    db.fail = True
    for _ in range(5):
        counter.admit("acme")  # admitted: the cap is a safety net, not a single point
    db.fail = False
    counter.flush()
    assert db.items == {"L#acme#2026-11-22#0": 5}


def test_unprocessed_keys_are_read_again() -> None:
    db, clock = FakeDynamo(), Clock()
    db.items = {f"L#acme#2026-11-22#{shard}": 2 for shard in range(4)}  # 8 of 10
    db.unprocessed_once = True
    counter = cap(db, clock, shards=4)
    counter.admit("acme")
    counter.admit("acme")
    with pytest.raises(ThrottledError):
        counter.admit("acme")
    assert db.reads == 2


def test_unknown_tenants_and_requests_without_a_tenant_are_not_counted() -> None:
    db, clock = FakeDynamo(), Clock()
    counter = cap(db, clock)
    counter.admit("nobody")
    counter.admit(None)
    counter.flush()
    assert (db.reads, db.writes) == (0, [])


@pytest.mark.parametrize(
    ("event", "tenant"),
    [
        ({"requestContext": {"authorizer": {"tenant": "acme"}}}, "acme"),
        ({"pathParameters": {"tenant": "acme", "carrier": "ups"}}, None),  # verified later
        ({"requestContext": {"authorizer": {"tenant": "a"}},
          "pathParameters": {"tenant": "b"}}, "a"),
        ({"requestContext": {"authorizer": None}, "pathParameters": None}, None),
        ({"pathParameters": {"tracking_number": "1Z"}}, None),
        ({"requestContext": {"authorizer": {"tenant": 7}}}, None),
    ],
)  # fmt: skip
def test_only_a_keyed_tenant_is_counted_before_the_handler(
    event: dict[str, Any], tenant: str | None
) -> None:
    assert keyed_tenant(event) == tenant
