"""Adapter discovery: the in-tree ``adapters`` package, then the ``waybill.adapters`` entry points.

A module that fails to import, exports no ``ADAPTER``, or whose id differs from
its module name is reported in :attr:`Registry.broken` and skipped; the gateway
keeps serving the others. Two adapters sharing an id: the first wins, the
second is reported.

Example:
    >>> registry = load_adapters()
    >>> "easypost" in registry.adapters
    True
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from importlib.metadata import entry_points

from gateway.carriers.adapter import Adapter

ENTRY_POINT_GROUP = "waybill.adapters"
IN_TREE_PACKAGE = "adapters"


@dataclass
class Registry:
    """Loaded adapters by id, plus what could not be loaded and why."""

    adapters: dict[str, Adapter] = field(default_factory=dict)
    broken: dict[str, str] = field(default_factory=dict)

    def get(self, adapter_id: str) -> Adapter | None:
        """The adapter with this id, if loaded."""
        return self.adapters.get(adapter_id)

    def _add(self, origin: str, expected_id: str | None, obj: object) -> None:
        if not isinstance(obj, Adapter):
            self.broken[origin] = "does not export an Adapter named ADAPTER"
        elif expected_id is not None and obj.id != expected_id:
            self.broken[origin] = f"adapter id {obj.id!r} differs from its module name"
        elif obj.id in self.adapters:
            self.broken[origin] = f"adapter id {obj.id!r} is already taken"
        else:
            self.adapters[obj.id] = obj


def load_adapters(package: str = IN_TREE_PACKAGE, group: str = ENTRY_POINT_GROUP) -> Registry:
    """Scan ``package`` (skipping ``_`` modules) and the entry-point ``group``."""
    registry = Registry()
    root = importlib.import_module(package)
    for info in sorted(pkgutil.iter_modules(root.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        origin = f"{package}.{info.name}"
        try:
            module = importlib.import_module(origin)
        except Exception as exc:  # a broken adapter must not take the host down
            registry.broken[origin] = f"import failed: {type(exc).__name__}: {exc}"
            continue
        registry._add(origin, info.name, getattr(module, "ADAPTER", None))
    for point in entry_points(group=group):
        origin = f"entry point {point.name} ({point.value})"
        try:
            loaded = point.load()
        except Exception as exc:  # same rule for out-of-tree adapters
            registry.broken[origin] = f"import failed: {type(exc).__name__}: {exc}"
            continue
        registry._add(origin, point.name, loaded)
    return registry
