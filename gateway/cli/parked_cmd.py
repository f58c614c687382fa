"""``waybill parked list|replay TENANT``: see and replay parked deliveries.

Talks to the DynamoDB Local of a running ``waybill serve`` (same ``--state-dir``).
A replay parses the stored raw body again with the current adapter (the delivery
was verified when it was parked), stores its events and removes the parked copy;
a delivery that still cannot be parsed stays parked.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from gateway.cli import CliError, add_state_dir
from gateway.cli.tenants_cmd import add_tenants_dir, require_tenant


def register(subparsers: Any) -> None:
    """Add the ``parked`` command group."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "parked", help="list or replay deliveries that could not be parsed"
    )
    actions = parser.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="list a tenant's parked deliveries")
    listing.add_argument("tenant")
    replay = actions.add_parser("replay", help="parse parked deliveries again and store them")
    replay.add_argument("tenant")
    replay.add_argument("ids", nargs="*", help="body hash prefixes to replay (default: all)")
    for sub in (listing, replay):
        add_state_dir(sub)
        add_tenants_dir(sub)
        sub.set_defaults(func=run)


def _services(args: argparse.Namespace) -> Any:
    from gateway.local.runtime import read_runtime
    from gateway.local.wiring import local_dynamodb
    from gateway.services import build_services
    from gateway.tenancy.keysets import SecretsProvider
    from gateway.tenancy.local_secrets import LocalSecretStore

    runtime = read_runtime(Path(args.state_dir))
    if runtime is None:
        raise CliError(f"no running `waybill serve` with --state-dir {args.state_dir}")
    secrets: SecretsProvider = LocalSecretStore(Path(args.state_dir))
    return build_services(
        dynamodb=local_dynamodb(runtime["dynamodb_endpoint"]),
        table_name=runtime["table"],
        tenants_dir=Path(args.tenants_dir),
        secrets=secrets,
        count=lambda name, value=1: None,
    )


def run(args: argparse.Namespace) -> int:
    """List, or replay and report each outcome; exit 1 if any replay failed."""
    require_tenant(args.tenants_dir, args.tenant)
    pipeline = _services(args).pipeline
    parked = pipeline.parking.list(args.tenant)
    if args.action == "list":
        if not parked:
            print(f"no parked deliveries for {args.tenant}")
        for item in parked:
            print(
                f"{item.body_sha256[:12]}  {item.carrier:<18} {item.received_at.isoformat()}  "
                f"{len(item.body)} B  {item.reason[:100]}"
            )
        return 0
    chosen = [
        p for p in parked if not args.ids or any(p.body_sha256.startswith(i) for i in args.ids)
    ]
    failed = 0
    for item in chosen:
        try:
            outcome = pipeline.replay(item)
        except Exception as exc:  # report and go on: one bad delivery must not stop the rest
            failed += 1
            print(f"{item.body_sha256[:12]}  still unparseable: {type(exc).__name__}: {exc}"[:300])
            continue
        print(
            f"{item.body_sha256[:12]}  replayed: {outcome.body.model_dump_json(exclude_none=True)}"
        )
    print(f"{len(chosen) - failed} replayed, {failed} still parked")
    return 1 if failed else 0
