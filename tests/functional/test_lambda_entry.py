"""The AWS entry point: services built once from the environment (moto DynamoDB + secrets)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from adapters import easypost
from gateway.aws import handler as handler_module
from gateway.local.proxy_event import LocalContext, build_event
from gateway.routes import match_route
from gateway.store.table import ensure_table
from gateway.tenancy.keysets import new_keyset

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "easypost"
TENANTS = Path(__file__).resolve().parents[1] / "fixtures" / "tenants"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with mock_aws():
        ensure_table(boto3.client("dynamodb", region_name="us-west-2"), "waybill-prod")
        secrets = boto3.client("secretsmanager", region_name="us-west-2")
        keyset = new_keyset("ep-prod-secret", now=datetime.now(UTC))
        secrets.create_secret(Name="wb-prod/acme/easypost", SecretString=keyset.model_dump_json())
        monkeypatch.setenv("TABLE_NAME", "waybill-prod")
        monkeypatch.setenv("SECRETS_PREFIX", "wb-prod/")
        monkeypatch.setenv("TENANTS_DIR", str(TENANTS))
        monkeypatch.setattr(handler_module, "_handler", None)
        yield


def invoke(
    method: str, path: str, body: bytes = b"", headers: Any = (), tenant: str | None = None
) -> Any:
    route = match_route(path)
    assert route is not None
    event = build_event(
        route,
        method=method,
        path=path,
        headers=list(headers),
        query_string=b"",
        body=body,
        source_ip="203.0.113.9",
        tenant=tenant,
        request_id=str(uuid.uuid4()),
    )
    response = handler_module.lambda_handler(event, LocalContext.new())
    return response["statusCode"], json.loads(response["body"])


def test_a_signed_delivery_and_a_query_through_the_lambda_entry_point(aws: None) -> None:
    body = (FIXTURE / "event_tracker_updated_full_history.json").read_bytes()
    headers = easypost.ADAPTER.sign(body, "ep-prod-secret", 0) | {
        "Content-Type": "application/json"
    }
    status, reply = invoke("POST", "/webhooks/acme/easypost", body, headers.items())
    assert status == 200 and reply["accepted"] > 0
    status, reply = invoke("GET", "/v1/shipments/EZ1000000001", tenant="acme")
    assert status == 200 and reply["shipments"][0]["status"] == "delivered"
    status, _ = invoke("GET", "/v1/shipments/EZ1000000001", tenant="globex")
    assert status == 404


def test_a_wrong_secret_is_401_through_the_lambda_entry_point(aws: None) -> None:
    body = (FIXTURE / "event_tracker_updated_full_history.json").read_bytes()
    headers = easypost.ADAPTER.sign(body, "not-the-secret", 0) | {
        "Content-Type": "application/json"
    }
    status, reply = invoke("POST", "/webhooks/acme/easypost", body, headers.items())
    assert status == 401 and reply["error"]["code"] == "signature_mismatch"
