"""Erasing one shipment: its state items, every event, and the parked copies naming it.

The shipment's own items share one partition (``S#{tenant}#{tracking}``): one query
finds them all, whatever their kind or expiry. Parked deliveries are not indexed by
tracking number (they are raw bodies an adapter could not read), so the tenant's 16
parked shards are queried and a copy is deleted when its raw body, read as text,
contains the tracking number as a whole token, case-insensitively and ignoring
whitespace inside it (as tracking numbers are normalised). A parked batch that also
names other shipments is deleted whole: replay it first to keep the others. A number
written in a form the body does not show as text (e.g. JSON ``\\u`` escapes) is missed.

Deletes go through BatchWriteItem, unprocessed ones retried (see ``batch.py``). A
delivery that arrives while erasing can re-create the shipment: erasing is idempotent,
run it again. The audit keeps no per-delivery item: its minute windows hold counts only,
so nothing there names the shipment.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from gateway.models import normalise_tracking_number
from gateway.store.batch import batch_write
from gateway.store.capacity import CapacityMeter
from gateway.store.errors import store_errors
from gateway.store.keys import EVENT_PREFIX, PARKED_SHARDS, STATE_PREFIX, parked_pk, shipment_pk


@dataclass(frozen=True)
class Erasure:
    """What was (or, in a dry run, would be) deleted, by kind."""

    states: int
    events: int
    other: int
    parked: int

    @property
    def total(self) -> int:
        """Every item deleted."""
        return self.states + self.events + self.other + self.parked


def mentions(body: bytes, tracking_number: str) -> bool:
    """True when ``body`` names the (normalised) tracking number as a whole token.

    >>> mentions(b'{"tracking_number": "1z 999 aa1"}', "1Z999AA1")
    True
    >>> mentions(b'{"tracking_number": "1Z999AA10"}', "1Z999AA1")
    False
    """
    spaced = r"\s*".join(re.escape(char) for char in tracking_number)
    pattern = rf"(?<![A-Za-z0-9]){spaced}(?![A-Za-z0-9])"
    return re.search(pattern, body.decode("utf-8", "replace"), re.IGNORECASE) is not None


def erase_shipment(
    client: Any,
    table: str,
    tenant: str,
    tracking_number: str,
    *,
    meter: CapacityMeter | None = None,
    dry_run: bool = False,
) -> Erasure:
    """Delete everything stored of one shipment of ``tenant``; what was deleted.

    Raises :class:`~gateway.errors.StoreUnavailableError` when DynamoDB refuses, and
    :class:`~gateway.store.batch.UnprocessedItemsError` when deletes stay unprocessed;
    either way, running it again finishes the job.
    """
    meter = meter or CapacityMeter()
    number = normalise_tracking_number(tracking_number)
    with store_errors():
        own = list(_items(client, table, shipment_pk(tenant, number), ("pk", "sk"), meter))
        parked = [
            item
            for shard in PARKED_SHARDS
            for item in _items(client, table, parked_pk(tenant, shard), ("pk", "sk", "body"), meter)
            if mentions(bytes(item["body"]["B"]), number)
        ]
        if not dry_run:
            keys = [{"pk": item["pk"], "sk": item["sk"]} for item in own + parked]
            requests = [{"DeleteRequest": {"Key": key}} for key in keys]
            batch_write(client, table, requests, meter)
    kinds = [item["sk"]["S"][:2] for item in own]
    states, events = kinds.count(STATE_PREFIX), kinds.count(EVENT_PREFIX)
    return Erasure(states, events, len(own) - states - events, len(parked))


def _items(
    client: Any, table: str, pk: str, attributes: tuple[str, ...], meter: CapacityMeter
) -> Iterator[dict[str, Any]]:
    """Every item of one partition (strongly consistent, paginated), with ``attributes``."""
    names = {f"#a{index}": name for index, name in enumerate(attributes)}
    paginator = client.get_paginator("query")
    for page in paginator.paginate(
        TableName=table,
        KeyConditionExpression="#a0 = :pk",
        ExpressionAttributeValues={":pk": {"S": pk}},
        ExpressionAttributeNames=names,
        ProjectionExpression=", ".join(names),
        ConsistentRead=True,
        ReturnConsumedCapacity="TOTAL",
    ):
        meter.add_read(page)
        yield from page.get("Items", [])
