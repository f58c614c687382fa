"""The Lambda entry point of the HTTP surface: services built once per container.

Infra names it as a string (``gateway.aws.handler.lambda_handler``); nothing imports it.
The handler itself is :func:`gateway.api.app.make_handler`, which the local edge serves too.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from gateway.api.app import LambdaHandler, make_handler
from gateway.api.cursors import cursor_key_from_environment
from gateway.aws.secrets import SecretsManagerProvider
from gateway.observability import count
from gateway.services import PACKAGED_TENANTS_DIR, Services, build_services, dynamodb_client
from gateway.tenancy.limits import HardCap
from gateway.tenancy.plans import plan_of


def services_from_environment() -> Services:
    """Services for the Lambda from the environment.

    ``TABLE_NAME``, ``SECRETS_PREFIX``, ``TENANTS_DIR``, and the cursor key from
    ``CURSOR_KEY`` or ``CURSOR_KEY_SECRET`` (see ``gateway/api/cursors.py``).
    """
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


_handler: LambdaHandler | None = None


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The AWS entry point: services are built once per container from the environment."""
    global _handler
    if _handler is None:
        _handler = make_handler(services_from_environment())
    return _handler(event, context)
