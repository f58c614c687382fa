"""``waybill trackers add|list|show|remove|refresh TENANT …``: a tenant's trackers, as ops
see them.

Mirrors ``/v1/trackers`` for any tenant, through the same service
(:class:`~gateway.poll.service.Trackers`), on the DynamoDB Local of a running
``waybill serve`` (same ``--state-dir``), built as the server builds it (its secrets for
the carriers' ``<carrier>.api`` credentials, its address policy). A refresh of one
tracker asks the carrier from this process, within the same daily budget as the server's
poller; a refresh of several queues them first for the server's next pass. Changes are
audited in ``<state_dir>/audit.jsonl``.

Example:
    $ waybill trackers add demo 1Z999AA10123456784 --carrier ups
    added 1Z999AA10123456784 ups  active  unknown  checks=0  next=2025-06-02T12:00:00Z
"""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from gateway.audit.changes import DetailValue, append_audit, current_actor
from gateway.cli import CliError, add_state_dir, shown_time
from gateway.cli.endpoints_cmd import running, user_errors
from gateway.cli.output import add_json_option, print_json
from gateway.cli.tables import change_log
from gateway.cli.tenants_cmd import add_tenants_dir, require_tenant
from gateway.tenancy.tenants import CARRIER_ID_PATTERN

if TYPE_CHECKING:
    from gateway.poll.checks import Check
    from gateway.poll.trackers import Tracker
    from gateway.services import Services

STATES = ("active", "failing", "retired")
MAX_LIST = 100
MAX_REFRESH = 100  # as POST /v1/trackers/refresh
_CARRIER = re.compile(CARRIER_ID_PATTERN)


def tracking_number(value: str) -> str:
    """A tracking number as Waybill keeps it; a one-line error when it cannot be one."""
    from gateway.models import normalise_tracking_number

    try:
        return normalise_tracking_number(value)
    except ValueError as exc:
        raise CliError(f"{value[:40]!r}: {exc}") from None


def carrier_id(value: str) -> str:
    """A carrier id (as ``--carrier`` takes it); a one-line error otherwise."""
    if not _CARRIER.fullmatch(value):
        raise CliError(f"{value[:40]!r} is not a carrier id (e.g. ups)")
    return value


def _when(value: datetime | None) -> str:
    return shown_time(value) if value else "-"


def tracker_line(tracker: Tracker) -> str:
    """One tracker on one line: number, carrier, state, status, checks, last and next."""
    text = (
        f"{tracker.tracking_number} {tracker.carrier}  {tracker.state}  {tracker.status.value}"
        f"  checks={tracker.checks}"
    )
    if tracker.last_checked_at:
        text += f"  last={shown_time(tracker.last_checked_at)} ({tracker.last_source or 'poll'})"
    if tracker.state != "retired":
        text += f"  next={_when(tracker.next_check_at)}"
    elif tracker.retired_reason:
        text += f"  retired: {tracker.retired_reason}"
    if tracker.failures:
        text += f"  failures={tracker.failures}"
    if tracker.last_error:
        text += f"  error={tracker.last_error}"
    return text


def check_line(check: Check) -> str:
    """One check of the per-check log on one line."""
    text = (
        f"{shown_time(check.checked_at)}  {check.trigger}  http={check.http_status or '-'}"
        f"  {check.duration_ms:.0f}ms  +{check.events_added} events"
    )
    if check.status_changed:
        text += "  status changed"
    if check.error:
        text += f"  error={check.error}"
    return text


def _audit(args: argparse.Namespace, action: str, target: str, **detail: DetailValue) -> None:
    append_audit(
        change_log(args),
        actor=current_actor(),
        action=f"tracker.{action}",
        tenant=args.tenant,
        target=target,
        detail=detail,
        now=datetime.now(UTC),
    )


def _add(args: argparse.Namespace, services: Services) -> int:
    tracker, created = services.trackers.add(args.tenant, args.number, args.carrier)
    if created:
        _audit(args, "add", tracker.tracking_number, carrier=tracker.carrier)
    print(f"{'added' if created else 'already tracked'} {tracker_line(tracker)}")
    return 0


def _list(args: argparse.Namespace, services: Services) -> int:
    if not 1 <= args.limit <= MAX_LIST:
        raise CliError(f"--limit is 1..{MAX_LIST}")
    from gateway.api.queries import known_carrier
    from gateway.api.trackers import position_ok

    if args.carrier is not None:  # a typo is an error, never "no trackers"
        known_carrier(services, args.tenant, {"carrier": args.carrier})
    if args.after is not None and not position_ok(args.after, args.carrier):
        raise CliError(f"--after {args.after[:40]!r} is not a position this listing printed")
    page, position = services.trackers.page(
        args.tenant, args.state, args.carrier, args.limit, args.after
    )
    if args.json:  # as GET /v1/trackers answers; ``after`` continues the listing
        from gateway.poll.service import tracker_json

        print_json({"trackers": [tracker_json(t) for t in page], "after": position})
        return 0
    if not page and position is None:
        print(f"no {args.state} trackers for {args.tenant}")
    for tracker in page:
        print(tracker_line(tracker))
    if position is not None:
        print(f"(more: --after {position})")
    return 0


def _show(args: argparse.Namespace, services: Services) -> int:
    tracker = services.trackers.get(args.tenant, args.number, args.carrier)
    checks = services.trackers.recent_checks(tracker)
    if args.json:
        from gateway.poll.service import tracker_json

        print_json(tracker_json(tracker) | {"recent_checks": [c.as_json() for c in checks]})
        return 0
    print(tracker_line(tracker))
    print(f"created {shown_time(tracker.created_at)}")
    print(f"recent checks ({len(checks)}):" if checks else "no checks yet")
    for check in checks:
        print(f"  {check_line(check)}")
    return 0


def _remove(args: argparse.Namespace, services: Services) -> int:
    tracker = services.trackers.remove(args.tenant, args.number, args.carrier)
    _audit(args, "remove", tracker.tracking_number, carrier=tracker.carrier)
    print(f"removed {tracker_line(tracker)}")
    return 0


def _refresh(args: argparse.Namespace, services: Services) -> int:
    from gateway.ops import trackers
    from gateway.ops.audit import Auditing
    from gateway.poll.service import PollBudgetSpentError

    numbers = list(dict.fromkeys(args.numbers))
    if len(numbers) > MAX_REFRESH:
        raise CliError(f"refresh at most {MAX_REFRESH} trackers at once")
    audit = Auditing(change_log(args), current_actor())
    try:
        refreshed = trackers.refresh(services.trackers, audit, args.tenant, numbers, args.carrier)
    except PollBudgetSpentError as exc:
        hours = exc.retry_after / 3600
        message = f"{exc.message} ({exc.code}): it renews at 00:00 UTC, in {hours:.1f}h"
        raise CliError(message) from None
    if refreshed.done is None:
        print(f"queued {len(refreshed.queued)} trackers first for the next pass:")
        for tracker in refreshed.queued:
            print(f"  {tracker_line(tracker)}")
        return 0
    done = refreshed.done
    if done.check is None:
        print(f"queued first (the carrier cannot answer now): {tracker_line(done.tracker)}")
        return 0
    print(f"checked: {check_line(done.check)}")
    print(tracker_line(done.tracker))
    return 1 if done.check.error else 0


ACTIONS = {
    "add": _add,
    "list": _list,
    "show": _show,
    "remove": _remove,
    "refresh": _refresh,
}


def checked_args(args: argparse.Namespace) -> None:
    """Check the tenant, the tracking numbers and the carrier before reaching the server."""
    require_tenant(args.tenants_dir, args.tenant)
    if getattr(args, "carrier", None) is not None:
        carrier_id(args.carrier)
    if getattr(args, "number", None) is not None:
        args.number = tracking_number(args.number)
    if getattr(args, "numbers", None) is not None:
        args.numbers = [tracking_number(n) for n in args.numbers]


def run(args: argparse.Namespace) -> int:
    """Check the input, reach the running server, do the action."""
    checked_args(args)
    services = running(args)
    try:
        with user_errors(args.state_dir):
            return ACTIONS[args.action](args, services)
    finally:
        services.pipeline.audit.flush(final=True)


def _one(parser: Any, name: str, text: str, *, many: bool = False) -> argparse.ArgumentParser:
    sub: argparse.ArgumentParser = parser.add_parser(name, help=text)
    sub.add_argument("tenant", metavar="TENANT")
    if many:
        sub.add_argument("numbers", metavar="TRACKING", nargs="+")
    else:
        sub.add_argument("number", metavar="TRACKING")
    sub.add_argument("--carrier", required=True, help="the carrier polled, e.g. ups")
    return sub


def register(subparsers: Any) -> None:
    """Add the ``trackers`` command group."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "trackers", help="a tenant's trackers: shipments polled from their carrier's API"
    )
    actions = parser.add_subparsers(dest="action", required=True)
    subs = [_one(actions, "add", "start tracking a shipment (its carrier must be polled)")]
    listing = actions.add_parser("list", help="the tenant's trackers in one state")
    listing.add_argument("tenant", metavar="TENANT")
    listing.add_argument("--state", choices=STATES, default="active", help="default: active")
    listing.add_argument("--carrier", help="only this carrier's trackers")
    listing.add_argument("--limit", type=int, default=50, help=f"at most this many (1..{MAX_LIST})")
    listing.add_argument("--after", metavar="POSITION", help="continue after this position")
    show = _one(actions, "show", "one tracker and its recent checks")
    for sub in (listing, show):
        add_json_option(sub)
    subs += [
        listing,
        show,
        _one(actions, "remove", "stop polling a shipment (its history stays)"),
        _one(
            actions,
            "refresh",
            "one: check now and print what it found; several: queue them first",
            many=True,
        ),
    ]
    for sub in subs:
        add_state_dir(sub)
        add_tenants_dir(sub)
        sub.set_defaults(func=run)
