"""``waybill adapters list|new|docs``: what is loaded, a new adapter skeleton, generated docs.

``docs`` writes every generated file: ADAPTERS.md, the canonical submit JSON Schema and
the OpenAPI document; ``--check`` only says whether the committed copies are stale.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from gateway.cli import CliError
from gateway.cli.output import add_json_option, print_json

DEFAULT_DOCS = Path("ADAPTERS.md")


def register(subparsers: Any) -> None:
    """Add the ``adapters`` command group."""
    from gateway.carriers.canonical_format import SCHEMA_PATH

    parser: argparse.ArgumentParser = subparsers.add_parser("adapters", help="carrier adapters")
    actions = parser.add_subparsers(dest="action", required=True)
    add_json_option(actions.add_parser("list", help="list loaded adapters and any that failed"))
    new = actions.add_parser("new", help="scaffold a new adapter, its fixtures and its test")
    new.add_argument("name", help="adapter id and module name, e.g. acme_post")
    new.add_argument("--root", type=Path, default=Path("."), help="repository root (default: .)")
    docs = actions.add_parser(
        "docs", help="regenerate ADAPTERS.md, the canonical schema and docs/openapi.json"
    )
    docs.add_argument("--output", type=Path, default=DEFAULT_DOCS)
    docs.add_argument("--schema-output", type=Path, default=Path(SCHEMA_PATH))
    docs.add_argument("--openapi-output", type=Path, help="default: docs/openapi.json")
    docs.add_argument("--check", action="store_true", help="exit 2 if a file is stale")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """List, scaffold, or render (and optionally only check) the generated docs."""
    from gateway.carriers.discovery import load_adapters

    registry = load_adapters()
    if args.action == "list" and args.json:
        adapters = [
            {
                "id": a.id,
                "label": a.label,
                "scheme": a.scheme.kind if a.webhook else None,
                "confidence": a.confidence,
            }
            for a in sorted(registry.adapters.values(), key=lambda a: a.id)
        ]
        print_json({"adapters": adapters, "broken": dict(sorted(registry.broken.items()))})
        return 1 if registry.broken else 0
    if args.action == "list":
        for adapter in sorted(registry.adapters.values(), key=lambda a: a.id):
            scheme = adapter.scheme.kind if adapter.webhook else "not a webhook"
            print(f"{adapter.id:<20} {adapter.label:<34} {scheme:<18} {adapter.confidence}")
        for origin, reason in sorted(registry.broken.items()):
            print(f"BROKEN {origin}: {reason}")
        return 1 if registry.broken else 0
    if args.action == "new":
        return _new(args, frozenset(registry.adapters))
    from gateway.api.openapi import OPENAPI_PATH, openapi_text
    from gateway.carriers.canonical_format import schema_text
    from gateway.carriers.docs import render

    outputs = {
        args.output: render(registry),
        args.schema_output: schema_text(),
        args.openapi_output or Path(OPENAPI_PATH): openapi_text(),
    }
    if args.check:
        stale = [str(p) for p, text in outputs.items() if _read(p) != text]
        if stale:
            raise CliError(f"{', '.join(stale)} stale: run `waybill adapters docs`")
        return 0
    for path, text in outputs.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    return 0


def _new(args: argparse.Namespace, loaded: frozenset[str]) -> int:
    from gateway.carriers.scaffold import ScaffoldError, next_steps, scaffold

    try:
        written = scaffold(args.root, args.name, taken=loaded)
    except ScaffoldError as exc:
        raise CliError(str(exc)) from None
    for path in written:
        print(f"wrote {path}")
    print(next_steps(args.name))
    return 0


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.exists() else ""
