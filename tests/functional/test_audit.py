"""The audit of delivery outcomes, end to end through the handler (moto DynamoDB).

Every outcome, accepted and parked included, is counted under the tenant in per-minute
windows: no outcome becomes a write per request (at most 2 writes per window and
process); window items spread over shards, expire with the tenant's retention, and hold
no secret, body, header, signature, delivery id or tracking number. Which delivery
brought each event is read from the event items (provenance), per tenant.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from adapters import fedex, standard_webhooks
from gateway.audit.changes import FileChangeLog, append_audit
from gateway.audit.outcomes import AuditEvent
from gateway.audit.provenance import Provenance, provenance
from gateway.audit.query import AuditRecord, read_audit
from gateway.audit.refusals import audit_error, audited_admission
from gateway.audit.windows import DynamoAudit
from gateway.carriers.adapter import Delivery, ParseResult
from gateway.cli import CliError, shown_time
from gateway.cli.audit_cmd import collect, show_provenance
from gateway.errors import ParseError, ThrottledError
from gateway.store.keys import AUDIT_SHARDS
from gateway.testkit.harness import TENANTS_DIR, Harness, moto_harness

NOW = datetime(2024, 6, 3, 17, 0, 30, tzinfo=UTC)
SECRET = "whsec_" + base64.b64encode(b"audit-test-secret-of-32-bytes-!!").decode()
HOOK = "/webhooks/acme/standard_webhooks"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
JSON = {"content-type": "application/json"}
MINUTE = NOW.replace(second=0)
WINDOW_ATTRIBUTES = {"pk", "sk", "outcome", "code", "carrier", "count", "at", "window_s"}
WINDOW_ATTRIBUTES |= {"expires_at"}


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


def scan(status: str = "in_transit", occurred_at: str = "2024-06-01T10:00:00Z") -> dict[str, str]:
    return {"status": status, "occurred_at": occurred_at, "description": "scan"}


def body(number: str = "1ZAUDIT1", status: str = "in_transit", *events: dict[str, str]) -> bytes:
    data = {"tracking_number": number, "events": list(events) or [scan(status)]}
    return json.dumps({"type": "tracking.updated", "data": data}).encode()


def post(
    gw: Harness, raw: bytes, *, msg_id: str = "msg_1", secret: str = SECRET, tenant: str = "acme"
) -> Any:
    at = gw.services.clock().timestamp()
    headers = standard_webhooks.ADAPTER.sign(raw, secret, at, delivery_id=msg_id) | JSON
    return gw.call("POST", f"/webhooks/{tenant}/standard_webhooks", body=raw, headers=headers)


def digest(raw: bytes) -> str:
    """The body digest an event item keeps: the first 16 bytes of its SHA-256, in hex."""
    return hashlib.sha256(raw).hexdigest()[:32]


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


def test_accepted_deliveries_are_counted_in_one_window_written_at_most_twice(
    gw: Harness, clock: Clock
) -> None:
    audit = audit_of(gw)
    counting = CountingClient(audit.client)
    audit.client = counting
    for index in range(5):  # five shipments, each delivery accepted (flushed per request)
        reply = post(gw, body(f"1ZACCEPT{index}"), msg_id=f"msg_{index}")
        assert (reply.status, reply.body["accepted"]) == (200, 1)
        clock.now += timedelta(seconds=5)
    assert counting.items == 1  # the window's first put, with the count so far
    clock.now = NOW + timedelta(seconds=61)
    audit.flush()  # the next minute's first flush closes the window
    assert counting.items == 2  # its final count: 2 puts for 5 deliveries
    audit.flush(final=True)
    assert counting.items == 2  # nothing left to write
    (record,) = records(gw, now=clock.now)
    assert record == AuditRecord(MINUTE, "accepted", "events", "standard_webhooks", 5, 60, {})
    (item,) = audit_items(gw)  # one item for the minute, none per delivery
    assert set(item) == WINDOW_ATTRIBUTES


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
    found = records(gw)
    assert [(r.at, r.window_s, r.detail) for r in found] == [(MINUTE, 60, {})] * 10
    seen = {(r.outcome, r.code, r.carrier): r.count for r in found}
    hook = "standard_webhooks"
    assert seen == {
        ("accepted", "events", hook): 1,
        ("duplicate", "delivery", hook): 1,
        ("duplicate", "events", hook): 1,
        ("ignored", "partner.ping_is_not_a_tracking_type", hook): 1,
        ("rejected", "signature_mismatch", hook): 1,
        ("rejected", "signature_missing", hook): 1,
        ("rejected", "not_found", "-"): 1,  # fedex is not a carrier of acme's
        ("rejected", "unsupported_media_type", hook): 1,
        ("rejected", "payload_too_large", hook): 1,
        ("failed", "secrets_unavailable", hook): 1,
    }


def test_parked_deliveries_are_counted_by_code_and_the_copy_is_the_record(gw: Harness) -> None:
    def broken(delivery: Delivery) -> ParseResult:
        raise ParseError("cannot read yet")

    registry = gw.services.pipeline.adapters
    adapter = registry.adapters["standard_webhooks"]
    registry.adapters["standard_webhooks"] = dataclasses.replace(adapter, parse=broken)
    first, second = body("1ZPARKED1"), body("1ZPARKED2")
    for raw, msg_id in ((first, "msg_1"), (first, "msg_1"), (second, "msg_2"), (second, "msg_2")):
        reply = post(gw, raw, msg_id=msg_id)
        assert (reply.status, reply.body["parked"]) == (202, True)
    found = records(gw)
    assert [(r.at, r.window_s, r.detail) for r in found] == [(MINUTE, 60, {})] * 2
    assert {(r.outcome, r.code, r.carrier): r.count for r in found} == {
        ("parked", "unparseable", "standard_webhooks"): 2,
        ("parked", "already_parked", "standard_webhooks"): 2,
    }
    copies = gw.services.pipeline.parking.list("acme")  # what the delivery was: its copy
    assert sorted(c.body_sha256 for c in copies) == sorted(
        hashlib.sha256(raw).hexdigest() for raw in (first, second)
    )
    assert all(set(item) == WINDOW_ATTRIBUTES for item in audit_items(gw))


def test_a_batch_with_bad_items_records_both_accepted_and_parked(gw: Harness) -> None:
    raw = (FIXTURES / "fedex" / "track_bad_items_built.json").read_bytes()
    gw.secrets.values[("batchco", "fedex")] = ["fedex-secret"]
    headers = fedex.ADAPTER.sign(raw, "fedex-secret", NOW.timestamp()) | JSON
    reply = gw.call("POST", "/webhooks/batchco/fedex", body=raw, headers=headers)
    assert reply.status == 200 and reply.body["parked"] and reply.body["accepted"] == 1
    found = records(gw, "batchco")
    assert [(r.at, r.window_s, r.detail) for r in found] == [(MINUTE, 60, {})] * 2
    assert {(r.outcome, r.code, r.carrier): r.count for r in found} == {
        ("accepted", "events", "fedex"): 1,
        ("parked", "failed_items", "fedex"): 1,
    }
    store = gw.services.store  # which shipment the good item went to: its event item says
    (event,) = provenance(store.client, store.table, "batchco", "794843185271", now=NOW)
    assert (event.carrier, event.delivery_id, event.received_at, event.body_sha256) == (
        "fedex",
        None,  # FedEx names no delivery: its body digest does
        NOW,
        digest(raw),
    )
    (copy,) = gw.services.pipeline.parking.list("batchco")
    assert copy.body_sha256 == hashlib.sha256(raw).hexdigest()


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
    assert counting.items == 1  # the accepted window's first put
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


def test_recording_never_writes_and_a_flush_sends_windows_in_batches_of_25(gw: Harness) -> None:
    audit = audit_of(gw)
    counting = CountingClient(audit.client)
    audit.client = counting
    for index in range(30):  # 30 windows (one per code), each counted twice
        for _ in range(2):
            audit.record(AuditEvent("acme", "rejected", NOW, code=f"code_{index}"))
    assert (counting.calls, counting.items) == (0, 0)
    audit.flush()
    assert (counting.calls, counting.items) == (2, 30)
    assert sorted(r.count for r in records(gw)) == [2] * 30


def test_windows_spread_over_every_shard(gw: Harness) -> None:
    audit = audit_of(gw)
    for minutes in range(400):  # one window a minute, from 10:21 to 17:00 of one day
        audit.record(AuditEvent("acme", "accepted", NOW - timedelta(minutes=minutes)))
    audit.flush(final=True)
    shards = [item["pk"]["S"].rsplit("#", 1)[1] for item in audit_items(gw)]
    assert len(shards) == 400
    assert set(shards) == set(AUDIT_SHARDS)
    assert max(shards.count(shard) for shard in AUDIT_SHARDS) < 400 / len(AUDIT_SHARDS) * 1.5
    assert {item["pk"]["S"].rsplit("#", 2)[1] for item in audit_items(gw)} == {"2024-06-03"}
    found = records(gw, limit=500)
    assert [r.at for r in found] == [MINUTE - timedelta(minutes=m) for m in range(400)]
    assert {(r.outcome, r.count) for r in found} == {("accepted", 1)}


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


def test_audit_items_hold_no_secret_body_header_signature_or_shipment(gw: Harness) -> None:
    raw = body("1ZSECRETIVE", "in_transit", scan() | {"description": "left at door 7"})
    at = NOW.timestamp()
    headers = standard_webhooks.ADAPTER.sign(raw, SECRET, at, delivery_id="msg_private_9") | JSON
    assert gw.call("POST", HOOK, body=raw, headers=headers).status == 200
    assert post(gw, raw, secret=SECRET[:-4] + "AAA=").status == 401

    def broken(delivery: Delivery) -> ParseResult:
        raise ParseError("cannot read yet")

    registry = gw.services.pipeline.adapters
    adapter = registry.adapters["standard_webhooks"]
    registry.adapters["standard_webhooks"] = dataclasses.replace(adapter, parse=broken)
    parked = body("1ZPARKEDSECRET", "in_transit", scan() | {"description": "gate code 4711"})
    assert post(gw, parked, msg_id="msg_parked_3").status == 202
    audit_of(gw).flush(final=True)
    items = audit_items(gw)
    assert {(i["outcome"]["S"], i["code"]["S"]) for i in items} == {
        ("accepted", "events"),
        ("rejected", "signature_mismatch"),
        ("parked", "unparseable"),
    }
    assert all(set(item) == WINDOW_ATTRIBUTES for item in items)  # codes and counts only
    stored = json.dumps(items)
    signature = headers["webhook-signature"].split(",", 1)[1]
    private = [SECRET, SECRET.removeprefix("whsec_"), signature, headers["webhook-timestamp"]]
    private += ["msg_private_9", "msg_parked_3", "webhook-", "content-type", "application/json"]
    private += ["left at door 7", "gate code 4711", "occurred_at", "scan"]
    private += ["1ZSECRETIVE", "1ZPARKEDSECRET", digest(raw), digest(parked)]
    for text in private:
        assert text not in stored, text


def test_a_failing_audit_never_fails_the_delivery(gw: Harness) -> None:
    audit_of(gw).client = CountingClient(audit_of(gw).client, fail=True)
    assert post(gw, body()).status == 200
    assert gw.call("POST", HOOK, body=b"{}", headers=JSON).status == 401


def test_read_filters_by_outcome_and_since_newest_first(gw: Harness, clock: Clock) -> None:
    assert post(gw, body("1ZFIRST")).status == 200
    clock.now += timedelta(hours=2)
    assert gw.call("POST", HOOK, body=b"{}", headers=JSON).status == 401
    clock.now += timedelta(minutes=1)
    assert post(gw, body("1ZSECOND"), msg_id="msg_2").status == 200
    assert post(gw, body("1ZTHIRD"), msg_id="msg_3").status == 200
    newest = records(gw, now=clock.now)
    two_hours = MINUTE + timedelta(hours=2)
    assert [(r.at, r.outcome, r.code, r.count) for r in newest] == [
        (two_hours + timedelta(minutes=1), "accepted", "events", 2),
        (two_hours, "rejected", "signature_missing", 1),
        (MINUTE, "accepted", "events", 1),
    ]
    audit = audit_of(gw)
    only = read_audit(
        audit.client, audit.table, "acme", since=NOW, now=clock.now, outcome="rejected"
    )
    assert [(r.at, r.code) for r in only] == [(two_hours, "signature_missing")]
    later = read_audit(audit.client, audit.table, "acme", since=two_hours, now=clock.now)
    assert [(r.at, r.outcome) for r in later] == [
        (two_hours + timedelta(minutes=1), "accepted"),
        (two_hours, "rejected"),
    ]
    accepted = read_audit(
        audit.client, audit.table, "acme", since=NOW, now=clock.now, outcome="accepted"
    )
    assert [(r.at, r.count) for r in accepted] == [(two_hours + timedelta(minutes=1), 2)]


def test_the_cli_merges_outcomes_and_changes_newest_first(
    gw: Harness, clock: Clock, tmp_path: Path
) -> None:
    assert post(gw, body("1ZCLI1")).status == 200
    assert post(gw, body("1ZCLI2"), msg_id="msg_2").status == 200
    append_audit(
        FileChangeLog(tmp_path),
        actor="ops",
        action="secret.rotate",
        tenant="acme",
        target="standard_webhooks",
        detail={"grace": "24h"},
        now=NOW + timedelta(minutes=5),
    )
    append_audit(
        FileChangeLog(tmp_path), actor="ops", action="key.issue", tenant="acme", target="k1",
        now=NOW - timedelta(minutes=5),
    )  # fmt: skip
    append_audit(
        FileChangeLog(tmp_path),
        actor="ops",
        action="key.issue",
        tenant="globex",
        target="k",
        now=NOW,
    )
    audit = audit_of(gw)
    audit.flush(final=True)
    table = (audit.client, audit.table)
    since, now = NOW - timedelta(days=1), NOW + timedelta(hours=1)
    changes = FileChangeLog(tmp_path)
    lines = collect(changes, "acme", since=since, now=now, table=table)
    assert [line.split()[:2] for line in lines] == [
        ["2024-06-03T17:05:30Z", "change"],
        ["2024-06-03T17:00:00Z", "accepted"],
        ["2024-06-03T16:55:30Z", "change"],
    ]
    assert lines[0].endswith("secret.rotate standard_webhooks by ops grace=24h")
    assert lines[1].split()[2:] == ["standard_webhooks", "code=events", "count=2", "in", "60s"]
    assert lines[2].endswith("key.issue k1 by ops")
    assert collect(
        FileChangeLog(tmp_path), "acme", since=since, now=now, outcome="secret", table=table
    ) == [lines[0]]
    accepted = collect(
        FileChangeLog(tmp_path), "acme", since=since, now=now, outcome="accepted", table=table
    )
    assert accepted == [lines[1]]
    assert collect(changes, "acme", since=since, now=now, table=None) == [
        lines[0],
        lines[2],
    ]
    assert collect(changes, "acme", since=since, now=now, limit=2, table=table) == lines[:2]


def provenance_of(gw: Harness, tenant: str, number: str) -> list[Provenance]:
    store = gw.services.store
    return provenance(store.client, store.table, tenant, number, now=gw.services.clock())


def test_provenance_names_the_delivery_that_brought_each_event(gw: Harness, clock: Clock) -> None:
    gw.secrets.values[("globex", "standard_webhooks")] = [SECRET]
    first = body("1ZPROV1", "in_transit")
    assert post(gw, first, msg_id="msg_a").body["accepted"] == 1
    clock.now += timedelta(seconds=90)
    out = scan("out_for_delivery", "2024-06-02T08:00:00Z")
    second = body("1ZPROV1", "", scan(), out)  # resends the first event, brings a new one
    assert post(gw, second, msg_id="msg_b").body["accepted"] == 1
    assert post(gw, second, msg_id="msg_b").body["duplicate_delivery"] is True  # a retry
    clock.now += timedelta(seconds=30)
    theirs = body("1ZPROV1", "delivered")  # another tenant's shipment of the same number
    assert post(gw, theirs, msg_id="msg_a", tenant="globex").body["accepted"] == 1
    found = provenance_of(gw, "acme", "1ZPROV1")
    assert [(p.status, p.delivery_id, p.body_sha256, p.received_at) for p in found] == [
        ("in_transit", "msg_a", digest(first), NOW),
        ("out_for_delivery", "msg_b", digest(second), NOW + timedelta(seconds=90)),
    ]
    assert {p.carrier for p in found} == {"standard_webhooks"}
    assert [p.occurred_at.isoformat() for p in found] == [
        "2024-06-01T10:00:00+00:00",
        "2024-06-02T08:00:00+00:00",
    ]
    (other,) = provenance_of(gw, "globex", "1ZPROV1")  # only globex's own event
    assert (other.status, other.delivery_id, other.body_sha256, other.received_at) == (
        "delivered",
        "msg_a",
        digest(theirs),
        NOW + timedelta(seconds=120),
    )
    assert provenance_of(gw, "initech", "1ZPROV1") == []
    assert provenance_of(gw, "acme", "1ZPROV2") == []


def test_the_cli_prints_provenance_and_needs_a_running_server(
    gw: Harness, clock: Clock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clock.now = datetime.now(UTC).replace(microsecond=0)  # the CLI reads unexpired events now
    raw = body("1ZCLIPROV")
    assert post(gw, raw, msg_id="msg_cli").status == 200
    store = gw.services.store
    (event,) = gw.call("GET", "/v1/shipments/1ZCLIPROV/events", tenant="acme").body["events"]
    event_id = event["event_id"]
    args = argparse.Namespace(
        tenant="acme", tracking_number=" 1zcliprov ", state_dir=tmp_path, tenants_dir=TENANTS_DIR
    )
    assert show_provenance(args, (store.client, store.table)) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert line.split() == [
        "2024-06-01T10:00:00Z",
        "in_transit",
        "standard_webhooks",
        event_id,
        "received",
        shown_time(clock.now),
        "delivery",
        "msg_cli",
        "body",
        f"sha256:{digest(raw)}",
    ]
    args.tenant = "globex"
    assert show_provenance(args, (store.client, store.table)) == 0
    assert capsys.readouterr().out == "no events stored for globex 1ZCLIPROV\n"
    with pytest.raises(CliError, match="no running `waybill serve`"):
        show_provenance(args, None)


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["acme", "--outcome", "rejectd"], "unknown --outcome 'rejectd': did you mean rejected?"),
        (["acme", "--outcome", "secrets.set"], "unknown --outcome 'secrets.set'"),
        (["acme", "--outcome", "key."], "unknown --outcome 'key.'"),
        (["acmee"], "unknown tenant 'acmee' (no "),
        (["acmee", "--tracking-number", "1Z1"], "unknown tenant 'acmee' (no "),
    ],
)
def test_the_cli_refuses_an_unknown_outcome_or_tenant_instead_of_nothing_audited(
    gw: Harness,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
    argv: list[str],
    said: str,
) -> None:
    from gateway.cli import audit_cmd, main

    store = gw.services.store
    monkeypatch.setattr(audit_cmd, "running_table", lambda _: (store.client, store.table))
    common = ["--state-dir", str(tmp_path), "--tenants-dir", str(TENANTS_DIR)]
    assert main(["audit", *argv, *common]) == 2
    out, err = capsys.readouterr()
    assert said in err and out == ""
    for fine in (["acme", "--outcome", "rejected"], ["acme", "--outcome", "key.revoke"]):
        assert main(["audit", *fine, *common]) == 0
        assert "nothing audited for acme" in capsys.readouterr().out


def test_canonical_submissions_are_audited_like_deliveries(gw: Harness, tmp_path: Path) -> None:
    def submit(*items: dict[str, str]) -> int:
        raw = json.dumps({"events": list(items)}).encode()
        reply = gw.call("POST", "/v1/events", body=raw, headers=JSON, tenant="submitco")
        return reply.status

    good = {"tracking_id": "1ZSUBAUDIT", "status": "in_transit", "timestamp": "2024-06-01T10:00Z"}
    assert submit(good) == 200  # accepted
    assert submit(good) == 200  # the same item again: a duplicate
    assert submit({"tracking_id": "1ZSUBAUDIT", "status": "lost"}) == 400  # no_valid_items
    found = records(gw, "submitco")
    assert {(r.outcome, r.code, r.carrier): r.count for r in found} == {
        ("accepted", "events", "canonical"): 1,
        ("duplicate", "events", "canonical"): 1,
        ("rejected", "no_valid_items", "canonical"): 1,
    }
    audit = audit_of(gw)  # and `waybill audit` shows them
    since, now = NOW - timedelta(days=1), gw.services.clock()
    lines = collect(
        FileChangeLog(tmp_path), "submitco", since=since, now=now, table=(audit.client, audit.table)
    )
    assert sorted(line.split()[1:4] for line in lines) == [
        ["accepted", "canonical", "code=events"],
        ["duplicate", "canonical", "code=events"],
        ["rejected", "canonical", "code=no_valid_items"],
    ]
