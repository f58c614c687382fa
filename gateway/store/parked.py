"""Parked deliveries: authentic bodies an adapter could not parse, kept raw for replay.

Only the raw bytes, the non-secret headers and the reason are kept. Headers that
authenticate (the adapter's signature headers, ``authorization``, ``x-api-key``,
cookies) are dropped: a replay re-parses an already verified delivery and never
needs them, and a parked copy must not become a store of credentials.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from gateway.models import instant_text
from gateway.store.capacity import CapacityMeter
from gateway.store.errors import condition_failed, store_errors
from gateway.store.keys import PARKED_SHARDS, parked_pk

ALWAYS_REDACTED = frozenset({"authorization", "x-api-key", "cookie", "proxy-authorization"})


@dataclass(frozen=True)
class ParkedDelivery:
    """One parked delivery."""

    tenant: str
    carrier: str
    body_sha256: str
    body: bytes
    headers: Mapping[str, list[str]]
    reason: str
    received_at: datetime


def safe_headers(
    headers: Mapping[str, Iterable[str]], secret_headers: Iterable[str]
) -> dict[str, list[str]]:
    """Headers minus every one that could carry a credential."""
    drop = ALWAYS_REDACTED | {name.lower() for name in secret_headers}
    return {name: list(values) for name, values in headers.items() if name.lower() not in drop}


class ParkingLot:
    """Parked deliveries, sharded 16 ways per tenant by body hash."""

    def __init__(self, client: Any, table_name: str, meter: CapacityMeter) -> None:
        self.client = client
        self.table = table_name
        self.meter = meter

    def _key(self, tenant: str, carrier: str, body_sha256: str) -> dict[str, Any]:
        return {
            "pk": {"S": parked_pk(tenant, body_sha256)},
            "sk": {"S": f"{body_sha256}#{carrier}"},
        }

    def park(self, parked: ParkedDelivery, *, retention_days: int) -> bool:
        """Store once; a retry of the same body is recognised by a read, not a second write.

        True when this call parked it. A write id tells our own put, resent by the SDK
        after a lost response, from a put by another delivery.
        """
        key = self._key(parked.tenant, parked.carrier, parked.body_sha256)
        write_id = os.urandom(8)
        expires_at = int((parked.received_at + timedelta(days=retention_days)).timestamp())
        with store_errors():
            existing = self.client.get_item(
                TableName=self.table, Key=key, ConsistentRead=True, ReturnConsumedCapacity="TOTAL"
            )
            self.meter.add_read(existing)
            if "Item" in existing:
                return False
            item = {
                **key,
                "carrier": {"S": parked.carrier},
                "body": {"B": parked.body},
                "headers": {"S": json.dumps(dict(parked.headers), sort_keys=True)},
                "reason": {"S": parked.reason[:500]},
                "received_at": {"S": instant_text(parked.received_at)},
                "expires_at": {"N": str(expires_at)},
                "wid": {"B": write_id},
            }
            try:
                response = self.client.put_item(
                    TableName=self.table,
                    Item=item,
                    ConditionExpression="attribute_not_exists(pk)",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                    ReturnConsumedCapacity="TOTAL",
                )
            except ClientError as exc:
                if condition_failed(exc):
                    old: dict[str, Any] = exc.response.get("Item") or {}  # type: ignore[assignment]
                    return bytes(old.get("wid", {}).get("B", b"")) == write_id
                raise
        self.meter.add_write(response)
        return True

    def list(self, tenant: str) -> list[ParkedDelivery]:
        """Every parked delivery of a tenant (one query per shard; no Scan)."""
        found: list[ParkedDelivery] = []
        with store_errors():
            for shard in PARKED_SHARDS:
                paginator = self.client.get_paginator("query")
                for page in paginator.paginate(
                    TableName=self.table,
                    KeyConditionExpression="pk = :pk",
                    ExpressionAttributeValues={":pk": {"S": parked_pk(tenant, shard)}},
                    ReturnConsumedCapacity="TOTAL",
                ):
                    self.meter.add_read(page)
                    found.extend(_parked_from_item(tenant, item) for item in page["Items"])
        return sorted(found, key=lambda p: p.received_at)

    def remove(self, parked: ParkedDelivery) -> None:
        """Delete a parked delivery (after a successful replay)."""
        with store_errors():
            response = self.client.delete_item(
                TableName=self.table,
                Key=self._key(parked.tenant, parked.carrier, parked.body_sha256),
                ReturnConsumedCapacity="TOTAL",
            )
        self.meter.add_write(response)


def _parked_from_item(tenant: str, item: dict[str, Any]) -> ParkedDelivery:
    body_sha256 = item["sk"]["S"].split("#", 1)[0]
    return ParkedDelivery(
        tenant=tenant,
        carrier=item["carrier"]["S"],
        body_sha256=body_sha256,
        body=bytes(item["body"]["B"]),
        headers=json.loads(item["headers"]["S"]),
        reason=item["reason"]["S"],
        received_at=datetime.fromisoformat(item["received_at"]["S"]),
    )
