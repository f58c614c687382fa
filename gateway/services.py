"""Wiring: the services a handler serves, built from explicit parts or from the environment."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.api.cursors import PROCESS_KEY, cursor_key_from_environment
from gateway.audit.windows import DynamoAudit
from gateway.carriers.discovery import Registry, load_adapters
from gateway.ingest.pipeline import Counter, Pipeline
from gateway.store.capacity import CapacityMeter
from gateway.store.dynamo import DynamoStore
from gateway.store.parked import ParkingLot
from gateway.tenancy.directory import TenantDirectory
from gateway.tenancy.keysets import SecretsProvider
from gateway.tenancy.limits import HardCap
from gateway.tenancy.plans import plan_of

PACKAGED_TENANTS_DIR = Path(__file__).resolve().parent.parent / "tenants"


def utc_now() -> datetime:
    """The current instant, timezone-aware."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Services:
    """Everything the handler needs."""

    pipeline: Pipeline
    store: DynamoStore
    clock: Callable[[], datetime]
    limits: HardCap | None = None  # the daily hard cap (on AWS); None: not enforced here
    cursor_key: bytes = PROCESS_KEY  # signs page cursors (see gateway/api/cursors.py)


def build_services(
    *,
    dynamodb: Any,
    table_name: str,
    tenants_dir: Path,
    secrets: SecretsProvider,
    count: Counter,
    clock: Callable[[], datetime] = utc_now,
    adapters: Registry | None = None,
    meter: CapacityMeter | None = None,
    cursor_key: bytes | None = None,
) -> Services:
    """Assemble the pipeline and store from explicit dependencies."""
    meter = meter or CapacityMeter()
    store = DynamoStore(dynamodb, table_name, meter)
    tenants = TenantDirectory(tenants_dir)
    pipeline = Pipeline(
        adapters=adapters or load_adapters(),
        tenants=tenants,
        secrets=secrets,
        store=store,
        parking=ParkingLot(dynamodb, table_name, meter),
        count=count,
        audit=DynamoAudit(dynamodb, table_name, tenants, clock=clock),  # its own meter
    )
    return Services(
        pipeline=pipeline, store=store, clock=clock, cursor_key=cursor_key or PROCESS_KEY
    )


def dynamodb_client(endpoint_url: str | None = None, **session: str) -> Any:
    """A DynamoDB client with bounded timeouts and standard retries.

    ``session`` may pin ``region_name`` and credentials (DynamoDB Local uses dummies).
    """
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=2,
        read_timeout=5,
        retries={"mode": "standard", "max_attempts": 3},
    )
    return boto3.client(  # type: ignore[call-overload]
        "dynamodb", endpoint_url=endpoint_url, config=config, **session
    )


def services_from_environment() -> Services:
    """Services for the Lambda from the environment.

    ``TABLE_NAME``, ``SECRETS_PREFIX``, ``TENANTS_DIR``, and the cursor key from
    ``CURSOR_KEY`` or ``CURSOR_KEY_SECRET`` (see ``gateway/api/cursors.py``).
    """
    from gateway.aws.handler import count
    from gateway.aws.secrets import SecretsManagerProvider

    client = dynamodb_client(os.environ.get("DYNAMODB_ENDPOINT_URL"))
    services = build_services(
        dynamodb=client,
        table_name=os.environ["TABLE_NAME"],
        tenants_dir=Path(os.environ.get("TENANTS_DIR", str(PACKAGED_TENANTS_DIR))),
        secrets=SecretsManagerProvider(prefix=os.environ.get("SECRETS_PREFIX", "waybill/")),
        count=count,
        cursor_key=cursor_key_from_environment(os.environ),
    )
    plans = plan_of(services.pipeline.tenants)
    limits = HardCap(client, services.store.table, plans, meter=services.store.meter)
    pipeline = replace(services.pipeline, usage=limits.admit)  # verified deliveries
    return replace(services, pipeline=pipeline, limits=limits)
