"""Notifications on moto, for the functional suites: the stream replayed from the table,
and a sender that records what it would post instead of posting it.

moto keeps no DynamoDB stream the local runtime could read, so :func:`replay_stream` hands
every shipment item of the table to the same stream handler (:meth:`Notifications.
handle_stream`) as the records the stream would carry: an event item as an INSERT, a
state item as a MODIFY (what notifies is in the items themselves: ``moved`` on a state).
Replaying twice sends nothing twice: the messages exist, their outcome is recorded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.notify.addresses import AddressPolicy
from gateway.notify.transport import ErrorCode, SendResult
from gateway.services import Services


@dataclass(frozen=True)
class Sent:
    """One request the sender was asked to make."""

    url: str
    body: bytes
    headers: dict[str, str]


@dataclass
class FakeSender:
    """Answers every request with ``status`` (``None``: no answer, ``error`` instead)."""

    status: int | None = 200
    error: ErrorCode | None = None
    sent: list[Sent] = field(default_factory=list)

    def __call__(
        self,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        *,
        policy: AddressPolicy,
        timeout: float,
    ) -> SendResult:
        self.sent.append(Sent(url, body, dict(headers)))
        return SendResult(self.status, 3.0, self.error)


def install_sender(services: Services, sender: FakeSender | None = None) -> FakeSender:
    """Make ``services`` send through a :class:`FakeSender` (returned)."""
    sender = sender or FakeSender()
    services.notifications.notifier.send = sender
    return sender


def replay_stream(services: Services, tenant: str | None = None) -> int:
    """Hand the table's shipment items (of ``tenant``, or all) to the stream handler."""
    client, table = services.store.client, services.store.table
    prefix = f"S#{tenant}#" if tenant else "S#"
    records: list[dict[str, Any]] = []
    request: dict[str, Any] = {"TableName": table}
    while True:
        page = client.scan(**request)
        for item in page.get("Items", []):
            if not item["pk"]["S"].startswith(prefix):
                continue
            kind = "INSERT" if item["sk"]["S"].startswith("E#") else "MODIFY"
            records.append({"eventName": kind, "dynamodb": {"NewImage": item}})
        if "LastEvaluatedKey" not in page:
            break
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    records.sort(key=lambda r: r["dynamodb"]["NewImage"]["sk"]["S"].startswith("C#"))
    return services.notifications.handle_stream(records)
