"""Least privilege, replayed: the real code paths run on moto, every AWS call is recorded
under the function that makes it, and each call is evaluated against that function's
generated policy (:func:`infra.roles.policy_document`, with moto's real ARNs).

What runs, as AWS would run it, one "container" (a fresh ``services_from_environment``)
per step:

- **ingest**: a signed webhook (new, then again: a duplicate), an unreadable one
  (parked), a canonical ``POST /v1/events``, a write that meets a racing writer; the
  endpoint API's writes (create, rotate, disable, enable, recover, resend, delete),
  the first of which generates the endpoint secrets' data key;
- **notify**: the table's stream read as the event source mapping reads it (as the
  function's role), filtered by :data:`infra.notify.STREAM_FILTERS`, handed to
  ``gateway.aws.notify.stream_handler`` twice (a retried batch), endpoints answering
  200, 500 and 410;
- **sweeper**: ``gateway.aws.notify.sweep_handler`` an hour later: one retry delivered,
  one answered 410;
- **query**: the GET routes through the Lambda handler and the endpoint API's reads.

Then: every call is allowed; every grant of the four roles is used by some call (but the
few listed in :data:`NOT_REPLAYED`, each with why); and what each role must not do is
refused. The filters are checked against every record the stream carried.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto import mock_aws

from adapters import easypost
from gateway.api.app import make_handler
from gateway.aws import handler as handler_module
from gateway.aws import notify as notify_module
from gateway.aws.handler import services_from_environment
from gateway.local.proxy_event import LocalContext, build_event
from gateway.notify.endpoints import EVENT_ADDED, STATUS_CHANGED
from gateway.notify.service import EndpointSpec
from gateway.notify.stream import read_records
from gateway.notify.transport import SendResult
from gateway.routes import match_route
from gateway.services import Services
from gateway.store.dynamo import DynamoStore
from gateway.store.table import ensure_table
from gateway.tenancy.keysets import new_keyset
from gateway.testkit.events import make_event
from infra.notify import STREAM_FILTERS
from infra.roles import INDEX_ACCESS, KMS_DATA_KEY, STREAM_ACTIONS, TABLE_ACCESS, Scope
from infra.roles import policy_document as generated_policy
from tests.infra.filters import check_pattern, passes
from tests.infra.iam import Recorder, Request, World, allowed, requests_of

REGION, ACCOUNT, STACK = "us-west-2", "123456789012", "dev"
TABLE = f"waybill-{STACK}"
PREFIX = f"waybill/{STACK}/"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
PARTNER_SECRET = "ep-replay-secret"
ROLES = ("ingest", "query", "notify", "sweeper")
NOT_REPLAYED = {
    ("notify", "dynamodb:ListStreams"): "the mapping's poller may list the table's streams; "
    "reading needs only Describe/GetShardIterator/GetRecords, which are replayed",
    ("notify", "sqs:SendMessage"): "sent by the event source mapping itself (on failure), "
    "with the function's role; no code of ours sends",
}
"""Grants no replayed call uses, and why they stay."""


@dataclass
class Replay:
    """Everything the replay recorded."""

    recorder: Recorder
    world: World
    scope: Scope
    records: list[dict[str, Any]] = field(default_factory=list)  # the whole stream, at the end
    passed: list[dict[str, Any]] = field(default_factory=list)  # what the filters let through
    sent: list[tuple[str, str]] = field(default_factory=list)  # (url, webhook-id) of attempts

    def policy(self, function: str) -> dict[str, Any]:
        log_group = f"/aws/lambda/waybill-{STACK}-{function}"
        return generated_policy(function, self.scope, log_group, tracing=True)

    def requests(self, function: str) -> list[Request]:
        return [r for c in self.recorder.of(function) for r in requests_of(c, self.world)]


class Endpoints:
    """A fake sender: each endpoint answers from its script, then 200."""

    def __init__(self, sent: list[tuple[str, str]]) -> None:
        self.scripts: dict[str, list[int]] = {}
        self.sent = sent

    def __call__(self, url: str, body: bytes, headers: Mapping[str, str], **_: Any) -> SendResult:
        self.sent.append((url, headers["webhook-id"]))
        script = self.scripts.get(url) or [200]
        status = script.pop(0) if len(script) > 1 else script[0]
        return SendResult(status=status, latency_ms=12.0)


def _invoke(method: str, path: str, body: bytes = b"", headers: Any = (), **kw: Any) -> Any:
    route = match_route(path.split("?", 1)[0])
    assert route is not None, path
    event = build_event(
        route,
        method=method,
        path=path.split("?", 1)[0],
        headers=list(headers),
        query_string=(path.split("?", 1)[1] if "?" in path else "").encode(),
        body=body,
        source_ip="203.0.113.9",
        tenant=kw.get("tenant"),
        request_id=str(uuid.uuid4()),
    )
    response = handler_module.lambda_handler(event, LocalContext.new())
    return response["statusCode"], json.loads(response["body"])


def _container(monkeypatch: pytest.MonkeyPatch, function: str, sender: Endpoints) -> Services:
    """A fresh container of ``function``: its environment and its own services."""
    if function in ("ingest", "query"):
        monkeypatch.setenv("CURSOR_KEY_SECRET", f"{PREFIX}cursor_key")
    else:
        monkeypatch.delenv("CURSOR_KEY_SECRET", raising=False)
    notify_module._services = None
    services = services_from_environment()
    services.notifications.notifier.send = sender
    handler_module._handler = make_handler(services)  # what lambda_handler would build
    return services


def _shutdown(services: Services) -> None:
    """What a container writes before it goes: the audit and the hard-cap counts it holds."""
    services.pipeline.audit.flush()
    if services.limits is not None:
        services.limits.flush()


def _signed_webhook(body: bytes) -> tuple[int, Any]:
    headers = easypost.ADAPTER.sign(body, PARTNER_SECRET, 0) | {"Content-Type": "application/json"}
    status, reply = _invoke("POST", "/webhooks/acme/easypost", body, headers.items())
    return status, reply


class _Crashed(DynamoStore):
    """A writer that puts its events and dies before it updates the state."""

    def _update_state(self, *args: Any, **kwargs: Any) -> None:
        return None


def _ingest(monkeypatch: pytest.MonkeyPatch, replay: Replay, sender: Endpoints) -> None:
    services = _container(monkeypatch, "ingest", sender)
    history = (FIXTURES / "easypost" / "event_tracker_updated_full_history.json").read_bytes()
    assert _signed_webhook(history)[0] == 200
    assert _signed_webhook(history)[0] == 200  # a duplicate
    assert _signed_webhook(b'{"object": "Event", "result": 7}')[0] == 202  # parked
    canonical = {
        "tracking_id": "1ZREPLAY1",
        "status": "in_transit",
        "timestamp": "2024-06-01T10:00:00Z",
    }
    status, reply = _invoke(
        "POST",
        "/v1/events",
        json.dumps(canonical).encode(),
        [("content-type", "application/json")],
        tenant="submitco",
    )
    assert status == 200, reply
    # a racing writer put the first event and died: the next writer probes and re-reads
    client, now = services.store.client, datetime.now(UTC)
    events = [make_event(i, tracking_number="EZRACE1") for i in range(2)]
    _Crashed(client, TABLE).record(events[:1], delivery_key="a", now=now, retention_days=30)
    racer = DynamoStore(client, TABLE, sleep=lambda _: None)
    racer.record(events, delivery_key="b", now=now, retention_days=30)
    later = make_event(2, tracking_number="EZRACE1")  # the same status: the state moves not
    racer.record([later], delivery_key="c", now=now, retention_days=30)
    # the endpoint API's writes: the first seal generates the data key
    notifications = services.notifications
    for name in "abcd":
        spec = EndpointSpec(url=_url(name), types=(STATUS_CHANGED, EVENT_ADDED))
        notifications.create_endpoint("acme", spec)
    _shutdown(services)


def _url(name: str) -> str:
    return f"https://{name}.example/hooks"


def _read_stream(stream_arn: str) -> list[dict[str, Any]]:
    """Every record, read as the event source mapping reads (with the function's role)."""
    streams = boto3.client(
        "dynamodbstreams", region_name=REGION, config=Config(account_id_endpoint_mode="disabled")
    )
    records: list[dict[str, Any]] = []
    for shard in streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = streams.get_records(ShardIterator=iterator, Limit=1000)
            records += page["Records"]
            iterator = page.get("NextShardIterator") if page["Records"] else None
    return records


def _notify(monkeypatch: pytest.MonkeyPatch, replay: Replay, sender: Endpoints) -> None:
    notify_module._services = _container(monkeypatch, "notify", sender)
    sender.scripts = {_url("a"): [200], _url("b"): [500], _url("c"): [410], _url("d"): [500]}
    passed = [r for r in _read_stream(replay.world.stream_arn) if passes(STREAM_FILTERS, r)]
    # one record per batch first (a status change apart from its event, and the other
    # way round: the handler reads what is not in its batch), then all of them at once,
    # as a retried batch: every message exists, nothing is sent again
    attempted = [notify_module.stream_handler({"Records": [r]}, LocalContext.new()) for r in passed]
    assert sum(a["attempted"] for a in attempted) > 0
    again = notify_module.stream_handler({"Records": passed}, LocalContext.new())
    assert again["attempted"] == 0


def _sweep(monkeypatch: pytest.MonkeyPatch, replay: Replay, sender: Endpoints) -> None:
    services = _container(monkeypatch, "sweeper", sender)
    sender.scripts = {_url("b"): [200], _url("d"): [410]}
    later = datetime.now(UTC) + timedelta(hours=1)
    services.notifications.notifier.clock = lambda: later
    notify_module._services = services
    assert notify_module.sweep_handler({}, LocalContext.new())["attempted"] >= 2


def _query(monkeypatch: pytest.MonkeyPatch, replay: Replay, sender: Endpoints) -> list[Any]:
    services = _container(monkeypatch, "query", sender)
    for path in (
        "/v1/shipments/EZ1000000001",
        "/v1/shipments/EZ1000000001/events",
        "/v1/shipments/EZ1000000001/locations",
        "/v1/shipments?status=delivered",
        "/v1/shipments/NOSUCH1",
    ):
        status, reply = _invoke("GET", path, tenant="acme")
        assert status in (200, 404), (path, reply)
    notifications = services.notifications
    endpoints = notifications.endpoints("acme")
    assert len(endpoints) == 4
    notifications.endpoint("acme", endpoints[0].id)
    listed = [
        notifications.messages("acme", e.id, state=None, limit=10, before=None) for e in endpoints
    ]
    _shutdown(services)
    return [endpoints, listed]


def _ingest_again(
    monkeypatch: pytest.MonkeyPatch, replay: Replay, sender: Endpoints, seen: list[Any]
) -> None:
    services = _container(monkeypatch, "ingest", sender)  # a cold start: opens the data key
    notifications = services.notifications
    endpoints, listed = seen
    a, _, c, d = endpoints
    sender.scripts = {}
    notifications.rotate_secret("acme", a.id, 3600)
    notifications.resend("acme", a.id, listed[0][0].id)
    notifications.set_enabled("acme", d.id, False)
    notifications.set_enabled("acme", d.id, True)
    assert notifications.recover("acme", c.id, datetime(2000, 1, 1, tzinfo=UTC)) > 0
    notifications.delete_endpoint("acme", d.id)
    _shutdown(services)


@pytest.fixture(scope="module")
def replay() -> Iterator[Replay]:
    with mock_aws(), pytest.MonkeyPatch.context() as monkeypatch:
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        ensure_table(dynamodb, TABLE)
        table = dynamodb.describe_table(TableName=TABLE)["Table"]
        key_arn = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]
        secrets = boto3.client("secretsmanager", region_name=REGION)
        keyset = new_keyset(PARTNER_SECRET, now=datetime.now(UTC)).model_dump_json()
        partner = secrets.create_secret(Name=f"{PREFIX}acme/easypost", SecretString=keyset)
        cursor = secrets.create_secret(Name=f"{PREFIX}cursor_key", SecretString="k" * 64)
        world = World(
            REGION,
            ACCOUNT,
            table["LatestStreamArn"],
            key_arn,
            {partner["Name"]: partner["ARN"], cursor["Name"]: cursor["ARN"]},
        )
        scope = Scope(
            "aws",
            REGION,
            ACCOUNT,
            STACK,
            table["TableArn"],
            key_arn,
            cursor["ARN"],
            world.stream_arn,
        )
        for name, value in {
            "TABLE_NAME": TABLE,
            "SECRETS_PREFIX": PREFIX,
            "TENANTS_DIR": str(FIXTURES / "tenants"),
            "NOTIFY_KEY_ID": key_arn,
            "NOTIFY_ALLOW_INSECURE": "false",
        }.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("DYNAMODB_ENDPOINT_URL", raising=False)
        monkeypatch.delenv("CURSOR_KEY", raising=False)
        result = Replay(Recorder(), world, scope)
        sender = Endpoints(result.sent)
        with result.recorder.patched() as recorder:
            with recorder.acting("ingest"):
                _ingest(monkeypatch, result, sender)
            with recorder.acting("notify"):
                _notify(monkeypatch, result, sender)
            with recorder.acting("sweeper"):
                _sweep(monkeypatch, result, sender)
            with recorder.acting("query"):
                seen = _query(monkeypatch, result, sender)
            with recorder.acting("ingest"):
                _ingest_again(monkeypatch, result, sender, seen)
        result.records = _read_stream(world.stream_arn)  # every kind of item, messages too
        result.passed = [r for r in result.records if passes(STREAM_FILTERS, r)]
        handler_module._handler = None
        notify_module._services = None
        yield result


def _grants(function: str) -> set[str]:
    """Every (action, key prefix | index) a role grants, as ``"dynamodb:GetItem S#*"``."""
    grants = {
        f"dynamodb:{action} {prefix}"
        for action, prefixes in TABLE_ACCESS.get(function, {}).items()
        for prefix in prefixes
    }
    grants |= {f"dynamodb:Query index/{index}" for index in INDEX_ACCESS.get(function, ())}
    grants |= set(KMS_DATA_KEY.get(function, ()))
    if function == "notify":
        grants |= set(STREAM_ACTIONS) | {"sqs:SendMessage"}
    return grants


def _used(requests: list[Request], function: str) -> set[str]:
    """The grants ``requests`` exercise (each leading key matched to its granted prefix)."""
    used: set[str] = set()
    for request in requests:
        if "/index/" in request.resource:
            used.add(f"{request.action} index/{request.resource.rsplit('/index/', 1)[1]}")
            continue
        if request.action.startswith("dynamodb:") and "dynamodb:LeadingKeys" in request.context:
            op = request.action.split(":", 1)[1]
            for value in request.context["dynamodb:LeadingKeys"]:
                for prefix in TABLE_ACCESS.get(function, {}).get(op, ()):
                    if fnmatchcase(value, prefix):
                        used.add(f"{request.action} {prefix}")
            continue
        used.add(request.action)
    return used


@pytest.mark.parametrize("function", ROLES)
def test_every_call_the_code_makes_is_allowed_by_its_role(replay: Replay, function: str) -> None:
    requests = replay.requests(function)
    assert requests, f"nothing was replayed for {function}"
    refused = [r.describe() for r in requests if not allowed(replay.policy(function), r)]
    assert refused == []


@pytest.mark.parametrize("function", ROLES)
def test_every_grant_is_used_by_some_call(replay: Replay, function: str) -> None:
    exempt = {grant for (who, grant) in NOT_REPLAYED if who == function}
    unused = _grants(function) - _used(replay.requests(function), function) - exempt
    assert unused == set(), f"{function} grants what its code never does: {sorted(unused)}"
    stale = {g for (who, g) in NOT_REPLAYED if who == function} & _used(
        replay.requests(function), function
    )
    assert stale == set(), f"replayed after all, drop from NOT_REPLAYED: {sorted(stale)}"


def _can(
    replay: Replay, function: str, action: str, resource: str, **context: tuple[str, ...]
) -> bool:
    """Whether ``function``'s role allows a request it never made (``context`` keys are the
    condition keys with ``:`` written ``__``)."""
    keys = {name.replace("__", ":"): values for name, values in context.items()}
    return allowed(replay.policy(function), Request(action, resource, keys))


DATA_KEY_CONTEXT = {"kms__EncryptionContext__waybill": ("endpoint-secrets",)}


def test_what_the_notifier_and_the_sweeper_must_not_do_is_refused(replay: Replay) -> None:
    table, index = replay.scope.table_arn, f"{replay.scope.table_arn}/index"
    key = replay.scope.kms_key_arn
    for function in ("notify", "sweeper"):
        for action in ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query"):
            for pk in ("APIKEY#0f3a", "P#acme#a", "L#acme#2026-01-01#0", "C#x"):
                assert not _can(
                    replay, function, f"dynamodb:{action}", table, dynamodb__LeadingKeys=(pk,)
                )
        assert not _can(replay, function, "dynamodb:Query", f"{index}/gsi1")
        assert not _can(
            replay, function, "dynamodb:PutItem", table, dynamodb__LeadingKeys=("K#notify",)
        )
        assert not _can(replay, function, "dynamodb:Scan", table)
        mixed = ("M#acme#ep_1#0", "APIKEY#0f3a")  # one foreign key spoils a batch
        assert not _can(
            replay, function, "dynamodb:BatchGetItem", table, dynamodb__LeadingKeys=mixed
        )
        assert _can(replay, function, "kms:Decrypt", key, **DATA_KEY_CONTEXT)
        assert not _can(replay, function, "kms:Decrypt", key)  # without the context
        assert not _can(
            replay, function, "kms:Decrypt", key, kms__EncryptionContext__waybill=("x",)
        )
        assert not _can(replay, function, "kms:GenerateDataKey", key, **DATA_KEY_CONTEXT)
        partner = replay.world.secret_arns[f"{PREFIX}acme/easypost"]
        assert not _can(replay, function, "secretsmanager:GetSecretValue", partner)
    assert _can(replay, "sweeper", "dynamodb:Query", f"{index}/due")
    assert not _can(replay, "notify", "dynamodb:Query", f"{index}/due")
    assert not _can(replay, "notify", "dynamodb:Query", table, dynamodb__LeadingKeys=("S#acme#1Z",))
    assert not _can(replay, "sweeper", "dynamodb:GetRecords", replay.world.stream_arn)


def test_what_the_api_roles_must_not_do_is_refused(replay: Replay) -> None:
    table, index = replay.scope.table_arn, f"{replay.scope.table_arn}/index"
    key = replay.scope.kms_key_arn
    assert not _can(replay, "query", "dynamodb:Query", f"{index}/due")
    assert not _can(replay, "query", "dynamodb:GetItem", table, dynamodb__LeadingKeys=("K#notify",))
    assert not _can(replay, "query", "kms:Decrypt", key, **DATA_KEY_CONTEXT)
    assert not _can(
        replay, "query", "dynamodb:Query", table, dynamodb__LeadingKeys=("APIKEY#0f3a",)
    )
    assert not _can(replay, "ingest", "dynamodb:Query", f"{index}/gsi1")
    assert not _can(
        replay, "ingest", "dynamodb:DeleteItem", table, dynamodb__LeadingKeys=("S#acme#1Z",)
    )
    assert _can(replay, "ingest", "kms:GenerateDataKey", key, **DATA_KEY_CONTEXT)
    assert not _can(replay, "ingest", "kms:GenerateDataKey", key)
    for function in ("ingest", "query"):
        assert not _can(replay, function, "dynamodb:GetRecords", replay.world.stream_arn)


def test_the_stream_filters_pass_every_record_that_notifies_and_nothing_else(
    replay: Replay,
) -> None:
    for pattern in STREAM_FILTERS:
        check_pattern(pattern)
        assert set(pattern) == {"dynamodb"}  # DynamoDB mappings filter on the record's data
    kinds = {_kind(r) for r in replay.records}
    # the replay wrote every kind of item, so that the filters met them all
    assert {"S#/C#", "S#/E#", "P#", "A#", "N#", "M#", "K#", "L#"} <= {
        k.split(" ")[0] for k in kinds
    }
    changes, _ = read_records(replay.records)
    kept, _ = read_records(replay.passed)
    assert kept == changes and changes  # the filters drop nothing the handler notifies for
    assert {_kind(r) for r in replay.passed} <= {
        "S#/E# INSERT",
        "S#/C# moved INSERT",
        "S#/C# moved MODIFY",
    }
    dropped = [r for r in replay.records if r not in replay.passed]
    assert {"S#/C# MODIFY"} & {_kind(r) for r in dropped}  # a state write that moved nothing


def _kind(record: Mapping[str, Any]) -> str:
    image = record["dynamodb"].get("NewImage") or record["dynamodb"]["Keys"]
    pk, sk = image["pk"]["S"], image["sk"]["S"]
    kind = pk.split("#", 1)[0] + "#"
    if kind == "S#":
        kind += "/" + sk.split("#", 1)[0] + "#"
        if "moved" in image:
            kind += " moved"
    return f"{kind} {record['eventName']}"


def test_the_notifications_went_out_as_the_endpoints_answered(replay: Replay) -> None:
    by_url: dict[str, list[str]] = {}
    for url, webhook_id in replay.sent:
        by_url.setdefault(url, []).append(webhook_id)
    assert set(by_url) == {f"https://{n}.example/hooks" for n in "abcd"}
    retried = by_url["https://b.example/hooks"]
    assert len(retried) > len(set(retried))  # the sweeper sent a retry, same webhook-id
