"""The audit of delivery outcomes, end to end through the handler (moto DynamoDB).

Every outcome is recorded under the tenant; a free outcome (duplicate, rejection …)
never becomes a paid write per request; items spread over shards, expire with the
tenant's retention, and hold no secret, body or signature.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from adapters import fedex, standard_webhooks
from gateway.audit.changes import append_audit
from gateway.audit.outcomes import AuditEvent
from gateway.audit.query import AuditRecord, read_audit
from gateway.audit.refusals import audit_error, audited_admission
from gateway.audit.windows import DynamoAudit
from gateway.carriers.adapter import Delivery, ParseResult
from gateway.cli.audit_cmd import collect
from gateway.errors import ParseError, ThrottledError
from gateway.store.keys import AUDIT_SHARDS
from gateway.testkit.harness import Harness, moto_harness

NOW = datetime(2024, 6, 3, 17, 0, 30, tzinfo=UTC)
SECRET = "whsec_" + base64.b64encode(b"audit-test-secret-of-32-bytes-!!").decode()
HOOK = "/webhooks/acme/standard_webhooks"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
JSON = {"content-type": "application/json"}


class Clock:
    """A settable clock for the harness."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


class CountingClient:
    """The audit's DynamoDB client, counting the items it writes (moto under-reports units)."""

    def __init__(self, inner: Any, fail: bool = False) -> None:
        self.inner, self.fail = inner, fail
        self.calls, self.items = 0, 0

    def batch_write_item(self, **kwargs: Any) -> Any:
        if self.fail:
            raise ClientError({"Error": {"Code": "InternalServerError"}}, "BatchWriteItem")
        self.calls += 1
        self.items += sum(len(requests) for requests in kwargs["RequestItems"].values())
        return self.inner.batch_write_item(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def gw(clock: Clock) -> Iterator[Harness]:
    with moto_harness(clock) as harness:
        harness.secrets.values[("acme", "standard_webhooks")] = [SECRET]
        yield harness


def audit_of(gw: Harness) -> DynamoAudit:
    audit = gw.services.pipeline.audit
    assert isinstance(audit, DynamoAudit)
    return audit


def body(number: str = "1ZAUDIT1", status: str = "in_transit") -> bytes:
    event = {"status": status, "occurred_at": "2024-06-01T10:00:00Z", "description": "scan"}
    data = {"tracking_number": number, "events": [event]}
    return json.dumps({"type": "tracking.updated", "data": data}).encode()


def post(gw: Harness, raw: bytes, *, msg_id: str = "msg_1", secret: str = SECRET) -> Any:
    at = gw.services.clock().timestamp()
    headers = standard_webhooks.ADAPTER.sign(raw, secret, at, delivery_id=msg_id) | JSON
    return gw.call("POST", HOOK, body=raw, headers=headers)


def records(gw: Harness, tenant: str = "acme", **kwargs: Any) -> list[AuditRecord]:
    audit = audit_of(gw)
    audit.flush(final=True)
    now = kwargs.pop("now", gw.services.clock())
    since = kwargs.pop("since", now - timedelta(days=1))
    return read_audit(audit.client, audit.table, tenant, since=since, now=now, **kwargs)


def audit_items(gw: Harness) -> list[dict[str, Any]]:
    client = audit_of(gw).client
    items = client.scan(TableName=audit_of(gw).table)["Items"]
    return [item for item in items if item["pk"]["S"].startswith("A#")]


def test_an_accepted_delivery_is_one_item_with_ids_and_counts(gw: Harness) -> None:
    assert post(gw, body()).status == 200
    (record,) = records(gw)
    assert (record.outcome, record.carrier, record.count, record.window_s) == (
        "accepted",
        "standard_webhooks",
        1,
        0,
    )
    assert record.detail == {
        "accepted": 1,
        "request_id": gw.last_request_id,
        "tracking": ["1ZAUDIT1"],
    }


def test_every_outcome_is_recorded_with_its_code(gw: Harness) -> None:
    assert post(gw, body()).status == 200  # accepted
    assert post(gw, body()).status == 200  # the carrier's retry: duplicate delivery
    assert post(gw, body(), msg_id="msg_2").status == 200  # a resend: duplicate events
    ping = b'{"type": "partner.ping", "data": {}}'
    assert post(gw, ping, msg_id="msg_3").status == 200  # ignored
    assert post(gw, body(), secret=SECRET[:-4] + "AAA=").status == 401
    assert gw.call("POST", HOOK, body=b"{}", headers=JSON).status == 401
    assert gw.call("POST", "/webhooks/acme/fedex", body=b"{}", headers=JSON).status == 404
    assert gw.call("POST", HOOK, body=b"{}", headers={"content-type": "text/plain"}).status == 415
    assert gw.call("POST", HOOK, body=b"x" * 300_000, headers=JSON).status == 413
    gw.secrets.fail = True
    assert post(gw, body()).status == 503
    seen = {(r.outcome, r.code, r.carrier): r.count for r in records(gw)}
    hook = "standard_webhooks"
    assert seen == {
        ("accepted", "-", hook): 1,
        ("duplicate", "delivery", hook): 1,
        ("duplicate", "events", hook): 1,
        ("ignored", "partner.ping_is_not_a_tracking_type", hook): 1,
        ("rejected", "signature_mismatch", hook): 1,
        ("rejected", "signature_missing", hook): 1,
        ("rejected", "unknown_route", "-"): 1,  # fedex is not a carrier of acme's
        ("rejected", "unsupported_media_type", hook): 1,
        ("rejected", "payload_too_large", hook): 1,
        ("failed", "secrets_unavailable", hook): 1,
    }


def test_parked_deliveries_are_recorded_by_id_and_repeats_are_counted(gw: Harness) -> None:
    def broken(delivery: Delivery) -> ParseResult:
        raise ParseError("cannot read yet")

    registry = gw.services.pipeline.adapters
    adapter = registry.adapters["standard_webhooks"]
    registry.adapters["standard_webhooks"] = dataclasses.replace(adapter, parse=broken)
    raw = body("1ZPARKED")
    assert post(gw, raw).status == 202
    assert post(gw, raw).status == 202
    parked, again = sorted(records(gw), key=lambda r: r.window_s)
    (copy,) = gw.services.pipeline.parking.list("acme")
    assert (parked.outcome, parked.code, parked.detail["ref"]) == (
        "parked",
        "unparseable",
        copy.body_sha256[:12],
    )
    assert (again.outcome, again.code, again.count) == ("parked", "already_parked", 1)


def test_a_batch_with_bad_items_records_both_accepted_and_parked(gw: Harness) -> None:
    raw = (FIXTURES / "fedex" / "track_bad_items_built.json").read_bytes()
    gw.secrets.values[("batchco", "fedex")] = ["fedex-secret"]
    headers = fedex.ADAPTER.sign(raw, "fedex-secret", NOW.timestamp()) | JSON
    reply = gw.call("POST", "/webhooks/batchco/fedex", body=raw, headers=headers)
    assert reply.status == 200 and reply.body["parked"] and reply.body["accepted"] == 1
    found = {r.outcome: r for r in records(gw, "batchco")}
    assert sorted(found) == ["accepted", "parked"]
    assert found["accepted"].detail["tracking"] == ["794843185271"]
    assert (found["parked"].code, found["parked"].window_s) == ("failed_items", 0)


def test_throttled_requests_are_recorded(gw: Harness) -> None:
    def throttled(*args: Any) -> None:
        raise ThrottledError("hard cap of 10/day reached", retry_after=60, code="hard_cap")

    registry = gw.services.pipeline.adapters
    adapter = registry.adapters["standard_webhooks"]
    registry.adapters["standard_webhooks"] = dataclasses.replace(adapter, verify=throttled)
    for _ in range(3):
        assert post(gw, body()).status == 429
    (record,) = records(gw)
    assert (record.outcome, record.code, record.count) == ("throttled", "hard_cap", 3)


def test_audit_error_reads_the_tenant_from_the_path_or_the_authorizer(gw: Harness) -> None:
    error = ThrottledError("rate", retry_after=1)
    audit = audit_of(gw)
    webhook = {"resource": "/webhooks/{tenant}/{carrier}", "pathParameters": {"tenant": "acme"}}
    context = {"authorizer": {"tenant": "submitco"}}
    submit = {"resource": "/v1/events", "requestContext": context}
    read = {"resource": "/v1/shipments/{tracking_number}", "requestContext": context}
    for event in (webhook, submit, read, {"resource": "/webhooks/{tenant}/{carrier}"}):
        audit_error(audit, event, error, NOW)
    assert [(r.outcome, r.carrier, r.count) for r in records(gw)] == [("throttled", "-", 1)]
    assert [(r.outcome, r.carrier) for r in records(gw, "submitco")] == [("throttled", "canonical")]


def test_an_edges_throttling_is_recorded_through_audited_admission(gw: Harness) -> None:
    def admit(tenant: str) -> float | None:
        if tenant == "globex":
            raise ThrottledError("quota of 10/day exhausted", retry_after=60, code="quota")
        return 2.5 if tenant == "acme" else None

    checked = audited_admission(admit, audit_of(gw), gw.services.clock)
    assert (checked("acme"), checked("initech")) == (2.5, None)
    with pytest.raises(ThrottledError):
        checked("globex")
    assert [(r.outcome, r.code) for r in records(gw)] == [("throttled", "throttled")]
    assert [(r.outcome, r.code) for r in records(gw, "globex")] == [("throttled", "quota")]
    assert records(gw, "initech") == []


def test_duplicates_cost_no_write_per_request(gw: Harness, clock: Clock) -> None:
    audit = audit_of(gw)
    counting = CountingClient(audit.client)
    audit.client = counting
    assert post(gw, body()).status == 200
    assert counting.items == 1  # the accepted delivery's own item
    store_writes = gw.services.store.meter.write_units
    for _ in range(50):
        assert post(gw, body()).status == 200
        assert gw.call("POST", HOOK, body=b"{}", headers=JSON).status == 401
    # 100 free requests: one item for each window's first occurrence, nothing more.
    assert counting.items == 1 + 2
    assert gw.services.store.meter.write_units == store_writes  # duplicates stay free
    clock.now += timedelta(seconds=61)
    assert post(gw, body()).status == 200  # the next minute: its flush closes the old windows
    assert counting.items == 1 + 2 + 2 + 1  # two final counts, one new window
    counts = {(r.outcome, r.at): r.count for r in records(gw, now=clock.now)}
    minute = NOW.replace(second=0)
    assert counts[("duplicate", minute)] == 50
    assert counts[("rejected", minute)] == 50
    assert counts[("duplicate", minute + timedelta(minutes=1))] == 1


def test_a_full_buffer_is_flushed_in_batches_of_25(gw: Harness) -> None:
    audit = audit_of(gw)
    counting = CountingClient(audit.client)
    audit.client = counting
    for index in range(30):
        event = AuditEvent("acme", "accepted", NOW, itemised=True, request_id=f"r{index}")
        audit.record(event)
    assert (counting.calls, counting.items) == (1, 25)
    audit.flush()
    assert (counting.calls, counting.items) == (2, 30)


def test_items_spread_over_every_shard(gw: Harness) -> None:
    audit = audit_of(gw)
    for index in range(400):
        audit.record(AuditEvent("acme", "accepted", NOW, itemised=True, request_id=f"r{index}"))
    audit.flush()
    shards = [item["pk"]["S"].rsplit("#", 1)[1] for item in audit_items(gw)]
    assert set(shards) == set(AUDIT_SHARDS)
    assert max(shards.count(shard) for shard in AUDIT_SHARDS) < 400 / len(AUDIT_SHARDS) * 1.5
    assert {item["pk"]["S"].rsplit("#", 2)[1] for item in audit_items(gw)} == {"2024-06-03"}
    assert len(records(gw, limit=500)) == 400


def test_expired_audit_items_are_not_listed(gw: Harness) -> None:
    assert post(gw, body()).status == 200  # acme keeps 30 days
    since = NOW - timedelta(minutes=1)
    assert len(records(gw, since=since, now=NOW + timedelta(days=29))) == 1
    assert records(gw, since=since, now=NOW + timedelta(days=30, seconds=1)) == []
    (item,) = audit_items(gw)
    assert int(item["expires_at"]["N"]) == int((NOW + timedelta(days=30)).timestamp())


def test_unknown_tenants_leave_no_audit(gw: Harness) -> None:
    url = "/webhooks/nobody/standard_webhooks"
    assert gw.call("POST", url, body=b"{}", headers=JSON).status == 404
    audit_of(gw).flush(final=True)
    assert audit_items(gw) == []


def test_audit_items_hold_no_secret_body_or_signature(gw: Harness) -> None:
    raw = body("1ZSECRETIVE")
    headers = standard_webhooks.ADAPTER.sign(raw, SECRET, NOW.timestamp(), delivery_id="m") | JSON
    assert gw.call("POST", HOOK, body=raw, headers=headers).status == 200
    assert post(gw, raw, secret=SECRET[:-4] + "AAA=").status == 401
    audit_of(gw).flush(final=True)
    stored = json.dumps(audit_items(gw))
    signature = headers["webhook-signature"].split(",", 1)[1]
    for secret in (SECRET, SECRET.removeprefix("whsec_"), signature, '"scan"', "occurred_at"):
        assert secret not in stored
    assert "1ZSECRETIVE" in stored  # tracking numbers are ids, and are kept


def test_a_failing_audit_never_fails_the_delivery(gw: Harness) -> None:
    audit_of(gw).client = CountingClient(audit_of(gw).client, fail=True)
    assert post(gw, body()).status == 200
    assert gw.call("POST", HOOK, body=b"{}", headers=JSON).status == 401


def test_read_filters_by_outcome_and_since_newest_first(gw: Harness, clock: Clock) -> None:
    assert post(gw, body("1ZFIRST")).status == 200
    clock.now += timedelta(hours=2)
    assert post(gw, body("1ZSECOND"), msg_id="msg_2").status == 200
    assert gw.call("POST", HOOK, body=b"{}", headers=JSON).status == 401
    newest = records(gw, now=clock.now)
    assert [r.outcome for r in newest] == ["accepted", "rejected", "accepted"]
    assert newest[0].detail["tracking"] == ["1ZSECOND"]
    audit = audit_of(gw)
    only = read_audit(
        audit.client, audit.table, "acme", since=NOW, now=clock.now, outcome="rejected"
    )
    assert [r.code for r in only] == ["signature_missing"]
    later = read_audit(audit.client, audit.table, "acme", since=clock.now, now=clock.now)
    assert [r.detail["tracking"] for r in later if r.outcome == "accepted"] == [["1ZSECOND"]]


def test_the_cli_merges_outcomes_and_changes_newest_first(
    gw: Harness, clock: Clock, tmp_path: Path
) -> None:
    assert post(gw, body()).status == 200
    append_audit(
        tmp_path,
        actor="ops",
        action="secret.rotate",
        tenant="acme",
        target="standard_webhooks",
        detail={"grace": "24h"},
        now=NOW + timedelta(minutes=5),
    )
    append_audit(tmp_path, actor="ops", action="key.issue", tenant="globex", target="k", now=NOW)
    audit = audit_of(gw)
    audit.flush(final=True)
    table = (audit.client, audit.table)
    since, now = NOW - timedelta(days=1), NOW + timedelta(hours=1)
    lines = collect(tmp_path, "acme", since=since, now=now, table=table)
    assert len(lines) == 2
    assert "change" in lines[0] and "secret.rotate standard_webhooks by ops grace=24h" in lines[0]
    assert "accepted" in lines[1] and "tracking=1ZAUDIT1" in lines[1]
    assert collect(tmp_path, "acme", since=since, now=now, outcome="secret", table=table) == [
        lines[0]
    ]
    accepted = collect(tmp_path, "acme", since=since, now=now, outcome="accepted", table=table)
    assert accepted == [lines[1]]
    assert collect(tmp_path, "acme", since=since, now=now, table=None) == [lines[0]]
