"""Run every benchmark, print one table, write ``bench/results/latest.json``.

``make bench`` (or ``.venv/bin/python -m bench [--only MODULE ...] [--json PATH]``). Each
module's ``measure()`` returns its rows; a module that fails is reported and the run
exits non-zero after the others have run, so one broken benchmark hides nothing else.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback
from pathlib import Path

from bench.report import Measure, format_table, write_json

MODULES = (
    "store_costs",
    "query_costs",
    "audit_costs",
    "pipeline_cpu",
    "cold_init",
    "e2e_latency",
    "peer_throughput",
    "notifications",
    "polling",
    "hot_partition",
    "cost_model",
)


def run(names: tuple[str, ...]) -> tuple[list[Measure], list[str]]:
    """The rows of each module in order, and the names of those that failed."""
    rows: list[Measure] = []
    failed: list[str] = []
    for name in names:
        started = time.monotonic()
        print(f"-- bench.{name} …", file=sys.stderr, flush=True)
        try:
            module = importlib.import_module(f"bench.{name}")
            rows.extend(module.measure())
        except Exception:
            traceback.print_exc()
            failed.append(name)
        print(f"   {time.monotonic() - started:.1f} s", file=sys.stderr, flush=True)
    return rows, failed


def main(argv: list[str] | None = None) -> int:
    """Run the selected modules (all by default); 1 when any failed (a missed target is shown)."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", nargs="+", choices=MODULES, metavar="MODULE")
    parser.add_argument("--json", type=Path, help="where to write the results")
    args = parser.parse_args(argv)
    rows, failed = run(tuple(args.only or MODULES))
    print(format_table(rows))
    path = write_json(rows, args.json)
    missed = [row for row in rows if row.met is False]
    print(f"\n{len(rows)} rows, {len(missed)} over target; results: {path}")
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
