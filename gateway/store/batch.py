"""BatchWriteItem, 25 requests at a time, and BatchGetItem, 100 keys at a time, retrying
what DynamoDB leaves unprocessed.

A batch saves round trips, not units: each put or delete still costs its own write
units (1 per KB of item). DynamoDB may return part of a batch as ``UnprocessedItems``
(throttling, a hot partition); those are sent again with exponential backoff.

Example:
    >>> batches([1, 2, 3], size=2)
    [[1, 2], [3]]
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from gateway.store.capacity import CapacityMeter

MAX_BATCH = 25
MAX_BATCH_GET = 100  # keys a BatchGetItem may name
ATTEMPTS = 6
BASE_DELAY = 0.05

T = TypeVar("T")


class UnprocessedItemsError(Exception):
    """Some requests were still unprocessed after every retry; ``remaining`` says how many."""

    def __init__(self, remaining: int, written: int) -> None:
        super().__init__(f"{remaining} writes still unprocessed after {ATTEMPTS} attempts")
        self.remaining = remaining
        self.written = written


class UnprocessedKeysError(Exception):
    """Some keys were still unprocessed after every round of a :func:`batch_get`."""


def batches(items: Sequence[T], size: int = MAX_BATCH) -> list[list[T]]:
    """``items`` in consecutive chunks of at most ``size``."""
    return [list(items[start : start + size]) for start in range(0, len(items), size)]


def batch_write(
    client: Any,
    table: str,
    requests: Sequence[dict[str, Any]],
    meter: CapacityMeter,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Send ``PutRequest``/``DeleteRequest`` entries; the number written.

    Keys must be unique within ``requests`` (DynamoDB refuses a batch naming one twice).
    Raises :class:`UnprocessedItemsError` when retries run out, after writing the rest.
    """
    written = remaining = 0
    for chunk in batches(requests):
        pending = chunk
        for attempt in range(ATTEMPTS):
            response = client.batch_write_item(
                RequestItems={table: pending}, ReturnConsumedCapacity="TOTAL"
            )
            meter.add_write(response)
            left = response.get("UnprocessedItems", {}).get(table, [])
            written += len(pending) - len(left)
            pending = left
            if not pending:
                break
            if attempt + 1 < ATTEMPTS:
                sleep(BASE_DELAY * 2**attempt * (1 + random.random()))
        remaining += len(pending)
    if remaining:
        raise UnprocessedItemsError(remaining, written)
    return written


def batch_get(
    client: Any,
    table: str,
    keys: Sequence[dict[str, Any]],
    meter: CapacityMeter,
    *,
    extra: dict[str, Any] | None = None,
    rounds: int = 5,
) -> list[dict[str, Any]]:
    """The items of ``keys`` (a missing one is absent), 100 keys a request, each request's
    unprocessed keys asked for again up to ``rounds`` times; ``extra`` is added to each
    request's table entry (a projection). Raises :class:`UnprocessedKeysError` when keys
    are still unprocessed; DynamoDB's own errors pass through."""
    items: list[dict[str, Any]] = []
    for chunk in batches(keys, MAX_BATCH_GET):
        pending: dict[str, Any] = {table: {"Keys": chunk, **(extra or {})}}
        for _ in range(rounds):
            answer = client.batch_get_item(RequestItems=pending, ReturnConsumedCapacity="TOTAL")
            meter.add_read(answer)
            items += answer.get("Responses", {}).get(table, [])
            pending = answer.get("UnprocessedKeys") or {}
            if not pending:
                break
        if pending:
            raise UnprocessedKeysError(f"keys of {table} still unprocessed after {rounds} rounds")
    return items
