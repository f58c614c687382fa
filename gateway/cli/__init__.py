"""The ``waybill`` console script: one entry point, one module per command group.

Each command module exposes ``register(subparsers)`` which adds its parser and
sets ``func`` (taking the parsed namespace, returning an exit code).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from datetime import datetime
from importlib import metadata

from gateway.errors import GatewayError
from gateway.local.runtime import StateDirError
from gateway.models import utc_text

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
    "tail",
    "audit",
    "costs",
    "erase",
    "versions",
    "adapters",
    "carrier_api",
    "console",
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
    """An instant as CLI text output shows it: :func:`~gateway.models.utc_text`, to the second.

    >>> from datetime import UTC
    >>> shown_time(datetime(2025, 1, 2, 3, 4, 5, 678, tzinfo=UTC))
    '2025-01-02T03:04:05Z'
    """
    return utc_text(instant, to_second=True)


def _version() -> str:
    """The installed package's version (``unknown`` when run from an uninstalled tree)."""
    try:
        return metadata.version("waybill")
    except metadata.PackageNotFoundError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    """The full parser, with every command group that is present."""
    parser = argparse.ArgumentParser(prog="waybill", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"waybill {_version()}")
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
    """Run one command; errors print one line to stderr and exit non-zero.

    A reader that goes away (``waybill audit demo | head -1``) ends the command quietly.
    """
    args = build_parser().parse_args(argv)
    try:
        code = int(args.func(args))
        sys.stdout.flush()  # a closed pipe shows here, while it can still be caught
        return code
    except KeyboardInterrupt:
        return 130
    except (CliError, StateDirError) as exc:  # StateDirError: no server, or one too many
        print(f"waybill: {exc}", file=sys.stderr)
        return 2
    except GatewayError as exc:  # storage unreachable, or a change made but not audited
        print(f"waybill: {exc.message} ({exc.code})", file=sys.stderr)
        return 1
    except BrokenPipeError:
        _quiet_stdout()
        return 141  # as a shell reports a process ended by SIGPIPE (128 + 13)


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's final flush finds no closed pipe."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


class CliError(Exception):
    """A user-facing command failure: printed as one line, exit code 2."""


if __name__ == "__main__":
    sys.exit(main())
