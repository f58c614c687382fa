"""The table's schema, and creating it where it does not exist (local and tests).

The status index (``gateway/store/index.py``), the due index (``gateway/store/due_index.py``)
and the stream (new images: what the notifier reads) are part of the schema: a table
created before one of them existed gets it added with ``UpdateTable`` (DynamoDB backfills
an index).
"""

from __future__ import annotations

import time
from typing import Any

from gateway.store.due_index import DUE_INDEX_SPEC, DUE_PK, DUE_SK
from gateway.store.index import INDEX_PK, INDEX_SK, INDEX_SPEC

TTL_ATTRIBUTE = "expires_at"
DEFAULT_TABLE_NAME = "waybill"
_WAIT_SECONDS = 60

KEY_SCHEMA: list[dict[str, str]] = [
    {"AttributeName": "pk", "KeyType": "HASH"},
    {"AttributeName": "sk", "KeyType": "RANGE"},
]
KEY_NAMES = ("pk", "sk", INDEX_PK, INDEX_SK, DUE_PK, DUE_SK)
ATTRIBUTES: list[dict[str, str]] = [
    {"AttributeName": name, "AttributeType": "S"} for name in KEY_NAMES
]
INDEX_SPECS: tuple[dict[str, Any], ...] = (INDEX_SPEC, DUE_INDEX_SPEC)
STREAM_SPEC = {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}


def ensure_table(client: Any, table_name: str = DEFAULT_TABLE_NAME) -> bool:
    """Create the on-demand table with TTL, its indexes and its stream unless it exists.

    True when created; an existing table gets what it lacks (and False).
    """
    try:
        table = client.describe_table(TableName=table_name)["Table"]
    except client.exceptions.ResourceNotFoundException:
        pass
    else:
        for spec in INDEX_SPECS:
            ensure_index(client, table_name, table, spec)
        ensure_stream(client, table_name, table)
        return False
    try:
        client.create_table(
            TableName=table_name,
            KeySchema=KEY_SCHEMA,
            AttributeDefinitions=ATTRIBUTES,
            GlobalSecondaryIndexes=list(INDEX_SPECS),
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification=STREAM_SPEC,
        )
    except client.exceptions.ResourceInUseException:
        return False
    client.get_waiter("table_exists").wait(
        TableName=table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )
    client.update_time_to_live(
        TableName=table_name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
    )
    return True


def ensure_index(client: Any, table_name: str, table: dict[str, Any], spec: dict[str, Any]) -> None:
    """Add one index to a table that lacks it, and wait until it is active."""
    name = spec["IndexName"]
    if _index_status(table, name) == "ACTIVE":
        return
    if _index_status(table, name) is None:
        client.update_table(
            TableName=table_name,
            AttributeDefinitions=ATTRIBUTES,
            GlobalSecondaryIndexUpdates=[{"Create": spec}],
        )
    deadline = time.monotonic() + _WAIT_SECONDS
    while _index_status(client.describe_table(TableName=table_name)["Table"], name) != "ACTIVE":
        if time.monotonic() > deadline:
            raise TimeoutError(f"index {name} of {table_name} is not active")
        time.sleep(0.5)


def ensure_stream(client: Any, table_name: str, table: dict[str, Any]) -> None:
    """Turn the stream on (new images) for a table created without it."""
    current = table.get("StreamSpecification") or {}
    if current.get("StreamEnabled") and current.get("StreamViewType") == "NEW_IMAGE":
        return
    if current.get("StreamEnabled"):  # another view type: a stream is replaced, not changed
        client.update_table(TableName=table_name, StreamSpecification={"StreamEnabled": False})
    client.update_table(TableName=table_name, StreamSpecification=STREAM_SPEC)


def _index_status(table: dict[str, Any], name: str) -> str | None:
    """An index's ``IndexStatus`` (engines that omit it: ACTIVE); None when absent."""
    for index in table.get("GlobalSecondaryIndexes", []):
        if index["IndexName"] == name:
            return str(index.get("IndexStatus", "ACTIVE"))
    return None
