"""The Lambda entry point of the HTTP surface: services built once per container.

Infra names it as a string (``gateway.aws.handler.lambda_handler``); nothing imports it.
The handler itself is :func:`gateway.api.app.make_handler`, which the local edge serves too.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from gateway.api.app import LambdaHandler, make_handler
from gateway.api.cursors import cursor_key_from_environment
from gateway.audit.outcomes import OutcomeLog
from gateway.aws.secrets import SecretsManagerProvider
from gateway.notify.addresses import AddressPolicy
from gateway.notify.sealing import Sealer, SealError, kms_data_key
from gateway.observability import count
from gateway.services import PACKAGED_TENANTS_DIR, Services, build_services, dynamodb_client
from gateway.tenancy.limits import UsageLimits
from gateway.tenancy.plans import plan_of


def services_from_environment() -> Services:
    """Services for the Lambda from the environment.

    ``TABLE_NAME``, ``SECRETS_PREFIX``, ``TENANTS_DIR``, the cursor key from
    ``CURSOR_KEY`` or ``CURSOR_KEY_SECRET`` (see ``gateway/api/cursors.py``), the KMS key
    of the endpoint secrets from ``NOTIFY_KEY_ID`` (without it, sealing them fails), and
    ``NOTIFY_ALLOW_INSECURE=true`` on test stacks only (http and private addresses).
    """
    client = dynamodb_client(os.environ.get("DYNAMODB_ENDPOINT_URL"))
    table = os.environ["TABLE_NAME"]
    services = build_services(
        dynamodb=client,
        table_name=table,
        tenants_dir=Path(os.environ.get("TENANTS_DIR", str(PACKAGED_TENANTS_DIR))),
        secrets=SecretsManagerProvider(prefix=os.environ.get("SECRETS_PREFIX", "waybill/")),
        count=count,
        cursor_key=cursor_key_from_environment(os.environ),
        sealer=Sealer(notify_key(client, table)),
        address_policy=AddressPolicy(
            allow_insecure=os.environ.get("NOTIFY_ALLOW_INSECURE", "").lower() == "true"
        ),
    )
    plans = plan_of(services.pipeline.tenants)
    limits = UsageLimits(client, services.store.table, plans, meter=services.store.meter)
    audit = OutcomeLog(services.pipeline.audit)  # one line per outcome: the cost widget's
    pipeline = replace(services.pipeline, usage=limits.admit, audit=audit)  # verified only
    return replace(services, pipeline=pipeline, limits=limits)


def deadline_of(context: Any) -> float | None:
    """When this invocation times out, on ``time.monotonic()``'s clock (None: unknown)."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return None if remaining is None else time.monotonic() + remaining() / 1000


@functools.cache
def shared_services() -> Services:
    """Services built once per container from the environment (the scheduled and stream
    entry points, ``gateway.aws.notify`` and ``gateway.aws.poll``, use these)."""
    return services_from_environment()


def notify_key(client: Any, table: str) -> Callable[[], bytes]:
    """The endpoint secrets' data key, kept under the KMS key ``NOTIFY_KEY_ID``."""
    key_id = os.environ.get("NOTIFY_KEY_ID")
    if not key_id:

        def missing() -> bytes:
            raise SealError("NOTIFY_KEY_ID is not set: endpoint secrets cannot be sealed")

        return missing

    def kms() -> Any:
        import boto3  # a KMS client only when a secret is first sealed or opened

        return boto3.client("kms")

    return kms_data_key(kms, key_id, client, table)


_handler: LambdaHandler | None = None


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The AWS entry point: services are built once per container from the environment."""
    global _handler
    if _handler is None:
        _handler = make_handler(services_from_environment())
    return _handler(event, context)
