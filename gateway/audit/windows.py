"""The audit of delivery outcomes in DynamoDB: buffered, batched, sharded, counted.

Items live under ``A#{tenant}#{UTC day}#{shard}`` (8 shards a day, so one busy tenant
spreads its audit over 8 partitions, and a new day starts new ones), with a sort key
that starts with the instant, so a shard reads newest first. Each item carries
``expires_at`` from the tenant's retention, like every other item of the table.

What is written: nothing per request. Every outcome (``accepted``, ``duplicate``,
``ignored``, ``parked``, ``rejected``, ``throttled``, ``failed``) is counted in memory per
(tenant, outcome, code, carrier, minute); the window's item (key
``{minute}#w#…#{process}``) is put at the first flush after the window opens (count so
far), and put again with the final count at the first flush after the minute ends, if it
grew: at most 2 write units per window and process, whatever the traffic. A process that
dies loses only the tail of its open windows' counts, never the fact that they occurred.

Window items are sent with BatchWriteItem (≤ 25 a call) at ``flush`` (the end of each
invocation). A failed write is logged and dropped: the audit
never turns a stored delivery into an error.
"""

from __future__ import annotations

import logging
import os
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from gateway.audit.outcomes import AuditEvent
from gateway.models import instant_text
from gateway.store.batch import UnprocessedItemsError, batch_write
from gateway.store.capacity import CapacityMeter
from gateway.store.keys import AUDIT_SHARDS, audit_pk
from gateway.tenancy.tenants import TenantConfig

log = logging.getLogger("waybill.audit")

WINDOW = timedelta(minutes=1)
WindowKey = tuple[str, str, str, str, datetime]  # tenant, outcome, code, carrier, start


@dataclass
class _Window:
    """A counted window: ``count`` so far, ``written`` as last stored."""

    expires_at: int
    count: int = 0
    written: int = 0


def _now() -> datetime:
    return datetime.now(UTC)


def _shard(text: str) -> str:
    return AUDIT_SHARDS[zlib.crc32(text.encode()) % len(AUDIT_SHARDS)]


class DynamoAudit:
    """An :class:`~gateway.audit.outcomes.Auditor` over the table; thread-safe, one per process.

    ``tenants`` gives the retention; outcomes of unknown tenants are not stored (nobody
    could read them, and made-up tenant ids in paths must not create partitions).
    """

    def __init__(
        self,
        client: Any,
        table_name: str,
        tenants: Callable[[str], TenantConfig | None],
        *,
        clock: Callable[[], datetime] = _now,
        meter: CapacityMeter | None = None,
    ) -> None:
        self.client = client
        self.table = table_name
        self.tenants = tenants
        self.clock = clock
        self.meter = meter or CapacityMeter()
        self.process = os.urandom(4).hex()
        self._lock = threading.Lock()
        self._windows: dict[WindowKey, _Window] = {}

    def record(self, event: AuditEvent) -> None:
        """Count one outcome in its window."""
        config = self._tenant(event.tenant)
        if config is None:
            return
        expires_at = int((event.at + timedelta(days=config.retention_days)).timestamp())
        carrier = event.carrier if event.carrier in config.carriers else "-"
        start = event.at.astimezone(UTC).replace(second=0, microsecond=0)
        key = (event.tenant, event.outcome, event.code or "-", carrier, start)
        with self._lock:
            window = self._windows.setdefault(key, _Window(expires_at))
            window.count += event.count

    def flush(self, *, final: bool = False) -> None:
        """Write what is due: new windows, and windows that have closed.

        ``final`` (at shutdown) writes every window whose count grew, closed or not.
        """
        closing = self.clock().astimezone(UTC) - WINDOW
        due: list[dict[str, Any]] = []
        with self._lock:
            for key, window in list(self._windows.items()):
                closed = final or key[4] <= closing
                if window.count > window.written and (closed or not window.written):
                    due.append(self._window_item(key, window))
                    window.written = window.count
                if closed:
                    del self._windows[key]
        if not due:
            return
        requests = [{"PutRequest": {"Item": item}} for item in due]
        try:
            batch_write(self.client, self.table, requests, self.meter)
        except (ClientError, BotoCoreError, UnprocessedItemsError) as exc:
            log.warning("audit write failed (%d items dropped): %s", len(due), type(exc).__name__)

    def _tenant(self, tenant: str) -> TenantConfig | None:
        try:
            return self.tenants(tenant)
        except Exception:  # an invalid tenant file: the request was refused anyway
            return None

    def _window_item(self, key: WindowKey, window: _Window) -> dict[str, Any]:
        tenant, outcome, code, carrier, start = key
        stamp = instant_text(start)
        sk = f"{stamp}#w#{outcome}#{code}#{carrier}#{self.process}"
        return {
            "pk": {"S": audit_pk(tenant, start.date().isoformat(), _shard(sk))},
            "sk": {"S": sk},
            "outcome": {"S": outcome},
            "code": {"S": code},
            "carrier": {"S": carrier},
            "count": {"N": str(window.count)},
            "at": {"S": stamp},
            "window_s": {"N": str(int(WINDOW.total_seconds()))},
            "expires_at": {"N": str(window.expires_at)},
        }
