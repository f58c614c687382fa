"""``waybill erase TENANT TRACKING_NUMBER [--dry-run]``: erase one shipment of a tenant.

Deletes the shipment's state items, every event and the parked copies whose raw body
names it (see :mod:`gateway.store.erase`) in the DynamoDB Local of a running ``waybill
serve`` (same ``--state-dir``). Afterwards its reads answer 404 and ``waybill parked
list`` shows no copy. Audited in ``<state_dir>/audit.jsonl``: who, when, the tenant,
the tracking number and the counts, never any content. ``--dry-run`` counts only.
Nothing found is said as such and not audited; for a tenant with no tenant file (a
typo, or a tenant removed and already erased) it is an error (exit 2).
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.audit.changes import FileChangeLog, append_audit, current_actor
from gateway.cli import CliError, add_state_dir
from gateway.cli.tables import running_table
from gateway.cli.tenants_cmd import add_tenants_dir, check_tenant_id, require_known_tenant
from gateway.errors import StoreUnavailableError
from gateway.models import normalise_tracking_number
from gateway.store.batch import UnprocessedItemsError
from gateway.store.erase import erase_shipment


def run(args: argparse.Namespace) -> int:
    """Erase (or count) and report; exit 0 when done, 2 when it must be run again."""
    check_tenant_id(args.tenant)  # a removed tenant's shipments can still be erased
    try:
        number = normalise_tracking_number(args.tracking_number)
    except ValueError:
        raise CliError("the tracking number is empty") from None
    state_dir = Path(args.state_dir)
    client, name = running_table(state_dir)
    now = datetime.now(UTC)
    try:
        done = erase_shipment(client, name, args.tenant, number, dry_run=args.dry_run)
    except (StoreUnavailableError, UnprocessedItemsError) as exc:
        _audit(state_dir, args.tenant, number, now, complete=False)
        raise CliError(f"erasure of {number} is incomplete ({exc}); run it again") from None
    if not done.total:  # nothing erased: nothing audited (and a typo of a tenant is an error)
        require_known_tenant(args.tenants_dir, args.tenant, found=False)
        print(f"nothing stored for {args.tenant}/{number}: nothing to erase")
        return 0
    counts = f"{done.states} state, {done.events} events, {done.parked} parked copies"
    if done.other:
        counts += f", {done.other} other items"
    if args.dry_run:
        print(f"would erase {args.tenant}/{number}: {counts}")
        return 0
    _audit(state_dir, args.tenant, number, now, complete=True, **asdict(done))
    print(f"erased {args.tenant}/{number}: {counts}")
    return 0


def _audit(state_dir: Path, tenant: str, number: str, now: datetime, **detail: Any) -> None:
    append_audit(
        FileChangeLog(state_dir),
        actor=current_actor(),
        action="shipment.erase",
        tenant=tenant,
        target=number,
        detail=detail,
        now=now,
    )


def register(subparsers: Any) -> None:
    """Add the ``erase`` command."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "erase", help="erase a shipment: its state, events and parked copies"
    )
    parser.add_argument("tenant", metavar="TENANT")
    parser.add_argument("tracking_number", metavar="TRACKING_NUMBER")
    parser.add_argument("--dry-run", action="store_true", help="count what would be erased")
    add_state_dir(parser)
    add_tenants_dir(parser)
    parser.set_defaults(func=run)
