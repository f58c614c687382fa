"""The audit of changes in a stack's table: what ops change on AWS (the console's actions,
the CLI's ``--stack``), kept where the change happened rather than on a laptop.

One item per change under ``CH#{tenant}#{YYYY-MM}`` (changes are rare: a month of a
tenant's fits one partition), sort key ``{utc instant}#{random}`` so a partition reads
newest first and two changes in the same microsecond never collide. Each item carries
``expires_at``: :data:`CHANGE_RETENTION_DAYS` after the change (an audit trail outlives
the data it speaks of; it holds ids, masked values and counts, never a secret).

Costs: a change is one ``PutItem`` (1 WCU; a batch refresh names its up to 100 numbers
in the target: up to 3); reading a tenant's changes since a day is
one ``Query`` per month covered (0.5 RCU per 4 KB, eventually consistent).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from typing import Any

from gateway.audit.changes import Change
from gateway.errors import GatewayError
from gateway.models import instant_text, parse_instant_text
from gateway.store.capacity import CapacityMeter
from gateway.store.errors import store_errors
from gateway.store.pages import query_pages

CHANGE_RETENTION_DAYS = 400
"""How long a change stays in the table (TTL): a year and a bit, for yearly reviews."""


def change_pk(tenant: str, month: str) -> str:
    """Partition key of a tenant's changes in one UTC month (``YYYY-MM``).

    >>> change_pk("acme", "2026-12")
    'CH#acme#2026-12'
    """
    return f"CH#{tenant}#{month}"


def _months(since: datetime, now: datetime) -> list[str]:
    """The UTC months from ``now``'s back to ``since``'s, newest first."""
    month, first = now.astimezone(UTC).replace(day=1), since.astimezone(UTC)
    found = []
    while (month.year, month.month) >= (first.year, first.month):
        found.append(f"{month:%Y-%m}")
        month = (month - timedelta(days=1)).replace(day=1)
    return found


class ChangeNotAuditedError(GatewayError):
    """The change was made, but its audit entry could not be written."""

    status, code = 503, "change_not_audited"


class TableChangeLog:
    """A :class:`~gateway.audit.changes.ChangeLog` over a DynamoDB table."""

    def __init__(self, client: Any, table: str, meter: CapacityMeter | None = None) -> None:
        self.client, self.table = client, table
        self.meter = meter or CapacityMeter()

    def append(self, change: Change) -> None:
        """Put the change's item. The change is made by then: a storage failure raises
        :class:`ChangeNotAuditedError`, which says so, never a silent drop."""
        at = change.at.astimezone(UTC)
        expires = at + timedelta(days=CHANGE_RETENTION_DAYS)
        item = {
            "pk": {"S": change_pk(change.tenant, f"{at:%Y-%m}")},
            "sk": {"S": f"{instant_text(at)}#{os.urandom(4).hex()}"},
            "actor": {"S": change.actor},
            "action": {"S": change.action},
            "target": {"S": change.target},
            "detail": {"S": json.dumps(dict(change.detail), sort_keys=True)},
            "expires_at": {"N": str(int(expires.timestamp()))},
        }
        try:
            with store_errors():
                answer = self.client.put_item(
                    TableName=self.table, Item=item, ReturnConsumedCapacity="TOTAL"
                )
        except GatewayError as exc:
            raise ChangeNotAuditedError(
                f"{change.action} {change.tenant}/{change.target} was done but not audited: "
                f"table {self.table}: {exc.message}"
            ) from None
        self.meter.add_write(answer)

    def read(self, tenant: str, *, since: datetime, now: datetime | None = None) -> list[Change]:
        """``tenant``'s changes at or after ``since``, newest first (expired ones skipped)."""
        now = now or datetime.now(UTC)
        found: list[Change] = []
        for month in _months(since, now):
            request: dict[str, Any] = {
                "TableName": self.table,
                "KeyConditionExpression": "pk = :pk AND sk >= :since",
                "ExpressionAttributeValues": {
                    ":pk": {"S": change_pk(tenant, month)},
                    ":since": {"S": instant_text(since)},
                },
                "ScanIndexForward": False,
            }
            for page in query_pages(self.client, request, self.meter):
                found += [_change(tenant, i) for i in page.get("Items", []) if _live(i, now)]
        return found


def _live(item: dict[str, Any], now: datetime) -> bool:
    return int(item["expires_at"]["N"]) > int(now.timestamp())


def _change(tenant: str, item: dict[str, Any]) -> Change:
    return Change(
        at=parse_instant_text(item["sk"]["S"].split("#", 1)[0]),
        actor=item["actor"]["S"],
        action=item["action"]["S"],
        tenant=tenant,
        target=item["target"]["S"],
        detail=json.loads(item["detail"]["S"]),
    )
