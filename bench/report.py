"""One row type for every benchmark, one table printer, one JSON writer.

Each bench module exposes ``measure() -> list[Measure]`` (and a ``main()`` that prints
its own rows). ``python -m bench`` runs them all, prints one table and writes
``bench/results/latest.json``.

Example:
    >>> row = Measure("pipeline_cpu", "easypost/tracker.json", 2.1, "x", target=3.0)
    >>> row.met
    True
    >>> Measure("units", "retry", 0.0, "WCU").met is None
    True
    >>> Measure("served", "gateway/peer req/s", 0.5, "x", floor=0.6).met
    False
"""

from __future__ import annotations

import json
import platform
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Measure:
    """One measured figure; ``target`` is an upper bound when set (lower is better),
    ``floor`` a lower bound (higher is better)."""

    section: str
    name: str
    value: float
    unit: str
    target: float | None = None
    note: str = ""
    floor: float | None = None

    @property
    def met(self) -> bool | None:
        """Whether the value is within its target and floor; None when it has neither."""
        if self.target is None and self.floor is None:
            return None
        under = self.target is None or self.value <= self.target
        return under and (self.floor is None or self.value >= self.floor)


def format_table(rows: Iterable[Measure]) -> str:
    """A fixed-width table: section, name, value with unit, target (``>=x``: a floor), verdict,
    note."""
    lines = [f"{'section':<16} {'name':<52} {'value':>14} {'target':>10}  ok  note"]
    for row in rows:
        target = "" if row.target is None else f"{row.target:g}"
        target = target if row.floor is None else f">={row.floor:g} {target}".rstrip()
        verdict = {None: "  ", True: "ok", False: "NO"}[row.met]
        value = f"{row.value:.4g} {row.unit}"
        lines.append(
            f"{row.section:<16} {row.name[:52]:<52} {value:>14} {target:>10}  {verdict}  {row.note}"
        )
    return "\n".join(lines)


def print_rows(rows: Sequence[Measure]) -> None:
    """Print ``rows`` as a table (a module's own ``main``)."""
    print(format_table(rows))


def machine() -> dict[str, Any]:
    """Where the figures came from."""
    import os

    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "system": platform.platform(),
        "cpus": os.cpu_count(),
        "processor": platform.processor() or None,
    }


def write_json(rows: Sequence[Measure], path: Path | None = None) -> Path:
    """Write the rows and the machine to ``path`` (default ``bench/results/latest.json``)."""
    target = path or RESULTS_DIR / "latest.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "rows": [asdict(row) | {"met": row.met} for row in rows],
    }
    target.write_text(json.dumps(document, indent=2) + "\n")
    return target
