"""``waybill parked list|replay TENANT``: see and replay parked deliveries.

Talks to the DynamoDB Local of a running ``waybill serve`` (same ``--state-dir``).
A replay parses the stored raw body again with the current adapter (the delivery
was verified when it was parked), stores its events and removes the parked copy;
a delivery that still cannot be parsed stays parked.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

from gateway.audit.changes import current_actor
from gateway.cli import CliError, add_state_dir, shown_time
from gateway.cli.output import add_json_option, print_json
from gateway.cli.tables import change_log
from gateway.cli.tenants_cmd import add_tenants_dir, require_tenant
from gateway.observability import printable
from gateway.store.parked import ParkedDelivery

ID = re.compile(r"[0-9a-f]{4,64}")
"""A parked delivery's id as given: the start of its body's SHA-256 (12 digits listed)."""


def register(subparsers: Any) -> None:
    """Add the ``parked`` command group."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "parked", help="list or replay deliveries that could not be parsed"
    )
    actions = parser.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="list a tenant's parked deliveries")
    listing.add_argument("tenant")
    add_json_option(listing)
    replay = actions.add_parser("replay", help="parse parked deliveries again and store them")
    replay.add_argument("tenant")
    replay.add_argument("ids", nargs="*", help="body hash prefixes to replay (default: all)")
    for sub in (listing, replay):
        add_state_dir(sub)
        add_tenants_dir(sub)
        sub.set_defaults(func=run)


def _services(args: argparse.Namespace) -> Any:
    from gateway.local.runtime import running_server
    from gateway.local.wiring import local_dynamodb
    from gateway.services import build_services
    from gateway.tenancy.keysets import SecretsProvider
    from gateway.tenancy.local_secrets import LocalSecretStore

    runtime = running_server(Path(args.state_dir))
    secrets: SecretsProvider = LocalSecretStore(Path(args.state_dir))
    return build_services(
        dynamodb=local_dynamodb(runtime["dynamodb_endpoint"]),
        table_name=runtime["table"],
        tenants_dir=Path(args.tenants_dir),
        secrets=secrets,
        count=lambda name, value=1: None,
    )


def _parked_json(item: ParkedDelivery) -> dict[str, Any]:
    """One parked delivery as ``list --json`` shows it (never its body or headers)."""
    return {
        "id": item.body_sha256[:12],
        "body_sha256": item.body_sha256,
        "carrier": item.carrier,
        "received_at": item.received_at,
        "bytes": len(item.body),
        "reason": item.reason,
    }


def _check_ids(tenant: str, ids: list[str], parked: list[ParkedDelivery]) -> None:
    """Each id must be the start of a parked delivery's id (``parked list``): a typo is an
    error, never "0 replayed"."""
    for wanted in ids:
        if not ID.fullmatch(wanted):
            raise CliError(f"{wanted!r} is not a parked delivery's id (4 to 64 hex digits)")
        if not any(item.body_sha256.startswith(wanted) for item in parked):
            raise CliError(
                f"no parked delivery of {tenant} has an id starting {wanted!r} "
                f"(see: waybill parked list {tenant})"
            )


def run(args: argparse.Namespace) -> int:
    """List, or replay and report each outcome; exit 1 if any replay failed."""
    require_tenant(args.tenants_dir, args.tenant)
    pipeline = _services(args).pipeline
    parked = pipeline.parking.list(args.tenant)
    if args.action == "list" and args.json:
        print_json({"tenant": args.tenant, "parked": [_parked_json(item) for item in parked]})
        return 0
    if args.action == "list":
        if not parked:
            print(f"no parked deliveries for {args.tenant}")
        for item in parked:
            print(
                f"{item.body_sha256[:12]}  {item.carrier:<18} {shown_time(item.received_at)}  "
                f"{len(item.body)} B  {printable(item.reason, 500)}"  # whole, last: never cut
            )
        return 0
    _check_ids(args.tenant, args.ids, parked)
    if not parked:
        print(f"no parked deliveries for {args.tenant}: nothing to replay")
        return 0
    from gateway.ops import parked as replaying
    from gateway.ops.audit import Auditing

    chosen = replaying.choose(parked, args.ids)
    audit = Auditing(change_log(args), current_actor())
    failed = 0
    for done in replaying.replay(pipeline, audit, args.tenant, chosen):  # as the console
        item = done.parked
        if done.outcome is None:
            failed += 1
            print(f"{item.body_sha256[:12]}  still unparseable: {printable(done.error or '', 500)}")
            continue
        body = done.outcome.body.model_dump_json(exclude_none=True)
        print(f"{item.body_sha256[:12]}  replayed: {body}")
    print(f"{len(chosen) - failed} replayed, {failed} still parked")
    return 1 if failed else 0
