"""A DynamoDB client wrapper that measures capacity per table and per index, and bans Scan."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

_READS = {"batch_get_item", "get_item", "query"}
_WRITES = {"batch_write_item", "delete_item", "put_item", "update_item"}


class ScanUsedError(AssertionError):
    """Something called Scan: no access pattern may need it."""


class IndexCapacity:
    """Wraps a low-level client: every metered call asks ``ReturnConsumedCapacity=INDEXES``.

    ``units[(kind, where)]`` totals what DynamoDB reported since ``reset``, by kind
    (``read``, ``write``) and where (``table``, ``index``); ``operations`` names the
    calls made. The wrapped store's own meter keeps working (``INDEXES`` has the total).
    """

    def __init__(self, client: Any) -> None:
        self._client = client
        self._lock = threading.Lock()  # search reads shards from several threads
        self.units: dict[tuple[str, str], float] = {}
        self.operations: list[str] = []
        self.reset()

    def reset(self) -> None:
        """Start counting from zero."""
        self.units = {(k, w): 0.0 for k in ("read", "write") for w in ("table", "index")}
        self.operations = []

    @property
    def table_writes(self) -> float:
        """Write units of the table itself."""
        return self.units["write", "table"]

    @property
    def index_writes(self) -> float:
        """Write units of the global secondary indexes."""
        return self.units["write", "index"]

    def __getattr__(self, name: str) -> Any:
        if name == "scan":
            raise ScanUsedError("Scan was called")
        attribute = getattr(self._client, name)
        if name not in _READS | _WRITES:
            return attribute
        return self._metered(name, attribute)

    def _metered(self, name: str, call: Callable[..., Any]) -> Callable[..., Any]:
        def metered(**kwargs: Any) -> Any:
            if "ReturnConsumedCapacity" in kwargs:
                kwargs["ReturnConsumedCapacity"] = "INDEXES"
            response = call(**kwargs)
            kind = "read" if name in _READS else "write"
            consumed = response.get("ConsumedCapacity") or []
            with self._lock:
                self.operations.append(name)
                for entry in consumed if isinstance(consumed, list) else [consumed]:
                    self.units[kind, "table"] += entry.get("Table", {}).get("CapacityUnits", 0.0)
                    for index in entry.get("GlobalSecondaryIndexes", {}).values():
                        self.units[kind, "index"] += index.get("CapacityUnits", 0.0)
            return response

        return metered
