"""``waybill adapters list|docs``: what is loaded, and ADAPTERS.md regenerated from it."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from gateway.cli import CliError

DEFAULT_DOCS = Path("ADAPTERS.md")


def register(subparsers: Any) -> None:
    """Add the ``adapters`` command group."""
    parser: argparse.ArgumentParser = subparsers.add_parser("adapters", help="carrier adapters")
    actions = parser.add_subparsers(dest="action", required=True)
    actions.add_parser("list", help="list loaded adapters and any that failed to load")
    docs = actions.add_parser("docs", help="regenerate ADAPTERS.md from the adapters")
    docs.add_argument("--output", type=Path, default=DEFAULT_DOCS)
    docs.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """List, or render (and optionally only check) ADAPTERS.md."""
    from gateway.adapter_docs import render
    from gateway.discovery import load_adapters

    registry = load_adapters()
    if args.action == "list":
        for adapter in sorted(registry.adapters.values(), key=lambda a: a.id):
            print(
                f"{adapter.id:<20} {adapter.label:<28} {adapter.scheme.kind:<18} "
                f"{adapter.confidence}"
            )
        for origin, reason in sorted(registry.broken.items()):
            print(f"BROKEN {origin}: {reason}")
        return 1 if registry.broken else 0
    text = render(registry)
    if args.check:
        current = args.output.read_text() if args.output.exists() else ""
        if current != text:
            raise CliError(f"{args.output} is stale: run `waybill adapters docs`")
        return 0
    args.output.write_text(text)
    print(f"wrote {args.output}")
    return 0
