"""The per-check log: when, how long, the HTTP status, events added, status changed, error.

Each check is kept twice, both at no write of its own:

- on its tracker, the latest :data:`RECENT` checks (``recent``, written by the check's
  completion, which writes the tracker anyway): what the tracker endpoint shows;
- in the log of its (tenant, carrier) for the UTC day, packed: one item per group of
  checks a pass made together (``pk = CHK#{tenant}#{carrier}#{day}``, ``sk = {utc
  instant}#{id}``, up to :data:`PER_ITEM` checks, about 70 bytes each), kept for the
  tenant's retention: what ``waybill pollers log`` reads. A check costs a fraction of a
  write unit there, not one.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from gateway.models import instant_text, parse_instant_text, utc_text
from gateway.store.capacity import CapacityMeter
from gateway.store.errors import store_errors

RECENT = 5
PER_ITEM = 200
TRIGGERS = ("schedule", "refresh")


@dataclass(frozen=True)
class Check:
    """One check of one tracker."""

    carrier: str
    tracking_number: str
    checked_at: datetime
    duration_ms: float
    http_status: int | None
    events_added: int
    status_changed: bool
    error: str | None = None
    trigger: str = "schedule"  # or "refresh": a manual refresh

    def as_json(self) -> dict[str, Any]:
        """The check as the API and the CLI show it."""
        facts = asdict(self)
        facts["checked_at"] = utc_text(self.checked_at)
        facts["duration_ms"] = round(self.duration_ms, 1)
        return facts


def entry(check: Check) -> dict[str, Any]:
    """A check as a DynamoDB map (the tracker's ``recent`` list, the day's log)."""
    facts: dict[str, Any] = {
        "n": {"S": check.tracking_number},
        "at": {"S": instant_text(check.checked_at)},
        "ms": {"N": f"{check.duration_ms:.1f}"},
        "added": {"N": str(check.events_added)},
        "changed": {"BOOL": check.status_changed},
        "trigger": {"S": check.trigger},
    }
    if check.http_status is not None:
        facts["http"] = {"N": str(check.http_status)}
    if check.error:
        facts["error"] = {"S": check.error}
    return {"M": facts}


def from_entry(carrier: str, value: dict[str, Any]) -> Check:
    """The check a map of :func:`entry` holds."""
    facts = value["M"]
    return Check(
        carrier=carrier,
        tracking_number=facts["n"]["S"],
        checked_at=parse_instant_text(facts["at"]["S"]),
        duration_ms=float(facts["ms"]["N"]),
        http_status=int(facts["http"]["N"]) if "http" in facts else None,
        events_added=int(facts["added"]["N"]),
        status_changed=facts["changed"]["BOOL"],
        error=facts.get("error", {}).get("S"),
        trigger=facts["trigger"]["S"],
    )


def log_pk(tenant: str, carrier: str, day: str) -> str:
    """Partition of a (tenant, carrier)'s log for one UTC day (``YYYY-MM-DD``)."""
    return f"CHK#{tenant}#{carrier}#{day}"


class CheckLog:
    """The day logs in the table (low-level boto3 client, units metered)."""

    def __init__(self, client: Any, table: str, meter: CapacityMeter) -> None:
        self.client = client
        self.table = table
        self.meter = meter

    def add(self, tenant: str, carrier: str, checks: list[Check], retention_days: int) -> None:
        """Record checks made together (one item per :data:`PER_ITEM`)."""
        for start in range(0, len(checks), PER_ITEM):
            part = checks[start : start + PER_ITEM]
            first = part[0].checked_at
            expires = int((first + timedelta(days=retention_days)).timestamp())
            item = {
                "pk": {"S": log_pk(tenant, carrier, first.date().isoformat())},
                "sk": {"S": f"{instant_text(first)}#{uuid.uuid4().hex[:8]}"},
                "checks": {"L": [entry(c) for c in part]},
                "expires_at": {"N": str(expires)},
            }
            with store_errors():
                answer = self.client.put_item(
                    TableName=self.table, Item=item, ReturnConsumedCapacity="TOTAL"
                )
            self.meter.add_write(answer)

    def day(
        self,
        tenant: str,
        carrier: str,
        day: str,
        now: datetime,
        *,
        tracking_number: str | None = None,
        limit: int = 100,
    ) -> list[Check]:
        """A day's checks of a (tenant, carrier), newest first, maybe of one tracker."""
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": log_pk(tenant, carrier, day)}},
            "ScanIndexForward": False,
            "ReturnConsumedCapacity": "TOTAL",
        }
        found: list[Check] = []
        for _ in range(100):  # bounded: each page covers up to 1 MB
            with store_errors():
                answer = self.client.query(**request)
            self.meter.add_read(answer)
            for item in answer.get("Items", []):
                if int(item["expires_at"]["N"]) <= int(now.timestamp()):
                    continue
                checks = [from_entry(carrier, value) for value in item["checks"]["L"]]
                found += [
                    c for c in reversed(checks) if tracking_number in (None, c.tracking_number)
                ]
            if len(found) >= limit or "LastEvaluatedKey" not in answer:
                break
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
        return sorted(found, key=lambda c: c.checked_at, reverse=True)[:limit]
