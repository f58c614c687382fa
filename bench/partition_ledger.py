"""Units per partition key and second, and a recording client standing in for DynamoDB.

Used by :mod:`bench.hot_partition`: gateway's own classes (the hard cap, the audit, the
parking lot) write to :class:`Recorder`, which charges each call's units to the
partition key it names, in the :class:`Ledger`'s current second.

Example:
    >>> ledger = Ledger()
    >>> ledger.add("write", "table", "S#acme#1Z1", 2.0)
    >>> ledger.second = 1
    >>> ledger.add("write", "table", "S#acme#1Z1", 1.0)
    >>> ledger.hottest("write", "table")
    Hot(key='S#acme#1Z1', units=2.0, share=1.0)
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Mapping
from typing import Any, NamedTuple

from gateway.store.capacity import item_bytes


def write_units(item: Mapping[str, Any]) -> float:
    """Write units of putting ``item``: 1 per started KB.

    >>> write_units({"pk": {"S": "x" * 1500}})
    2.0
    """
    return float(max(1, math.ceil(item_bytes(item) / 1024)))


class Hot(NamedTuple):
    """The hottest key: its units in its busiest second, and its share of the window."""

    key: str
    units: float
    share: float


class Ledger:
    """Units per (kind, where, key, second): kind ``read``/``write``, where ``table``/index."""

    def __init__(self) -> None:
        self.second = 0
        self.cells: defaultdict[tuple[str, str, str, int], float] = defaultdict(float)
        self.keys: defaultdict[tuple[str, str, str], float] = defaultdict(float)

    def add(self, kind: str, where: str, key: str, units: float) -> None:
        """Count ``units`` on ``key`` in the current second."""
        self.cells[kind, where, key, self.second] += units
        self.keys[kind, where, key] += units

    def total(self, kind: str, where: str, family: str = "") -> float:
        """Units over the window, of the keys starting with ``family``."""
        return sum(
            units
            for (k, w, key), units in self.keys.items()
            if (k, w) == (kind, where) and key.startswith(family)
        )

    def hottest(self, kind: str, where: str, family: str = "") -> Hot:
        """The key (starting with ``family``) with the most units in any one second."""
        best = max(
            (
                (units, key)
                for (k, w, key, _), units in self.cells.items()
                if (k, w) == (kind, where) and key.startswith(family)
            ),
            default=(0.0, "-"),
        )
        total = self.total(kind, where)
        share = self.keys[kind, where, best[1]] / total if total else 0.0
        return Hot(best[1], best[0], share)


class Recorder:
    """A DynamoDB stand-in: every write and read is charged to its partition key."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.counters: Counter[str] = Counter()

    def batch_write_item(self, RequestItems: dict[str, Any], **_: Any) -> dict[str, Any]:
        """Puts (the audit's batches)."""
        for requests in RequestItems.values():
            for request in requests:
                item = request["PutRequest"]["Item"]
                self.ledger.add("write", "table", item["pk"]["S"], write_units(item))
        return {"UnprocessedItems": {}}

    def put_item(self, Item: dict[str, Any], **_: Any) -> dict[str, Any]:
        """A conditional put (a parked delivery): its item's units."""
        self.ledger.add("write", "table", Item["pk"]["S"], write_units(Item))
        return {}

    def update_item(self, Key: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """The usage counter's ``ADD`` to the month and the day: a tiny item, 1 unit."""
        pk = Key["pk"]["S"]
        self.counters[pk] += int(kwargs["ExpressionAttributeValues"][":n"]["N"])
        self.ledger.add("write", "table", pk, 1.0)
        total = {"N": str(self.counters[pk])}  # one day per run: the day's count is the month's
        return {"Attributes": dict.fromkeys(kwargs["ExpressionAttributeNames"].values(), total)}

    def get_item(self, Key: dict[str, Any], **_: Any) -> dict[str, Any]:
        """A strongly consistent read of a small item: 1 unit; finds nothing."""
        self.ledger.add("read", "table", Key["pk"]["S"], 1.0)
        return {}

    def batch_get_item(self, RequestItems: dict[str, Any], **_: Any) -> dict[str, Any]:
        """Eventually consistent reads of small items: 0.5 each (AWS charges missing ones)."""
        for request in RequestItems.values():
            for key in request["Keys"]:
                self.ledger.add("read", "table", key["pk"]["S"], 0.5)
        return {"Responses": {}}
