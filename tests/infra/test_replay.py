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
- **ingest**, the trackers API's writes: three trackers added (``POST /v1/trackers``), one
  refreshed now (``POST /v1/trackers/{n}/refresh``: a token call and a tracking call to the
  carrier, the events stored through the write path, the budget spent);
- **poller**: ``gateway.aws.poll.poll_handler``, one pass: the two trackers due claimed
  from the due index, checked with the carrier (a loopback UPS tracking API,
  :class:`gateway.testkit.carrier_api.CarrierApi`) within a daily budget that runs out
  on the last request (what is left is read), their events stored, each check logged,
  the overdue trackers counted; then the write path meeting a racing writer, as the
  poller's container runs it;
- **query**: the GET routes through the Lambda handler, the endpoint API's reads and the
  trackers API's (a list, a tracker with its checks, today's usage);
- **ingest** again: the endpoint API's other writes; a refresh refused because the day's
  budget is spent (429), a batch refresh queued, a tracker removed;
- **console** (before the pass): a cold container logs in with the credential whose
  digest is in the stack's secret and refreshes one tracker now (the carrier called,
  the budget spent, the events stored, the check logged);
- **console** (last): ``gateway.aws.console.console_handler`` on REST proxy events, a
  cold container: a login, every page with that session (overview, tenants, a tenant,
  a shipment, parked, notifications, an endpoint, trackers, a tracker, the stylesheet),
  then every action (a parked delivery replayed once its adapter is fixed, an endpoint
  disabled and enabled, failed messages recovered, a message resent, two trackers
  queued, a partner secret rotated), each audited in the table.

Then: every call is allowed; every grant of the six roles is used by some call (but the
few listed in :data:`NOT_REPLAYED`, each with why); and what each role must not do is
refused. The filters are checked against every record the stream carried.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import shutil
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import boto3
import pytest
from botocore.config import Config
from moto import mock_aws

from adapters import easypost
from gateway.api.app import make_handler
from gateway.audit.change_table import TableChangeLog
from gateway.aws import console as console_module
from gateway.aws import handler as handler_module
from gateway.aws import notify as notify_module
from gateway.aws import poll as poll_module
from gateway.aws.handler import services_from_environment
from gateway.aws.secrets import console_credential_secret_id
from gateway.console.credential import new_credential
from gateway.ingest.pipeline import Pipeline
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
from gateway.testkit.carrier_api import CarrierApi, SimEvent
from gateway.testkit.events import make_event
from gateway.testkit.rest_console import through_rest_api
from infra.notify import STREAM_FILTERS
from infra.roles import (
    INDEX_ACCESS,
    KMS_DATA_KEY,
    READS_SECRETS,
    STREAM_ACTIONS,
    TABLE_ACCESS,
    Scope,
)
from infra.roles import policy_document as generated_policy
from tests.infra.filters import check_pattern, passes
from tests.infra.iam import Recorder, Request, World, allowed, requests_of

REGION, ACCOUNT, STACK = "us-west-2", "123456789012", "dev"
TABLE = f"waybill-{STACK}"
PREFIX = f"waybill/{STACK}/"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
PARTNER_SECRET = "ep-replay-secret"
ROLES = ("ingest", "query", "notify", "sweeper", "poller", "console")
POLL_TENANT = "pollco"
POLL_BUDGET = 7  # two refreshes (2 requests each), then a pass (3): the last one fits exactly
TRACKED = ("1Z999AA10000000001", "1Z999AA10000000002", "1Z999AA10000000003")
PARKED_BODY = b'{"object": "Event", "result": 7}'  # verified, unreadable: parked
PARKED_ID = hashlib.sha256(PARKED_BODY).hexdigest()[:12]
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
    carrier_requests: list[str] = field(default_factory=list)  # paths the carrier API served
    passed: list[dict[str, Any]] = field(default_factory=list)  # what the filters let through
    sent: list[tuple[str, str]] = field(default_factory=list)  # (url, webhook-id) of attempts
    console_pages: dict[str, int] = field(default_factory=dict)  # path → status, as visited

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


def _container(
    monkeypatch: pytest.MonkeyPatch, function: str, sender: Endpoints, *, loopback: bool = False
) -> Services:
    """A fresh container of ``function``: its environment (as :mod:`infra.functions` sets
    it) and its own services. ``loopback``: the address policy lets it call the loopback
    carrier API (a test stack's ``waybill:allowInsecureEndpoints``)."""
    if function in ("ingest", "query"):
        monkeypatch.setenv("CURSOR_KEY_SECRET", f"{PREFIX}cursor_key")
    else:
        monkeypatch.delenv("CURSOR_KEY_SECRET", raising=False)
    if function == "poller":  # opens no endpoint secret: the stack does not name the key
        monkeypatch.delenv("NOTIFY_KEY_ID", raising=False)
    else:
        monkeypatch.setenv("NOTIFY_KEY_ID", NOTIFY_KEY[0])
    monkeypatch.setenv("NOTIFY_ALLOW_INSECURE", "true" if loopback else "false")
    services = services_from_environment()
    services.notifications.notifier.send = sender
    handler_module._handler = make_handler(services)  # what lambda_handler would build
    # what the scheduled and stream entry points would build (once per container)
    monkeypatch.setattr(notify_module, "shared_services", lambda: services)
    monkeypatch.setattr(poll_module, "shared_services", lambda: services)
    return services


NOTIFY_KEY: list[str] = []  # the KMS key's ARN, once moto made it


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
    assert _signed_webhook(PARKED_BODY)[0] == 202  # parked
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
    _container(monkeypatch, "notify", sender)
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
    n1 = TRACKED[0]
    for path in (
        "/v1/trackers?carrier=ups",
        f"/v1/trackers/{n1}?carrier=ups",
        "/v1/trackers/usage",
        f"/v1/shipments/{n1}",  # its states with its tracker's freshness
    ):
        status, reply = _invoke("GET", path, tenant=POLL_TENANT)
        assert status == 200, (path, reply)
    checks = _invoke("GET", f"/v1/trackers/{n1}?carrier=ups", tenant=POLL_TENANT)[1]
    assert checks["recent_checks"], checks  # the pass logged its check
    usage = _invoke("GET", "/v1/trackers/usage", tenant=POLL_TENANT)[1]
    assert usage["carriers"][0]["requests_today"] == POLL_BUDGET, usage
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


def _tracker_writes(monkeypatch: pytest.MonkeyPatch, sender: Endpoints) -> None:
    """The trackers API's writes: add three, refresh one now (the carrier is called)."""
    services = _container(monkeypatch, "ingest", sender, loopback=True)
    body = [("content-type", "application/json")]
    for number in TRACKED:
        wanted = json.dumps({"tracking_number": number, "carrier": "ups"}).encode()
        status, reply = _invoke("POST", "/v1/trackers", wanted, body, tenant=POLL_TENANT)
        assert status == 201, reply
    status, reply = _invoke(
        "POST", f"/v1/trackers/{TRACKED[2]}/refresh?carrier=ups", tenant=POLL_TENANT
    )
    assert status == 200 and reply["events_added"] > 0, reply
    _shutdown(services)


def _poll(monkeypatch: pytest.MonkeyPatch, sender: Endpoints) -> None:
    """One pass of the poller over what is due, then the write path meeting a racer."""
    services = _container(monkeypatch, "poller", sender, loopback=True)
    assert poll_module.poll_handler({}, LocalContext.new()) == {"checked": 2}
    used = services.trackers.budget.used(POLL_TENANT, "ups", services.clock())
    assert used == POLL_BUDGET  # a token call and two tracking calls: the last one fitted
    # a racing writer (a push of the same shipment) put its first event and died: the
    # pass's write probes for it and reads what it stored (as the ingest replay)
    client, now = services.store.client, datetime.now(UTC)
    events = [make_event(i, tracking_number="EZPOLLRACE1") for i in range(2)]
    _Crashed(client, TABLE).record(events[:1], delivery_key="a", now=now, retention_days=30)
    racer = DynamoStore(client, TABLE, services.store.meter, sleep=lambda _: None)
    racer.record(events, delivery_key="b", now=now, retention_days=30, source="poll")
    services.pipeline.audit.flush()  # what the handler does: nothing was audited


def _tracker_writes_again(monkeypatch: pytest.MonkeyPatch, sender: Endpoints) -> None:
    """A refresh once the budget is spent (429), a batch refresh, a removal."""
    services = _container(monkeypatch, "ingest", sender, loopback=True)
    n1, n2, _ = TRACKED
    status, reply = _invoke("POST", f"/v1/trackers/{n1}/refresh?carrier=ups", tenant=POLL_TENANT)
    assert status == 429 and reply["error"]["code"] == "poll_budget_spent", reply
    batch = json.dumps({"trackers": [{"tracking_number": n1, "carrier": "ups"}]}).encode()
    body = [("content-type", "application/json")]
    status, reply = _invoke("POST", "/v1/trackers/refresh", batch, body, tenant=POLL_TENANT)
    assert status == 202, reply
    status, reply = _invoke("DELETE", f"/v1/trackers/{n2}?carrier=ups", tenant=POLL_TENANT)
    assert status == 200 and reply["state"] == "retired", reply
    _shutdown(services)


CONSOLE_CREDENTIAL: list[str] = []  # the plaintext of the credential the secret holds


def _console_event(
    method: str, path: str, cookies: tuple[str, ...] = (), form: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A REST proxy event of the ``/console`` routes on stage ``api``."""
    path, _, query = path.partition("?")
    headers = {"host": "abc.execute-api.us-west-2.amazonaws.com"}
    if form is not None:
        headers["content-type"] = "application/x-www-form-urlencoded"
    multi = {k: [v] for k, v in headers.items()} | ({"cookie": list(cookies)} if cookies else {})
    params: dict[str, list[str]] = {}
    for name, value in parse_qsl(query):
        params.setdefault(name, []).append(value)
    return {
        "httpMethod": method,
        "path": path,
        "resource": "/console/{proxy+}",
        "headers": headers,
        "multiValueHeaders": multi,
        "multiValueQueryStringParameters": params or None,
        "body": urlencode(form, doseq=True) if form is not None else None,
        "isBase64Encoded": False,
        "requestContext": {"path": f"/api{path}", "identity": {"sourceIp": "203.0.113.9"}},
    }


def _set_cookie(answer: Mapping[str, Any], name: str) -> str:
    for header in answer["multiValueHeaders"].get("set-cookie", []):
        if header.startswith(f"{name}="):
            return str(header).split(";", 1)[0]
    raise AssertionError(f"no {name} cookie: {answer['multiValueHeaders']}")


def _csrf(body: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', body)
    assert found, body[:300]
    return found.group(1)


ConsoleHandler = Any  # the proxy handler of gateway.aws.console


def _console_container(monkeypatch: pytest.MonkeyPatch, *, loopback: bool = False) -> Any:
    """A cold console container (as :mod:`infra.functions` sets it up): its handler."""
    monkeypatch.setenv("CURSOR_KEY_SECRET", f"{PREFIX}cursor_key")
    monkeypatch.setenv("NOTIFY_KEY_ID", NOTIFY_KEY[0])
    monkeypatch.setenv("NOTIFY_ALLOW_INSECURE", "true" if loopback else "false")
    handler_module.shared_services.cache_clear()
    handler = console_module.make_console_handler(console_module.console_from_environment)
    return lambda event, _: through_rest_api(handler, event)  # the stage: its authorizer first


def _console_login(handler: ConsoleHandler) -> str:
    """A login with the credential of the stack's secret: the session cookie."""
    login = handler(_console_event("GET", "/console/login"), None)
    assert login["statusCode"] == 200
    pre = _set_cookie(login, "waybill_console_login")
    form = {"csrf": _csrf(login["body"]), "credential": CONSOLE_CREDENTIAL[0]}
    answer = handler(_console_event("POST", "/console/login", (pre,), form), None)
    assert answer["statusCode"] == 303, answer["body"][:300]
    return _set_cookie(answer, "waybill_console")


def _console_action(
    handler: ConsoleHandler, session: str, path: str, form: Mapping[str, Any]
) -> tuple[int, str]:
    """One action's form posted with the session and a page's CSRF token."""
    page = handler(_console_event("GET", "/console/tenants", (session,)), None)
    answer = handler(
        _console_event("POST", path, (session,), {"csrf": _csrf(page["body"]), **form}), None
    )
    return answer["statusCode"], answer["body"]


def _console_refresh(monkeypatch: pytest.MonkeyPatch) -> None:
    """Before the pass: a console refresh of one tracker now (a token call and a tracking
    call, the budget spent, the events stored through the write path, the check logged)."""
    handler = _console_container(monkeypatch, loopback=True)
    session = _console_login(handler)
    form = {"tenant": POLL_TENANT, "carrier": "ups", "number": TRACKED[2]}
    status, body = _console_action(handler, session, "/console/trackers/refresh", form)
    assert status == 200 and f"checked {TRACKED[2]}" in body, body[:500]
    handler_module.shared_services().pipeline.audit.flush()
    handler_module.shared_services.cache_clear()


def _console(monkeypatch: pytest.MonkeyPatch, seen: list[Any]) -> dict[str, int]:
    """A cold console container: a login, every page with the session, then every action
    (each audited in the table)."""
    handler = _console_container(monkeypatch)
    session = _console_login(handler)
    endpoints, listed = seen
    number = "EZ1000000001"
    pages = (
        "/console/",
        "/console/tenants",
        "/console/tenants/acme",
        f"/console/tenants/{POLL_TENANT}",
        f"/console/shipment?tenant=acme&number={number}",
        f"/console/tenants/acme/shipments/{number}",
        f"/console/tenants/{POLL_TENANT}/shipments/{TRACKED[0]}",
        "/console/parked",
        "/console/notifications",
        f"/console/tenants/acme/endpoints/{endpoints[0].id}",
        "/console/trackers",
        f"/console/tenants/{POLL_TENANT}/trackers/ups/{TRACKED[0]}",
        "/console/static/console.css",
    )
    visited = {}
    for path in pages:
        page = handler(_console_event("GET", path, (session,)), None)
        visited[path] = page["statusCode"]
        assert page["statusCode"] in (200, 303), (path, page["body"][:500])
    a, b, c, _ = endpoints
    services = handler_module.shared_services()
    services.notifications.notifier.send = Endpoints([])
    # the adapter was fixed and deployed: the parked body now reads (as another shipment's
    # history, so the replay stores new events)
    history = (FIXTURES / "easypost" / "event_tracker_updated_return_to_sender.json").read_bytes()
    read = Pipeline.read

    def fixed(pipeline: Pipeline, tenant: Any, adapter: Any, delivery: Any) -> Any:
        return read(pipeline, tenant, adapter, dataclasses.replace(delivery, body=history))

    monkeypatch.setattr(Pipeline, "read", fixed)
    since = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    for path, form, expected in (
        ("/console/parked/replay", {"tenant": "acme", "id": PARKED_ID}, "1 replayed"),
        (
            "/console/endpoints/toggle",
            {"tenant": "acme", "endpoint": b.id, "enabled": "false"},
            "disabled",
        ),
        (
            "/console/endpoints/toggle",
            {"tenant": "acme", "endpoint": b.id, "enabled": "true"},
            "enabled",
        ),
        (
            "/console/endpoints/recover",
            {"tenant": "acme", "endpoint": c.id, "since": since},
            "queued",
        ),
        (
            "/console/endpoints/resend",
            {"tenant": "acme", "endpoint": a.id, "message": listed[0][0].id},
            "resent",
        ),
        (
            "/console/trackers/refresh",
            {"tenant": POLL_TENANT, "carrier": "ups", "number": [TRACKED[0], TRACKED[2]]},
            "queued 2 trackers",
        ),
        (
            "/console/secrets/rotate",
            {"tenant": "acme", "target": "easypost", "grace": "1h"},
            "rotated",
        ),
    ):
        status, body = _console_action(handler, session, path, form)
        assert status == 200 and expected in body, (path, body[:800])
        visited[path] = status
    monkeypatch.setattr(Pipeline, "read", read)
    services.pipeline.audit.flush()
    handler_module.shared_services.cache_clear()
    return visited


def _tenants(target: Path, api: CarrierApi) -> Path:
    """The fixture tenants and one that polls UPS (the loopback API) on a small budget."""
    shutil.copytree(FIXTURES / "tenants", target)
    (target / f"{POLL_TENANT}.toml").write_text(
        "\n".join(
            [
                'name = "Poll Co (replay)"',
                'plan = "standard"',
                "retention_days = 30",
                "[carriers.ups.polling]",
                f"daily_budget = {POLL_BUDGET}",
                f'api_base_url = "{api.base_url("ups")}"',
            ]
        )
        + "\n"
    )
    history = [SimEvent("in_transit", datetime.now(UTC) - timedelta(hours=3), city="Atlanta")]
    for number in TRACKED:
        api.add("ups", number, history)
    return target


@pytest.fixture(scope="module")
def replay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replay]:
    with mock_aws(), pytest.MonkeyPatch.context() as monkeypatch, CarrierApi() as api:
        tenants = _tenants(tmp_path_factory.mktemp("replay") / "tenants", api)
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        ensure_table(dynamodb, TABLE)
        table = dynamodb.describe_table(TableName=TABLE)["Table"]
        key_arn = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]
        secrets = boto3.client("secretsmanager", region_name=REGION)
        keyset = new_keyset(PARTNER_SECRET, now=datetime.now(UTC)).model_dump_json()
        partner = secrets.create_secret(Name=f"{PREFIX}acme/easypost", SecretString=keyset)
        cursor = secrets.create_secret(Name=f"{PREFIX}cursor_key", SecretString="k" * 64)
        credentials = new_keyset(api.slot_value("ups"), now=datetime.now(UTC))
        plaintext, record = new_credential()
        credential = secrets.create_secret(
            Name=console_credential_secret_id(PREFIX), SecretString=record
        )
        CONSOLE_CREDENTIAL[:] = [plaintext]
        carrier_api = secrets.create_secret(
            Name=f"{PREFIX}{POLL_TENANT}/ups.api", SecretString=credentials.model_dump_json()
        )
        world = World(
            REGION,
            ACCOUNT,
            table["LatestStreamArn"],
            key_arn,
            {s["Name"]: s["ARN"] for s in (partner, cursor, carrier_api, credential)},
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
            credential["ARN"],
        )
        for name, value in {
            "TABLE_NAME": TABLE,
            "SECRETS_PREFIX": PREFIX,
            "TENANTS_DIR": str(tenants),
            "NOTIFY_KEY_ID": key_arn,
            "NOTIFY_ALLOW_INSECURE": "false",
        }.items():
            monkeypatch.setenv(name, value)
        NOTIFY_KEY[:] = [key_arn]
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
            with recorder.acting("ingest"):
                _tracker_writes(monkeypatch, sender)
            with recorder.acting("console"):
                _console_refresh(monkeypatch)
            with recorder.acting("poller"):
                _poll(monkeypatch, sender)
            with recorder.acting("query"):
                seen = _query(monkeypatch, result, sender)
            with recorder.acting("ingest"):
                _ingest_again(monkeypatch, result, sender, seen)
                _tracker_writes_again(monkeypatch, sender)
            with recorder.acting("console"):
                result.console_pages = _console(monkeypatch, seen)
        result.records = _read_stream(world.stream_arn)  # every kind of item, messages too
        result.passed = [r for r in result.records if passes(STREAM_FILTERS, r)]
        result.carrier_requests = [r.path for r in api.requests]
        handler_module._handler = None
        handler_module.shared_services.cache_clear()
        yield result


def _grants(function: str) -> set[str]:
    """Every (action, key prefix | index) a role grants, as ``"dynamodb:GetItem S#*"``."""
    grants = {
        f"dynamodb:{action} {prefix}"
        for action, prefixes in TABLE_ACCESS.get(function, {}).items()
        for prefix in prefixes
    }
    for index, partitions in INDEX_ACCESS.get(function, {}).items():
        grants |= {f"dynamodb:Query index/{index} {p}" for p in partitions or ("*",)}
    grants |= set(KMS_DATA_KEY.get(function, ()))
    if function in READS_SECRETS:
        grants.add("secretsmanager:GetSecretValue")
    if function == "notify":
        grants |= set(STREAM_ACTIONS) | {"sqs:SendMessage"}
    return grants


def _used(requests: list[Request], function: str) -> set[str]:
    """The grants ``requests`` exercise (each leading key matched to its granted prefix)."""
    used: set[str] = set()
    for request in requests:
        if "/index/" in request.resource:
            index = request.resource.rsplit("/index/", 1)[1]
            partitions = INDEX_ACCESS.get(function, {}).get(index) or ("*",)
            for value in request.context.get("dynamodb:LeadingKeys", ()):
                for prefix in partitions:
                    if fnmatchcase(value, prefix):
                        used.add(f"{request.action} index/{index} {prefix}")
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


def test_what_the_poller_must_not_do_is_refused(replay: Replay) -> None:
    table, index = replay.scope.table_arn, f"{replay.scope.table_arn}/index"
    key, poller = replay.scope.kms_key_arn, "poller"
    # endpoints, messages, audit, parked bodies, API keys, the data key: none of its business
    for action in ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query"):
        for pk in ("N#acme", "M#acme#ep_1#0", "A#acme#2026-01-02#0", "P#acme#a", "APIKEY#0f3a"):
            assert not _can(
                replay, poller, f"dynamodb:{action}", table, dynamodb__LeadingKeys=(pk,)
            )
        assert not _can(
            replay, poller, f"dynamodb:{action}", table, dynamodb__LeadingKeys=("K#notify",)
        )
    assert not _can(
        replay, poller, "dynamodb:BatchWriteItem", table, dynamodb__LeadingKeys=("A#x",)
    )
    # the check log (CHK#) may be written; the hard-cap counters (L#) never
    assert _can(
        replay,
        poller,
        "dynamodb:PutItem",
        table,
        dynamodb__LeadingKeys=("CHK#acme#ups#2026-01-02",),
    )
    for counter in ("L#acme#2026-01-02#3", "L#acme#2026-01-02#12"):
        for action in ("PutItem", "UpdateItem", "GetItem"):
            assert not _can(
                replay, poller, f"dynamodb:{action}", table, dynamodb__LeadingKeys=(counter,)
            )
    # a shipment is never deleted, nor a budget put over; the leases are its only deletes
    assert not _can(replay, poller, "dynamodb:DeleteItem", table, dynamodb__LeadingKeys=("S#a#1Z",))
    assert not _can(replay, poller, "dynamodb:PutItem", table, dynamodb__LeadingKeys=("Q#a#ups",))
    assert _can(replay, poller, "dynamodb:DeleteItem", table, dynamodb__LeadingKeys=("LEASE#poll",))
    mixed = ("S#acme#1Z", "N#acme")  # one foreign key spoils a batch
    assert not _can(replay, poller, "dynamodb:BatchGetItem", table, dynamodb__LeadingKeys=mixed)
    # its own due partitions; never the messages', nor the status index; no Scan
    assert _can(replay, poller, "dynamodb:Query", f"{index}/due", dynamodb__LeadingKeys=("POLL#3",))
    assert not _can(
        replay, poller, "dynamodb:Query", f"{index}/due", dynamodb__LeadingKeys=("DUE#3",)
    )
    assert not _can(
        replay, "sweeper", "dynamodb:Query", f"{index}/due", dynamodb__LeadingKeys=("POLL#3",)
    )
    assert not _can(replay, poller, "dynamodb:Query", f"{index}/gsi1")
    assert not _can(replay, poller, "dynamodb:Scan", table)
    assert not _can(replay, poller, "dynamodb:GetRecords", replay.world.stream_arn)
    # the carriers' API credentials only; the data key never
    read = "secretsmanager:GetSecretValue"
    api_slot = replay.world.secret_arns[f"{PREFIX}{POLL_TENANT}/ups.api"]
    assert _can(replay, poller, read, api_slot)
    for name in (f"{PREFIX}acme/easypost", f"{PREFIX}cursor_key"):
        assert not _can(replay, poller, read, replay.world.secret_arns[name]), name
    assert not _can(replay, poller, read, replay.scope.plan_keys().replace("*", "acme-AbC123"))
    assert not _can(replay, poller, "kms:Decrypt", key, **DATA_KEY_CONTEXT)
    assert not _can(replay, poller, "kms:GenerateDataKey", key, **DATA_KEY_CONTEXT)
    assert not _can(replay, poller, "sqs:SendMessage", replay.scope.notify_dlq_arn)


def test_the_pass_and_the_refresh_called_the_carrier_within_the_budget(replay: Replay) -> None:
    """The pass and the refresh really called the (loopback) carrier: a token each, then
    one tracking call per tracker; the refresh refused for the budget made no call."""
    tokens = [p for p in replay.carrier_requests if "oauth/token" in p]
    details = [p for p in replay.carrier_requests if "/track/" in p]
    assert len(tokens) == 3  # the refresh's container, the console's, then the poller's
    assert sorted(p.rsplit("/", 1)[-1].split("?")[0] for p in details) == sorted(
        [TRACKED[2], TRACKED[2], TRACKED[0], TRACKED[1]]
    )
    assert len(replay.carrier_requests) == POLL_BUDGET  # every request counted, none over


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


def test_the_console_visited_every_page_and_did_every_action_within_its_role(
    replay: Replay,
) -> None:
    """Every page and action answered through ``console_handler`` with the session, each
    action audited in the table; its role does what they need and nothing more: no Scan,
    no API key, no plan key, no usage counter write, no shipment deleted, no data key
    made, its own credential and the cursor key never written."""
    assert set(replay.console_pages.values()) == {200}, replay.console_pages
    changes = TableChangeLog(boto3.client("dynamodb", region_name=REGION), TABLE)
    since = datetime.now(UTC) - timedelta(hours=2)
    done = [
        (c.action, c.actor) for t in ("acme", POLL_TENANT) for c in changes.read(t, since=since)
    ]
    assert sorted(done) == sorted(
        [
            ("endpoint.disable", "console"),
            ("endpoint.enable", "console"),
            ("endpoint.recover", "console"),
            ("endpoint.resend", "console"),
            ("parked.replay", "console"),
            ("secret.rotate", "console"),
            ("tracker.refresh", "console"),
            ("tracker.refresh", "console"),
        ]
    )
    table, index = replay.scope.table_arn, f"{replay.scope.table_arn}/index"
    key, read = replay.scope.kms_key_arn, "secretsmanager:GetSecretValue"
    for pk in ("APIKEY#0f3a", "L#acme#2026-01#3", "LEASE#poll", "A#acme#2026-01-02#0"):
        for action in ("PutItem", "UpdateItem", "DeleteItem"):
            assert not _can(
                replay, "console", f"dynamodb:{action}", table, dynamodb__LeadingKeys=(pk,)
            ), (action, pk)
    assert not _can(
        replay, "console", "dynamodb:GetItem", table, dynamodb__LeadingKeys=("APIKEY#0f3a",)
    )
    for pk in ("S#acme#1Z", "N#acme", "M#acme#ep_1#0", "CH#acme#2026-01"):
        assert not _can(
            replay, "console", "dynamodb:DeleteItem", table, dynamodb__LeadingKeys=(pk,)
        )
    assert not _can(replay, "console", "dynamodb:Scan", table)
    assert not _can(
        replay,
        "console",
        "dynamodb:Query",
        f"{index}/gsi1",
        dynamodb__LeadingKeys=("S#acme#in_transit",),
    )
    assert _can(
        replay,
        "console",
        "dynamodb:Query",
        f"{index}/gsi1",
        dynamodb__LeadingKeys=("TRK#acme#active",),
    )
    assert _can(replay, "console", "kms:Decrypt", key, **DATA_KEY_CONTEXT)
    assert not _can(replay, "console", "kms:GenerateDataKey", key, **DATA_KEY_CONTEXT)
    rotate = ("secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage")
    for name in (f"{PREFIX}acme/easypost", f"{PREFIX}{POLL_TENANT}/ups.api"):
        for action in (read, *rotate):
            assert _can(replay, "console", action, replay.world.secret_arns[name]), (name, action)
    plan_key = replay.scope.plan_keys().replace("*", "acme-AbC123")
    credential = replay.world.secret_arns[console_credential_secret_id(PREFIX)]
    cursor = replay.world.secret_arns[f"{PREFIX}cursor_key"]
    for action in (read, *rotate):
        assert not _can(replay, "console", action, plan_key), action
    for action in rotate:
        assert not _can(replay, "console", action, credential), action
        assert not _can(replay, "console", action, cursor), action
    # the credential's digest is the console's alone: ingest's waybill/{stack}/* is denied it
    assert _can(replay, "console", read, credential)
    for function in ("ingest", "query", "poller"):
        assert not _can(replay, function, read, credential), function
    assert _can(replay, "ingest", read, replay.world.secret_arns[f"{PREFIX}acme/easypost"])
