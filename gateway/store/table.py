"""The table's schema, and creating it where it does not exist (local and tests).

The status index (``gateway/store/index.py``) is part of the schema: a table created
before it existed gets it added with ``UpdateTable`` (DynamoDB backfills it).
"""

from __future__ import annotations

import time
from typing import Any

from gateway.store.index import INDEX_NAME, INDEX_PK, INDEX_SK, INDEX_SPEC

TTL_ATTRIBUTE = "expires_at"
DEFAULT_TABLE_NAME = "waybill"
_WAIT_SECONDS = 60

KEY_SCHEMA: list[dict[str, str]] = [
    {"AttributeName": "pk", "KeyType": "HASH"},
    {"AttributeName": "sk", "KeyType": "RANGE"},
]
ATTRIBUTES: list[dict[str, str]] = [
    {"AttributeName": name, "AttributeType": "S"} for name in ("pk", "sk", INDEX_PK, INDEX_SK)
]


def ensure_table(client: Any, table_name: str = DEFAULT_TABLE_NAME) -> bool:
    """Create the on-demand table with TTL and the status index unless it exists.

    True when created; an existing table without the index gets it (and False).
    """
    try:
        table = client.describe_table(TableName=table_name)["Table"]
    except client.exceptions.ResourceNotFoundException:
        pass
    else:
        ensure_index(client, table_name, table)
        return False
    try:
        client.create_table(
            TableName=table_name,
            KeySchema=KEY_SCHEMA,
            AttributeDefinitions=ATTRIBUTES,
            GlobalSecondaryIndexes=[INDEX_SPEC],
            BillingMode="PAY_PER_REQUEST",
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


def ensure_index(client: Any, table_name: str, table: dict[str, Any]) -> None:
    """Add the status index to a table that lacks it, and wait until it is active."""
    if _index_status(table) == "ACTIVE":
        return
    if _index_status(table) is None:
        client.update_table(
            TableName=table_name,
            AttributeDefinitions=ATTRIBUTES,
            GlobalSecondaryIndexUpdates=[{"Create": INDEX_SPEC}],
        )
    deadline = time.monotonic() + _WAIT_SECONDS
    while _index_status(client.describe_table(TableName=table_name)["Table"]) != "ACTIVE":
        if time.monotonic() > deadline:
            raise TimeoutError(f"index {INDEX_NAME} of {table_name} is not active")
        time.sleep(0.5)


def _index_status(table: dict[str, Any]) -> str | None:
    """The status index's ``IndexStatus`` (engines that omit it: ACTIVE); None when absent."""
    for index in table.get("GlobalSecondaryIndexes", []):
        if index["IndexName"] == INDEX_NAME:
            return str(index.get("IndexStatus", "ACTIVE"))
    return None
