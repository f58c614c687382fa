"""Counts the capacity units DynamoDB reports, so cost is measured, not guessed."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass
class CapacityMeter:
    """Running totals of read and write units from ``ConsumedCapacity``.

    Example:
        >>> meter = CapacityMeter()
        >>> meter.add_write({"ConsumedCapacity": {"CapacityUnits": 1.0}})
        >>> meter.write_units
        1.0
    """

    read_units: float = 0.0
    write_units: float = 0.0
    failed_write_units: float = 0.0
    """Units of conditional writes that failed: billed by AWS, reported by no engine."""

    @staticmethod
    def _units(response: Mapping[str, Any]) -> float:
        consumed = response.get("ConsumedCapacity")
        if consumed is None:
            return 0.0
        entries = consumed if isinstance(consumed, list) else [consumed]
        return float(sum(entry.get("CapacityUnits", 0.0) for entry in entries))

    def add_read(self, response: Mapping[str, Any]) -> None:
        """Count the read units of one response."""
        self.read_units += self._units(response)

    def add_write(self, response: Mapping[str, Any]) -> None:
        """Count the write units of one response."""
        self.write_units += self._units(response)

    def add_failed_write(self, item: Mapping[str, Any]) -> None:
        """Count a conditional write of ``item`` that failed, as AWS bills it: 1 unit per
        started KB of the item, at least 1."""
        self.failed_write_units += max(1, math.ceil(item_bytes(item) / 1024))

    @property
    def billed_write_units(self) -> float:
        """Write units AWS would bill: the reported ones plus the failed conditions."""
        return self.write_units + self.failed_write_units

    def reset(self) -> None:
        """Start counting from zero."""
        self.read_units = self.write_units = self.failed_write_units = 0.0


def item_bytes(item: Mapping[str, Any]) -> int:
    """DynamoDB's size of a low-level item: names plus values (numbers approximated).

    Used where an engine does not report capacity; 1 write unit covers 1 KB.

    >>> item_bytes({"pk": {"S": "abc"}, "n": {"N": "12"}})
    9
    """
    return sum(len(name.encode()) + _value_bytes(value) for name, value in item.items())


def _value_bytes(value: Mapping[str, Any]) -> int:
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        return 1 + (len(inner.lstrip("-").replace(".", "")) + 1) // 2 + 1
    if kind == "B":
        return len(inner)
    if kind in ("SS", "BS"):
        return sum(len(v.encode()) if isinstance(v, str) else len(v) for v in inner)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + item_bytes(inner)
    if kind == "L":
        return 3 + sum(1 + _value_bytes(v) for v in inner)
    return len(str(inner))
