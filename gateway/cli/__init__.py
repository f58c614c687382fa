"""The ``waybill`` console script: one entry point, one module per command group.

Each command module exposes ``register(subparsers)`` which adds its parser and
sets ``func`` (taking the parsed namespace, returning an exit code).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

COMMAND_MODULES = (
    "serve",
    "secrets",
    "keys",
    "tenants",
    "send",
    "parked",
    "endpoints",
    "trackers",
    "pollers",
    "listen",
    "audit",
    "costs",
    "erase",
    "versions",
    "adapters",
    "carrier_api",
)
DEFAULT_STATE_DIR = ".waybill"


def add_state_dir(parser: argparse.ArgumentParser) -> None:
    """The one ``--state-dir`` option every command touching local state takes."""
    parser.add_argument(
        "--state-dir",
        default=DEFAULT_STATE_DIR,
        help=f"local state directory (default: {DEFAULT_STATE_DIR})",
    )


def shown_time(instant: datetime) -> str:
    """An instant as CLI output shows it: UTC, to the second.

    >>> from datetime import UTC
    >>> shown_time(datetime(2025, 1, 2, 3, 4, 5, 678, tzinfo=UTC))
    '2025-01-02T03:04:05Z'
    """
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_parser() -> argparse.ArgumentParser:
    """The full parser, with every command group that is present."""
    parser = argparse.ArgumentParser(prog="waybill", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"gateway.cli.{name}_cmd")
        except ModuleNotFoundError as exc:
            if exc.name != f"gateway.cli.{name}_cmd":
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; errors print one line to stderr and exit non-zero."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
    except CliError as exc:
        print(f"waybill: {exc}", file=sys.stderr)
        return 2


class CliError(Exception):
    """A user-facing command failure: printed as one line, exit code 2."""


if __name__ == "__main__":
    sys.exit(main())
