"""The local gateway's wiring: the same handler as on AWS, with local parts.

DynamoDB Local instead of DynamoDB, ``<state_dir>/secrets.json`` instead of
Secrets Manager, ``<state_dir>/api_keys.json`` for the edge's API keys,
``<state_dir>/cursor.key`` for the page cursors' key, and the edge's in-process
throttle (token bucket, quota, hard cap) for API Gateway's usage plans.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from gateway.api.app import LambdaHandler, make_handler
from gateway.api.cursors import local_cursor_key
from gateway.audit.refusals import audited_admission
from gateway.local.throttle import EdgeThrottle
from gateway.observability import count
from gateway.services import Services, build_services, dynamodb_client
from gateway.store.table import DEFAULT_TABLE_NAME, ensure_table
from gateway.tenancy.apikeys import LocalApiKeyStore
from gateway.tenancy.local_secrets import LocalSecretStore
from gateway.tenancy.plans import plan_of

LOCAL_SESSION = {
    "region_name": "us-west-2",
    "aws_access_key_id": "local",
    "aws_secret_access_key": "local",
}


@dataclass(frozen=True)
class LocalGateway:
    """What ``waybill serve`` needs: the handler, the edge's key resolver and throttle."""

    handler: LambdaHandler
    resolve_api_key: Callable[[str], str | None]
    services: Services
    admit: Callable[[str], float | None] | None = None  # /v1, by the key's tenant
    admit_route: Callable[[str], float | None] | None = None  # webhooks, before verification


def local_dynamodb(endpoint_url: str) -> Any:
    """A client for DynamoDB Local (dummy credentials; never the real AWS)."""
    return dynamodb_client(endpoint_url, **LOCAL_SESSION)


def build_local_gateway(
    *,
    state_dir: Path,
    endpoint_url: str,
    tenants_dir: Path,
    table_name: str = DEFAULT_TABLE_NAME,
) -> LocalGateway:
    """Create the table if missing and build the handler over local state."""
    client = local_dynamodb(endpoint_url)
    ensure_table(client, table_name)
    services = build_services(
        dynamodb=client,
        table_name=table_name,
        tenants_dir=tenants_dir,
        secrets=LocalSecretStore(state_dir),
        count=count,
        cursor_key=local_cursor_key(state_dir),
    )
    keys = LocalApiKeyStore(state_dir)
    throttle = EdgeThrottle(plan_of(services.pipeline.tenants))
    audit, clock = services.pipeline.audit, services.clock
    # Verified deliveries count against the quota and hard cap inside ingest.
    services = replace(services, pipeline=replace(services.pipeline, usage=throttle.admit_verified))
    return LocalGateway(
        handler=make_handler(services),
        resolve_api_key=keys.resolve,
        services=services,
        admit=audited_admission(throttle.admit, audit, clock),
        admit_route=audited_admission(throttle.admit_route, audit, clock),
    )
