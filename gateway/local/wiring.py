"""The local gateway's wiring: the same handler as on AWS, with local parts.

DynamoDB Local instead of DynamoDB, ``<state_dir>/secrets.json`` instead of
Secrets Manager, ``<state_dir>/api_keys.json`` for the edge's API keys,
``<state_dir>/cursor.key`` for the page cursors' key, ``<state_dir>/notify.key`` for the
endpoint secrets' key instead of KMS, the edge's in-process token buckets for API
Gateway's rate and burst, and threads reading DynamoDB Local's stream and sweeping due
retries (:mod:`gateway.local.streams`) for the stream Lambda and its schedule. The quota
and the daily hard cap are counted as on AWS, by :class:`~gateway.tenancy.limits.UsageLimits`
in the table (the ``L#`` counters the console reads; :func:`local_limits`), written every
second by the background. Endpoints on loopback and private addresses over http are
allowed here (local receivers, tests); link-local and metadata addresses never are.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from gateway.api.app import LambdaHandler, make_handler
from gateway.api.cursors import local_cursor_key
from gateway.audit.refusals import audited_admission
from gateway.local.runtime import running_server
from gateway.local.streams import Background, Periodic, StreamReader
from gateway.local.throttle import EdgeThrottle
from gateway.notify.addresses import AddressPolicy
from gateway.notify.sealing import Sealer, local_key
from gateway.observability import count
from gateway.services import Services, build_services, dynamodb_client
from gateway.store.table import DEFAULT_TABLE_NAME, ensure_table
from gateway.tenancy.apikeys import LocalApiKeyStore
from gateway.tenancy.limits import UsageLimits
from gateway.tenancy.local_secrets import LocalSecretStore
from gateway.tenancy.plans import Plan, plan_of

LOCAL_SESSION = {
    "region_name": "us-west-2",
    "aws_access_key_id": "local",
    "aws_secret_access_key": "local",
}


@dataclass(frozen=True)
class LocalGateway:
    """What ``waybill serve`` needs: the handler, the edge's key resolver and admissions.

    ``services.limits`` counts the quota and the hard cap (through ``admit`` and ingest,
    not through the handler's middleware): flush it at shutdown."""

    handler: LambdaHandler
    resolve_api_key: Callable[[str], str | None]
    services: Services
    admit: Callable[[str], float | None] | None = None  # /v1, by the key's tenant: counted
    admit_route: Callable[[str], float | None] | None = None  # webhooks, before verification


def local_dynamodb(endpoint_url: str) -> Any:
    """A client for DynamoDB Local (dummy credentials; never the real AWS)."""
    return dynamodb_client(endpoint_url, **LOCAL_SESSION)


SWEEP_EVERY = 1.0  # seconds
USAGE_FLUSH_EVERY = 1.0  # seconds
"""How often ``waybill serve`` writes what its counter holds in memory (the background's
``waybill-usage`` job): the refusals are exact anyway (one process counts, and it adds
what it holds), and the console's usage is at most a second behind, without a write on
every request (one more ``UpdateItem`` per request doubled a local GET's latency)."""
POLL_EVERY = 60.0  # seconds: `waybill serve --poll-interval`


def local_streams(endpoint_url: str) -> Any:
    """A DynamoDB Streams client for DynamoDB Local."""
    import boto3

    return boto3.client("dynamodbstreams", endpoint_url=endpoint_url, **LOCAL_SESSION)  # type: ignore[call-overload]


def background(
    gateway: LocalGateway,
    endpoint_url: str,
    state_dir: Path | None,
    sweep_every: float = SWEEP_EVERY,
    poll_every: float = POLL_EVERY,
) -> Background:
    """The stream reader, the sweeper and the poller of a local gateway (not started)."""
    services = gateway.services
    reader = StreamReader(
        services.store.client,
        local_streams(endpoint_url),
        services.store.table,
        services.notifications.handle_stream,
        state_dir,
    )
    jobs = [
        Periodic("waybill-sweeper", services.notifications.sweep, sweep_every),
        Periodic("waybill-poller", services.trackers.poller.run_once, poll_every),
    ]
    if services.limits is not None:
        jobs.append(Periodic("waybill-usage", flush_job(services.limits), USAGE_FLUSH_EVERY))
    return Background(reader, jobs)


def flush_job(limits: UsageLimits) -> Callable[[], int]:
    """The background job that writes the counts ``limits`` holds in memory."""

    def run() -> int:
        limits.flush()
        return 0

    return run


def local_services(
    client: Any,
    table_name: str,
    *,
    state_dir: Path,
    tenants_dir: Path,
    allow_insecure_endpoints: bool = True,
    retry_scale: float = 1.0,
) -> Services:
    """The services over local state, as ``waybill serve`` and the ops commands use them
    (the same keys: an endpoint secret sealed by one opens in the other)."""
    return build_services(
        dynamodb=client,
        table_name=table_name,
        tenants_dir=tenants_dir,
        secrets=LocalSecretStore(state_dir),
        count=count,
        cursor_key=local_cursor_key(state_dir),
        sealer=Sealer(local_key(state_dir)),
        address_policy=AddressPolicy(allow_insecure=allow_insecure_endpoints),
        retry_scale=retry_scale,
    )


def running_services(state_dir: Path, tenants_dir: Path) -> Services:
    """The services of the ``waybill serve`` running with ``state_dir`` (its DynamoDB
    Local, table, endpoint address policy and retry scale); a
    :class:`~gateway.local.runtime.ServerNotRunningError` when none runs."""
    runtime = running_server(state_dir)
    return local_services(
        local_dynamodb(runtime["dynamodb_endpoint"]),
        runtime["table"],
        state_dir=state_dir,
        tenants_dir=tenants_dir,
        allow_insecure_endpoints=runtime.get("allow_insecure_endpoints", "True") == "True",
        retry_scale=float(runtime.get("retry_scale", "1.0")),
    )


def build_local_gateway(
    *,
    state_dir: Path,
    endpoint_url: str,
    tenants_dir: Path,
    table_name: str = DEFAULT_TABLE_NAME,
    allow_insecure_endpoints: bool = True,
    retry_scale: float = 1.0,
) -> LocalGateway:
    """Create the table if missing and build the handler over local state."""
    client = local_dynamodb(endpoint_url)
    ensure_table(client, table_name)
    services = local_services(
        client,
        table_name,
        state_dir=state_dir,
        tenants_dir=tenants_dir,
        allow_insecure_endpoints=allow_insecure_endpoints,
        retry_scale=retry_scale,
    )
    keys = LocalApiKeyStore(state_dir)
    plans = plan_of(services.pipeline.tenants)
    throttle = EdgeThrottle(plans)  # rate and burst: API Gateway's part
    limits = local_limits(client, services, plans)  # quota and hard cap: AWS's code
    audit, clock = services.pipeline.audit, services.clock
    # Verified deliveries are counted inside ingest, as on AWS; keyed /v1 calls at the edge
    # (keyed_admission), where the key was resolved, so the handler runs without the limits
    # middleware and a request refused for its quota never enters the handler.
    served = replace(services, pipeline=replace(services.pipeline, usage=limits.admit))
    return LocalGateway(
        handler=make_handler(served),
        resolve_api_key=keys.resolve,
        services=replace(served, limits=limits),  # waybill serve flushes it at shutdown
        admit=audited_admission(keyed_admission(throttle, limits), audit, clock),
        admit_route=audited_admission(throttle.admit_route, audit, clock),
    )


def keyed_admission(throttle: EdgeThrottle, limits: UsageLimits) -> Callable[[str], None]:
    """The edge's door for a ``/v1`` request whose key resolved to ``tenant``: the key's
    bucket, then the quota and the hard cap (counted as the AWS handler's middleware
    counts them); a :class:`~gateway.errors.ThrottledError` names the limit hit."""

    def admit(tenant: str) -> None:
        throttle.admit(tenant)
        limits.admit(tenant)

    return admit


def local_limits(
    client: Any, services: Services, plans: Callable[[str], Plan | None]
) -> UsageLimits:
    """The quota and hard cap counter of the local gateway: AWS's, with AWS's settings,
    and written every :data:`USAGE_FLUSH_EVERY` seconds by the background."""
    table, meter = services.store.table, services.store.meter
    return UsageLimits(client, table, plans, meter=meter)
