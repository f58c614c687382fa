"""The due index: a sparse, sharded, KEYS_ONLY global secondary index of work to do later.

An item carries its keys only while something is due for it (a notification message
waiting for its next attempt, ``gateway/notify/messages.py``; a tracker waiting for its
next check, ``gateway/poll/trackers.py``); removing them takes the item off the index.
Each kind of work has its own partitions: ``due_pk = {kind}#{shard}`` (``DUE`` for
messages, ``POLL`` for trackers) spreads writes over 8 partitions,
``due_sk = {utc instant}`` orders each by due time, so a sweeper finds what is due with
one Query per shard (``due_sk <= now``) and never a Scan.

Example:
    >>> from datetime import UTC, datetime
    >>> due_keys(11, datetime(2026, 1, 2, tzinfo=UTC))
    {'due_pk': {'S': 'DUE#3'}, 'due_sk': {'S': '2026-01-02T00:00:00.000000Z'}}
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gateway.models import instant_text

DUE_INDEX_NAME = "due"
DUE_PK = "due_pk"
DUE_SK = "due_sk"
DUE_SHARDS = 8  # fixed: entries already written name their shard
MESSAGES = "DUE"
TRACKERS = "POLL"

DUE_INDEX_SPEC: dict[str, Any] = {
    "IndexName": DUE_INDEX_NAME,
    "KeySchema": [
        {"AttributeName": DUE_PK, "KeyType": "HASH"},
        {"AttributeName": DUE_SK, "KeyType": "RANGE"},
    ],
    "Projection": {"ProjectionType": "KEYS_ONLY"},
}


def due_partition(shard: int, kind: str = MESSAGES) -> str:
    """The index partition of one shard of one kind of work."""
    return f"{kind}#{shard % DUE_SHARDS}"


def due_keys(spread: int, due_at: datetime, kind: str = MESSAGES) -> dict[str, dict[str, str]]:
    """The index attributes of an item due at ``due_at``; ``spread`` picks its shard."""
    return {DUE_PK: {"S": due_partition(spread, kind)}, DUE_SK: {"S": instant_text(due_at)}}
