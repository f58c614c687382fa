"""``waybill versions prune --stack NAME [--keep N] [--dry-run] [--json]``: delete a
stack's old Lambda versions (:mod:`gateway.aws.versions`), after a deployment.

Each function's versions referenced by an alias (its ``live`` version and a canary's
additional version) and the ``--keep`` newest stay; ``$LATEST`` is never touched.
``--dry-run`` lists what would be deleted and deletes nothing.
"""

from __future__ import annotations

import argparse

from gateway.aws.secrets import stack_prefix
from gateway.aws.versions import DEFAULT_KEEP, Pruned, prune_stack
from gateway.cli import CliError
from gateway.cli.output import add_json_option, print_json


def _line(pruned: Pruned, dry_run: bool) -> str:
    if not pruned.found:
        return f"{pruned.function}: no such function (not deployed in this stack?)"
    verb = "would delete" if dry_run else "deleted"
    deleted = ", ".join(pruned.deleted) or "nothing"
    line = f"{pruned.function}: {verb} {deleted}; kept {', '.join(pruned.kept) or 'none'}"
    line += f" (aliased: {', '.join(pruned.referenced) or 'none'})"
    if pruned.in_use:
        line += f"; in use meanwhile, kept: {', '.join(pruned.in_use)}"
    return line


def _prune(args: argparse.Namespace) -> int:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        stack_prefix(args.stack)  # the same stack-name rule as everywhere
        pruned = prune_stack(
            boto3.client("lambda"), args.stack, keep=args.keep, dry_run=args.dry_run
        )
    except ValueError as exc:
        raise CliError(str(exc)) from None
    except (BotoCoreError, ClientError) as exc:
        raise CliError(f"Lambda: {exc}") from None
    if args.json:
        print_json({"dry_run": args.dry_run, "functions": [p.as_json() for p in pruned]})
    else:
        for one in pruned:
            print(_line(one, args.dry_run))
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``waybill versions``."""
    parser = subparsers.add_parser("versions", help="a stack's Lambda versions on AWS")
    actions = parser.add_subparsers(dest="action", required=True)
    prune = actions.add_parser(
        "prune", help="delete old versions no alias refers to (keep the newest N)"
    )
    prune.add_argument("--stack", metavar="NAME", required=True, help="the stack (e.g. prod)")
    prune.add_argument(
        "--keep",
        metavar="N",
        type=int,
        default=DEFAULT_KEEP,
        help=f"newest versions kept per function, aliased or not (default: {DEFAULT_KEEP})",
    )
    prune.add_argument("--dry-run", action="store_true", help="list, delete nothing")
    add_json_option(prune)
    prune.set_defaults(func=_prune)
