"""The status index: a sharded, KEYS_ONLY global secondary index over shipment states.

Only state items (``C#{carrier}``) carry its keys:

- ``gsi1pk = {tenant}#{status}#{shard}``: 8 shards per (tenant, status), the shard a hash
  of (tracking number, carrier), so a bulk push into one status spreads over 8 partitions;
- ``gsi1sk = {status_changed_at}#{tag}``: when Waybill recorded the shipment's entry into
  its current status (UTC instant text, sortable), and 8 hex digits of the same hash, so
  every entry of a tenant has its own position and one position orders all shards.

Both change only when the status does: an event that keeps the status rewrites neither,
so DynamoDB writes nothing to the index for it. Entering a status costs one index write
(a new shipment) or two (a move: the old entry deleted, the new one put).

Example:
    >>> from datetime import UTC, datetime
    >>> keys = index_keys("acme", "1Z9", "ups", Status.DELIVERED, datetime(2025, 1, 2, tzinfo=UTC))
    >>> keys[INDEX_PK]["S"], keys[INDEX_SK]["S"]
    ('acme#delivered#3', '2025-01-02T00:00:00.000000Z#123774c3')
    >>> changed_at(keys[INDEX_SK]["S"]).isoformat()
    '2025-01-02T00:00:00+00:00'
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from gateway.models import Status, instant_text

INDEX_NAME = "gsi1"
INDEX_PK = "gsi1pk"
INDEX_SK = "gsi1sk"
SEARCH_SHARDS = 8  # fixed: entries already written name their shard
_INSTANT_CHARS = len("2025-01-02T00:00:00.000000Z")

INDEX_SPEC: dict[str, Any] = {
    "IndexName": INDEX_NAME,
    "KeySchema": [
        {"AttributeName": INDEX_PK, "KeyType": "HASH"},
        {"AttributeName": INDEX_SK, "KeyType": "RANGE"},
    ],
    "Projection": {"ProjectionType": "KEYS_ONLY"},
}


def _digest(tracking_number: str, carrier: str) -> bytes:
    return hashlib.sha256(f"{tracking_number}#{carrier}".encode()).digest()


def index_partition(tenant: str, status: Status, shard: int) -> str:
    """The index partition of one shard of a tenant's shipments in ``status``."""
    return f"{tenant}#{status.value}#{shard}"


def index_keys(
    tenant: str, tracking_number: str, carrier: str, status: Status, entered_at: datetime
) -> dict[str, dict[str, str]]:
    """The index key attributes of a shipment that entered ``status`` at ``entered_at``."""
    digest = _digest(tracking_number, carrier)
    return {
        INDEX_PK: {"S": index_partition(tenant, status, digest[0] % SEARCH_SHARDS)},
        INDEX_SK: {"S": f"{instant_text(entered_at)}#{digest[1:5].hex()}"},
    }


def changed_at(sort_key: str) -> datetime:
    """The instant at the head of an index sort key."""
    text = sort_key[:_INSTANT_CHARS]
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def is_position(value: str) -> bool:
    """True when ``value`` has the shape of an index sort key (a cursor's position)."""
    try:
        changed_at(value)
    except ValueError:
        return False
    return len(value) == _INSTANT_CHARS + 9 and value[_INSTANT_CHARS] == "#"
