"""Wiring: the services a handler serves (ingest, store, clock, limits), built from parts.

The AWS entry points build them from the environment (:mod:`gateway.aws.handler`), the
local runtime from local state (:mod:`gateway.local.wiring`). May import ingest and
everything below it; the API above takes :class:`Services` as it is.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gateway.audit.outcomes import Auditor
from gateway.audit.windows import DynamoAudit
from gateway.carriers.discovery import Registry, load_adapters
from gateway.ingest.pipeline import Counter, Pipeline
from gateway.notify.addresses import AddressPolicy
from gateway.notify.sealing import Sealer
from gateway.store.capacity import CapacityMeter
from gateway.store.dynamo import DynamoStore
from gateway.store.parked import ParkingLot
from gateway.tenancy.directory import TenantDirectory
from gateway.tenancy.keysets import SecretsProvider
from gateway.tenancy.limits import UsageLimits

if TYPE_CHECKING:  # built on first use, not at a cold start (a webhook needs neither)
    from gateway.notify.service import Notifications
    from gateway.poll.service import Trackers

PACKAGED_TENANTS_DIR = Path(__file__).resolve().parent.parent / "tenants"
PROCESS_KEY = secrets.token_bytes(32)
"""The cursor key when none is configured: valid in this process only (gateway/api/cursors.py)."""
PROCESS_SEAL_KEY = secrets.token_bytes(32)
"""The endpoint secrets' key when none is configured: valid in this process only."""


def utc_now() -> datetime:
    """The current instant, timezone-aware."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Services:
    """Everything the handler needs.

    Notifications and trackers are built on first use (``build_notifications``,
    ``build_trackers``: each builds once, however many copies of the services share it),
    so a cold start that serves a webhook imports neither.
    """

    pipeline: Pipeline
    store: DynamoStore
    clock: Callable[[], datetime]
    build_notifications: Callable[[], Notifications] = field(repr=False)
    build_trackers: Callable[[], Trackers] = field(repr=False)
    limits: UsageLimits | None = None  # quota and hard cap in code (AWS); None: the edge does it
    cursor_key: bytes = PROCESS_KEY  # signs page cursors (gateway/api/cursors.py)

    @property
    def notifications(self) -> Notifications:
        """Endpoints, messages and their delivery."""
        return self.build_notifications()

    @property
    def trackers(self) -> Trackers:
        """Trackers and their poller."""
        return self.build_trackers()


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
    sealer: Sealer | None = None,
    address_policy: AddressPolicy | None = None,
    retry_scale: float = 1.0,
) -> Services:
    """Assemble the pipeline, store and notifications from explicit dependencies.

    ``sealer`` defaults to one under a key of this process only (tests, one-off tools: the
    secrets it seals open nowhere else); ``address_policy`` defaults to the deployed one
    (https only, public addresses only); ``retry_scale`` shrinks the retry schedule (tests
    and local demos only).
    """
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
    policy = address_policy or AddressPolicy()
    notifications = functools.cache(
        functools.partial(
            build_notifications,
            store,
            pipeline.audit,
            sealer or Sealer(lambda: PROCESS_SEAL_KEY),
            policy,
            count,
            clock,
            retry_scale,
        )
    )
    trackers = functools.cache(functools.partial(build_trackers, pipeline, policy, count, clock))
    # A push or submit with news for a tracked shipment counts as its check.
    store.on_tracked_news = lambda *news: trackers().tracked_news(*news)
    return Services(
        pipeline=pipeline,
        store=store,
        clock=clock,
        build_notifications=notifications,
        build_trackers=trackers,
        cursor_key=cursor_key or PROCESS_KEY,
    )


def build_trackers(
    pipeline: Pipeline,
    policy: AddressPolicy,
    count: Counter,
    clock: Callable[[], datetime],
) -> Trackers:
    """Trackers and their poller over the pipeline's table."""
    from gateway.poll.budget import Budget
    from gateway.poll.checks import CheckLog
    from gateway.poll.client import CarrierClient
    from gateway.poll.poller import Poller
    from gateway.poll.service import Trackers
    from gateway.poll.trackers import TrackerStore

    store = pipeline.store
    trackers = TrackerStore(store.client, store.table, store.meter)
    budget = Budget(store.client, store.table, store.meter)
    checks = CheckLog(store.client, store.table, store.meter)
    poller = Poller(
        trackers=trackers,
        budget=budget,
        checks=checks,
        client=CarrierClient(policy),
        pipeline=pipeline,
        clock=clock,
        count=count,
    )
    return Trackers(trackers, budget, checks, poller, pipeline.tenants, clock)


def build_notifications(
    store: DynamoStore,
    audit: Auditor,
    sealer: Sealer,
    policy: AddressPolicy,
    count: Counter,
    clock: Callable[[], datetime],
    retry_scale: float,
) -> Notifications:
    """The notification service over the store's table."""
    from gateway.notify.delivery import Notifier
    from gateway.notify.endpoints import EndpointStore
    from gateway.notify.messages import Message, MessageStore
    from gateway.notify.service import Notifications
    from gateway.notify.stream import StreamNotifier
    from gateway.observability import milliseconds
    from gateway.store.keys import state_sk

    meter = CapacityMeter()  # its own: notifications are not part of a request's cost
    store = DynamoStore(store.client, store.table, meter)

    def event_doc(message: Message) -> str | None:
        item = store.shipment_item(message.tenant, message.tracking_number, message.event_sk)
        return None if item is None else str(item["doc"]["S"])

    notifier = Notifier(
        endpoints=EndpointStore(store.client, store.table, sealer, meter),
        messages=MessageStore(store.client, store.table, meter, clock),
        event_docs=event_doc,
        policy=policy,
        clock=clock,
        count=count,
        audit=audit,
        retry_scale=retry_scale,
        timing=milliseconds,
    )
    stream = StreamNotifier(
        notifier,
        read_state=lambda tenant, number, carrier: store.shipment_item(
            tenant, number, state_sk(carrier)
        ),
        read_event=store.shipment_item,
    )
    return Notifications(notifier=notifier, stream=stream)


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
        parameter_validation=False,  # our code builds every request; DynamoDB still checks
    )
    return boto3.client(  # type: ignore[call-overload]
        "dynamodb", endpoint_url=endpoint_url, config=config, **session
    )
