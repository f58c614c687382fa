"""``waybill pollers status [TENANT]`` and ``waybill pollers log TENANT TRACKING --carrier C``:
how polling goes, as ops see it.

``status``: per tenant and polled carrier, the trackers due, overdue (due for more than
5 minutes) and failing, and today's requests against the daily budget (every tenant with
a ``[carriers.<id>.polling]`` when none is named). ``log``: the per-check log of one
tracker for one UTC day (``--day``, default today), newest first. Both read the DynamoDB
Local of a running ``waybill serve`` (same ``--state-dir``); nothing is changed.

Example:
    $ waybill pollers status
    demo  ups  due=2 overdue=0 failing=1  budget=12/500 today
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import TYPE_CHECKING, Any

from gateway.cli import CliError, add_state_dir
from gateway.cli.endpoints_cmd import running, user_errors
from gateway.cli.output import add_json_option, print_json
from gateway.cli.tenants_cmd import add_tenants_dir, require_tenant, valid_tenants
from gateway.cli.trackers_cmd import carrier_id, check_line, tracking_number

if TYPE_CHECKING:
    from gateway.services import Services
    from gateway.tenancy.tenants import TenantConfig

MAX_LOG = 100


def polling_tenants(args: argparse.Namespace) -> list[TenantConfig]:
    """The named tenant, or every tenant of ``--tenants-dir`` that polls a carrier."""
    if args.tenant is not None:
        return [require_tenant(args.tenants_dir, args.tenant)]
    found = valid_tenants(args.tenants_dir)
    return [
        config
        for _, config in sorted(found.items())
        if any(options.polling is not None for options in config.carriers.values())
    ]


def _status(args: argparse.Namespace, services: Services) -> int:
    tenants = polling_tenants(args)
    if args.json:
        usage = [
            {"tenant": config.id} | dataclasses.asdict(row)
            for config in tenants
            for row in services.trackers.usage(config.id)
        ]
        print_json({"carriers": usage})
        return 0
    if not tenants:
        print(f"no tenant in {args.tenants_dir} polls a carrier")
    for config in tenants:
        rows = services.trackers.usage(config.id)
        if not rows:
            print(f"{config.id}  polls no carrier")
        for row in rows:
            print(
                f"{config.id}  {row.carrier}  due={row.due} overdue={row.overdue} "
                f"failing={row.failing}  budget={row.requests_today}/{row.daily_budget} today"
            )
    return 0


def _day(text: str | None, services: Services) -> str:
    """``--day`` as the log's UTC day (``YYYY-MM-DD``); today when not given."""
    from datetime import date

    from gateway.poll.budget import utc_day

    if text is None:
        return utc_day(services.clock())
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise CliError(f"--day {text[:20]!r} is not a date (YYYY-MM-DD)") from None


def _log(args: argparse.Namespace, services: Services) -> int:
    if not 1 <= args.limit <= MAX_LOG:
        raise CliError(f"--limit is 1..{MAX_LOG}")
    day = _day(args.day, services)
    checks = services.trackers.log(args.tenant, args.carrier, day, args.number, args.limit)
    if args.json:
        print_json({"tenant": args.tenant, "day": day, "checks": [c.as_json() for c in checks]})
        return 0
    if not checks:
        print(f"no checks of {args.number} {args.carrier} for {args.tenant} on {day}")
    for check in checks:
        print(check_line(check))
    return 0


def run(args: argparse.Namespace) -> int:
    """Check the input, reach the running server, read."""
    if args.tenant is not None:
        require_tenant(args.tenants_dir, args.tenant)
    if args.action == "log":
        carrier_id(args.carrier)
        args.number = tracking_number(args.number)
    services = running(args)
    try:
        with user_errors(args.state_dir):
            return _status(args, services) if args.action == "status" else _log(args, services)
    finally:
        services.pipeline.audit.flush(final=True)


def register(subparsers: Any) -> None:
    """Add the ``pollers`` command group."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "pollers", help="how polling goes: trackers due and failing, budgets, the check log"
    )
    actions = parser.add_subparsers(dest="action", required=True)
    status = actions.add_parser(
        "status", help="per tenant and carrier: due, overdue, failing, budget used today"
    )
    status.add_argument("tenant", metavar="TENANT", nargs="?", help="default: every tenant")
    log = actions.add_parser("log", help="one tracker's checks, newest first")
    log.add_argument("tenant", metavar="TENANT")
    log.add_argument("number", metavar="TRACKING")
    log.add_argument("--carrier", required=True, help="the carrier polled, e.g. ups")
    log.add_argument("--day", help="the UTC day, YYYY-MM-DD (default: today)")
    log.add_argument("--limit", type=int, default=20, help=f"at most this many (1..{MAX_LOG})")
    for sub in (status, log):
        add_json_option(sub)
        add_state_dir(sub)
        add_tenants_dir(sub)
        sub.set_defaults(func=run)
