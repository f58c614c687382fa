"""Drive the Lambda handler as API Gateway would, with moto's DynamoDB underneath."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import boto3
from moto import mock_aws

from gateway.api.app import LambdaHandler, make_handler
from gateway.local.proxy_event import LocalContext, build_event
from gateway.observability import count as emf_count
from gateway.routes import match_route
from gateway.services import Services, build_services
from gateway.store.table import ensure_table

TENANTS_DIR = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "tenants"


@dataclass
class DictSecrets:
    """An in-memory secrets provider: ``{(tenant, carrier): [secrets]}``."""

    values: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    fail: bool = False

    def valid_secrets(self, tenant: str, carrier: str, now: datetime) -> list[str]:
        if self.fail:
            raise ConnectionError("secrets backend unreachable")
        return list(self.values.get((tenant, carrier), []))


@dataclass
class Reply:
    """A decoded proxy response."""

    status: int
    headers: dict[str, str]
    body: Any


@dataclass
class Harness:
    """The handler, its services and a way to call it over HTTP-shaped events."""

    handler: LambdaHandler
    services: Services
    secrets: DictSecrets
    counts: dict[str, float]
    last_request_id: str = ""

    def call(
        self,
        method: str,
        url: str,
        *,
        body: bytes = b"",
        headers: Mapping[str, str] | list[tuple[str, str]] | None = None,
        tenant: str | None = None,
    ) -> Reply:
        parts = urlsplit(url)
        path = unquote(parts.path)  # decoded once, as the edge does
        route = match_route(path)
        if route is None:  # the edge answers it: the handler never sees such a path
            return Reply(404, {}, {"error": {"code": "not_found", "message": "no such route"}})
        event = build_event(
            route,
            method=method,
            path=path,
            headers=list(headers.items()) if isinstance(headers, Mapping) else list(headers or []),
            query_string=parts.query.encode(),
            body=body,
            source_ip="127.0.0.1",
            tenant=tenant,
            request_id=str(uuid.uuid4()),
        )
        self.last_request_id = event["requestContext"]["requestId"]
        response = self.handler(event, LocalContext.new())
        text = response.get("body") or ""
        headers = dict(response.get("headers") or {})
        for name, values in (response.get("multiValueHeaders") or {}).items():
            headers[name] = values[-1]
        return Reply(response["statusCode"], headers, json.loads(text) if text else None)


@contextmanager
def moto_harness(clock: Callable[[], datetime], *, emf: bool = False) -> Iterator[Harness]:
    """A handler over moto DynamoDB with the test tenants and in-memory secrets.

    Outcome counts go to ``Harness.counts``, or with ``emf`` to the real EMF metrics.
    """
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-west-2")
        ensure_table(client, "waybill-test")
        secrets = DictSecrets()
        counts: dict[str, float] = {}

        def count(name: str, value: float = 1) -> None:
            counts[name] = counts.get(name, 0) + value

        services = build_services(
            dynamodb=client,
            table_name="waybill-test",
            tenants_dir=TENANTS_DIR,
            secrets=secrets,
            count=emf_count if emf else count,
            clock=clock,
        )
        yield Harness(make_handler(services), services, secrets, counts)
