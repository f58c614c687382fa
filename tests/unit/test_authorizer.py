"""The AWS edge: the Lambda REQUEST authorizer on real API Gateway event shapes (moto).

Tenant keys live in DynamoDB by digest, plan keys in Secrets Manager, exactly as
the stack lays them out (:mod:`gateway.aws.api_keys`).
"""

from __future__ import annotations

import copy
import json
import logging
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from gateway import observability
from gateway.aws.api_keys import KEY_CACHE_SECONDS, DynamoApiKeys, PlanKeys, api_key_item
from gateway.aws.authorizer import AuthorizerHandler, authorizer_from_environment, make_authorizer
from gateway.aws.secrets import plan_key_secret_id, stack_prefix
from gateway.store.table import ensure_table
from gateway.tenancy.apikeys import digest
from gateway.tenancy.directory import TenantDirectory

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "authorizer"
TABLE = "waybill-test"
PREFIX = stack_prefix("test")
STAGE_V1 = "arn:aws:execute-api:eu-west-1:123456789012:k3x9q2w7ab/prod/*/v1/*"


def load(name: str, api_key: str | None = None) -> dict[str, Any]:
    """A fixture event; ``api_key`` replaces the placeholder in every header form."""
    event: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    single, multi = event["headers"], event["multiValueHeaders"]
    for header in [h for h in single if h.lower() == "x-api-key"]:
        if api_key is None:
            del single[header], multi[header]
        else:
            single[header], multi[header] = api_key, [api_key]
    return event


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Edge:
    authorize: AuthorizerHandler
    ddb: Any
    sm: Any
    clock: Clock
    keys: dict[str, str]  # tenant → its API key
    plan_keys: dict[str, str]  # tenant → its usage-plan key value
    tenants_dir: Path


def issue(ddb: Any, tenant: str) -> str:
    key = "wb_" + secrets.token_urlsafe(32)
    item = api_key_item(digest(key), tenant, key[:8], "2025-01-01T00:00:00Z")
    ddb.put_item(TableName=TABLE, Item=item)
    return key


def item_key(key: str) -> dict[str, Any]:
    item = api_key_item(digest(key), "-", "-", "-")
    return {"pk": item["pk"], "sk": item["sk"]}


def seed(tmp_path: Path) -> tuple[Any, Any, dict[str, str], dict[str, str], Path]:
    tenants = tmp_path / "tenants"
    tenants.mkdir()
    for tenant in ("demo", "other"):
        (tenants / f"{tenant}.toml").write_text(f'name = "{tenant}"\n[carriers.easypost]\n')
    ddb = boto3.client("dynamodb")
    sm = boto3.client("secretsmanager")
    ensure_table(ddb, TABLE)
    keys = {tenant: issue(ddb, tenant) for tenant in ("demo", "other")}
    plan_keys = {}
    for tenant in ("demo", "other"):
        plan_keys[tenant] = "planKey" + secrets.token_urlsafe(24)
        sm.create_secret(Name=plan_key_secret_id(PREFIX, tenant), SecretString=plan_keys[tenant])
    return ddb, sm, keys, plan_keys, tenants


@pytest.fixture
def edge(tmp_path: Path) -> Iterator[Edge]:
    with mock_aws():
        ddb, sm, keys, plan_keys, tenants = seed(tmp_path)
        clock = Clock()
        authorize = make_authorizer(
            tenants=TenantDirectory(tenants),
            api_keys=DynamoApiKeys(ddb, TABLE, monotonic=clock),
            plan_keys=PlanKeys(sm, PREFIX, monotonic=clock),
        )
        yield Edge(authorize, ddb, sm, clock, keys, plan_keys, tenants)


def refused(edge: Edge, event: dict[str, Any]) -> None:
    with pytest.raises(Exception, match=r"^Unauthorized$") as info:
        edge.authorize(event, None)
    assert str(info.value) == "Unauthorized"  # what API Gateway turns into a bare 401


def allowed(answer: dict[str, Any]) -> tuple[str, str]:
    """(tenant, policy resource) of an Allow answer, checking its shape on the way."""
    statement = answer["policyDocument"]["Statement"]
    assert answer["policyDocument"]["Version"] == "2012-10-17"
    assert len(statement) == 1
    assert statement[0]["Effect"] == "Allow"
    assert statement[0]["Action"] == "execute-api:Invoke"
    assert answer["context"] == {"tenant": answer["principalId"]}
    return answer["principalId"], statement[0]["Resource"]


# --- webhooks: not this authorizer's (the webhook edge has none) ----------------------


@pytest.mark.parametrize("fixture", ["webhook_easypost", "oauth_token_ups"])
def test_a_carrier_route_is_refused_even_for_a_known_tenant_and_a_valid_key(
    edge: Edge, fixture: str
) -> None:
    """Webhooks reach the HTTP API, where the signature authenticates them: a carrier route
    here is a misconfiguration, and admitting it by its path would meter a stranger's
    request under the tenant's plan."""
    refused(edge, load(fixture))
    event = load(fixture)
    event["headers"]["x-api-key"] = event["multiValueHeaders"]["x-api-key"] = edge.keys["demo"]
    event["multiValueHeaders"]["x-api-key"] = [edge.keys["demo"]]
    refused(edge, event)


# --- /v1: the tenant owns the key -----------------------------------------------------


@pytest.mark.parametrize("fixture", ["v1_shipment_get", "v1_events_post"])
def test_a_valid_key_yields_its_tenant(edge: Edge, fixture: str) -> None:
    answer = edge.authorize(load(fixture, edge.keys["demo"]), None)
    assert allowed(answer) == ("demo", STAGE_V1)  # every /v1 method: safe to cache by key
    assert answer["usageIdentifierKey"] == edge.plan_keys["demo"]


def test_another_tenants_key_never_yields_this_tenant(edge: Edge) -> None:
    for tenant in ("demo", "other"):
        answer = edge.authorize(load("v1_shipment_get", edge.keys[tenant]), None)
        assert answer["principalId"] == answer["context"]["tenant"] == tenant
        assert answer["usageIdentifierKey"] == edge.plan_keys[tenant]


@pytest.mark.parametrize(
    "key", [None, "", "wb_" + "x" * 43, "not-a-waybill-key", "wb_" + "x" * 300]
)
def test_a_missing_or_unknown_key_is_unauthorized(edge: Edge, key: str | None) -> None:
    refused(edge, load("v1_shipment_get", key))


def test_two_different_keys_are_unauthorized(edge: Edge) -> None:
    event = load("v1_shipment_get", edge.keys["demo"])
    event["multiValueHeaders"]["x-api-key"] = [edge.keys["other"], edge.keys["demo"]]
    refused(edge, event)


def test_a_revoked_key_is_refused_once_the_short_cache_lapses(edge: Edge) -> None:
    event = load("v1_shipment_get", edge.keys["demo"])
    assert edge.authorize(event, None)["principalId"] == "demo"
    edge.ddb.update_item(
        TableName=TABLE,
        Key=item_key(edge.keys["demo"]),
        UpdateExpression="SET revoked_at = :now",
        ExpressionAttributeValues={":now": {"S": "2025-02-03T10:00:00Z"}},
    )
    edge.clock.now = KEY_CACHE_SECONDS
    refused(edge, event)
    assert KEY_CACHE_SECONDS <= 5  # "at once" on AWS: seconds, not minutes


def test_a_revoked_key_is_refused_at_once_without_the_cache(edge: Edge) -> None:
    authorize = make_authorizer(
        tenants=TenantDirectory(edge.tenants_dir),
        api_keys=DynamoApiKeys(edge.ddb, TABLE, cache_seconds=0),
        plan_keys=PlanKeys(edge.sm, PREFIX),
    )
    event = load("v1_events_post", edge.keys["other"])
    assert authorize(event, None)["principalId"] == "other"
    edge.ddb.delete_item(TableName=TABLE, Key=item_key(edge.keys["other"]))
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorize(event, None)


def test_a_key_of_a_removed_tenant_is_unauthorized(edge: Edge) -> None:
    (edge.tenants_dir / "other.toml").unlink()
    refused(edge, load("v1_shipment_get", edge.keys["other"]))


# --- everything else -------------------------------------------------------------------


def test_routes_without_a_tenant_and_other_authorizer_types_are_unauthorized(edge: Edge) -> None:
    health = load("webhook_easypost")
    health["resource"] = health["path"] = "/healthz"
    refused(edge, health)
    token = load("v1_shipment_get", edge.keys["demo"])
    token["type"] = "TOKEN"
    refused(edge, token)


def test_a_missing_plan_key_is_our_failure_not_a_401(edge: Edge) -> None:
    edge.sm.delete_secret(
        SecretId=plan_key_secret_id(PREFIX, "other"), ForceDeleteWithoutRecovery=True
    )
    with pytest.raises(RuntimeError) as info:
        edge.authorize(load("v1_shipment_get", edge.keys["other"]), None)
    assert "Unauthorized" not in str(info.value)  # API Gateway answers 500: the carrier retries


def test_plan_keys_are_cached_and_a_new_secret_is_seen(edge: Edge) -> None:
    event = load("v1_shipment_get", edge.keys["demo"])
    assert edge.authorize(event, None)["usageIdentifierKey"] == edge.plan_keys["demo"]
    edge.sm.put_secret_value(
        SecretId=plan_key_secret_id(PREFIX, "demo"), SecretString="rotatedPlanKey0123456789"
    )
    edge.clock.now = 299
    answer = edge.authorize(event, None)
    assert answer["usageIdentifierKey"] == edge.plan_keys["demo"]  # still cached
    edge.clock.now = 301
    answer = edge.authorize(event, None)
    assert answer["usageIdentifierKey"] == "rotatedPlanKey0123456789"


def test_no_key_value_ever_reaches_the_logs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with mock_aws():
        _, _, keys, plan_keys, tenants = seed(tmp_path)
        monkeypatch.setenv("TABLE_NAME", TABLE)
        monkeypatch.setenv("SECRETS_PREFIX", PREFIX)
        monkeypatch.setenv("TENANTS_DIR", str(tenants))
        monkeypatch.setenv("LOG_LEVEL", "DEBUG")
        authorize = authorizer_from_environment()  # the wiring the Lambda uses
        caplog.clear()
        caplog.set_level(logging.DEBUG)  # everything, SDK loggers included
        events = [load("webhook_easypost")]
        events += [load("v1_shipment_get", key) for key in (*keys.values(), "wb_unknown")]
        for event in events:
            try:
                authorize(copy.deepcopy(event), None)
            except Exception as exc:
                assert str(exc) == "Unauthorized"
    logged = caplog.text + "".join(repr(r.__dict__) for r in caplog.records)
    assert "allowed route=v1 tenant=demo" in logged  # the logs do say what happened
    assert "refused route=v1 reason=unknown_api_key" in logged
    for value in (*plan_keys.values(), *keys.values()):
        assert value not in logged


# --- what it counts: refusals apart from its own failures (EMF, written before the raise) ---


def emitted(capsys: pytest.CaptureFixture[str]) -> list[str]:
    """The EMF metric names written to stdout since the last read, checking their shape."""
    names = []
    for line in capsys.readouterr().out.splitlines():
        blob = json.loads(line) if line.startswith("{") else {}
        for directive in blob.get("_aws", {}).get("CloudWatchMetrics", ()):
            assert directive["Namespace"] == observability.NAMESPACE  # "Waybill"
            assert directive["Dimensions"] == [["service"]]  # like every other metric
            assert blob["service"] == observability.SERVICE
            for metric in directive["Metrics"]:
                assert (metric["Unit"], blob[metric["Name"]]) == ("Count", 1)
                names.append(metric["Name"])
    return names


def test_a_refusal_counts_authorizer_refused_not_failed(
    edge: Edge, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    refused(edge, load("webhook_easypost"))
    refused(edge, load("v1_shipment_get", "wb_not_a_key"))
    assert emitted(capsys) == ["AuthorizerRefused", "AuthorizerRefused"]
    edge.authorize(load("v1_shipment_get", edge.keys["demo"]), None)
    assert emitted(capsys) == []  # an allowed request counts nothing


def test_storage_unreachable_counts_authorizer_failed(
    edge: Edge, capsys: pytest.CaptureFixture[str]
) -> None:
    edge.ddb.delete_table(TableName=TABLE)  # the key lookup fails: a 500, not a 401
    capsys.readouterr()
    with pytest.raises(Exception) as info:
        edge.authorize(load("v1_shipment_get", edge.keys["demo"]), None)
    assert str(info.value) != "Unauthorized"
    assert emitted(capsys) == ["AuthorizerFailed"]


def test_a_missing_plan_key_counts_authorizer_failed(
    edge: Edge, capsys: pytest.CaptureFixture[str]
) -> None:
    edge.sm.delete_secret(
        SecretId=plan_key_secret_id(PREFIX, "other"), ForceDeleteWithoutRecovery=True
    )
    capsys.readouterr()
    with pytest.raises(RuntimeError):
        edge.authorize(load("v1_shipment_get", edge.keys["other"]), None)
    assert emitted(capsys) == ["AuthorizerFailed"]
