"""``waybill audit TENANT [--since WHEN] [--outcome X] [--limit N] [--stack NAME]``: what
happened, newest first; ``waybill audit TENANT --tracking-number N``: which delivery
brought each event of it.

Two sources, merged: the delivery outcomes stored in the DynamoDB Local of a running
``waybill serve`` (same ``--state-dir``), and the local JSONL of key and secret changes
and erasures (``<state_dir>/audit.jsonl``). Without a running server only the changes
are shown (stderr says so). With ``--stack NAME`` both come from the stack's table: its
outcomes, and the changes made there (the console's actions, the CLI's ``--stack``).
``--since`` is an ISO date or instant (UTC unless it has an offset) or a duration back
from now (``24h``, ``7d``); default 7 days. ``--outcome`` keeps one outcome
(``accepted``, ``duplicate``, ``rejected``, …), or the changes whose action is or starts
with it (``secret``, ``key.revoke``; ``change`` for all of them).

Example:
    >>> from datetime import UTC, datetime
    >>> parse_since("2025-01-02", now=datetime(2025, 3, 1, tzinfo=UTC)).isoformat()
    '2025-01-02T00:00:00+00:00'
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
from datetime import UTC, datetime, timedelta
from difflib import get_close_matches
from pathlib import Path
from typing import Any

from gateway.audit.changes import CHANGE_KINDS, NO_TENANT, ChangeLog
from gateway.audit.outcomes import OUTCOMES
from gateway.audit.provenance import provenance
from gateway.audit.query import AuditRecord, read_audit
from gateway.cli import CliError, add_state_dir, shown_time
from gateway.cli.output import add_json_option, print_json
from gateway.cli.tables import change_log, running_table, stack_table
from gateway.cli.tenants_cmd import add_tenants_dir, check_tenant_id, require_known_tenant
from gateway.local.runtime import ServerNotRunningError
from gateway.models import normalise_tracking_number

DEFAULT_SINCE = timedelta(days=7)
ACTION = re.compile(r"[a-z_]{1,40}")  # after the kind: ``rotate`` of ``secret.rotate``
Line = tuple[datetime, str, dict[str, Any]]  # when, the text line, the ``--json`` entry


def check_outcome(wanted: str) -> str:
    """An outcome, ``change``, or a change's kind or action (``secret``, ``key.revoke``);
    :class:`CliError` otherwise (``rejectd`` never reads as "nothing audited").

    >>> check_outcome("secret.rotate")
    'secret.rotate'
    """
    kind, _, action = wanted.partition(".")
    if wanted in (*OUTCOMES, "change", *CHANGE_KINDS):
        return wanted
    if kind in CHANGE_KINDS and ACTION.fullmatch(action):
        return wanted
    choices = [*OUTCOMES, "change", *CHANGE_KINDS]
    close = get_close_matches(wanted, choices, n=1)
    hint = f"did you mean {close[0]}? " if close else ""
    raise CliError(
        f"unknown --outcome {wanted!r}: {hint}(one of {', '.join(choices)}, "
        "or an action such as secret.rotate)"
    )


def parse_since(text: str, *, now: datetime) -> datetime:
    """An ISO date or instant (UTC when naive), or a duration back from ``now``."""
    if re.fullmatch(r"(\d+[wdhms])+", text.strip().lower()):
        from gateway.cli.secrets_cmd import parse_duration

        return now - parse_duration(text)
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise CliError(
            f"invalid --since {text!r} (an ISO date or instant, or e.g. 24h, 7d)"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def outcome_line(record: AuditRecord) -> Line:
    """One delivery outcome (or counted window) as a line."""
    text = f"{shown_time(record.at)}  {record.outcome:<9}  {record.carrier:<18}"
    if record.code != "-":
        text += f" code={record.code}"
    if record.window_s:
        text += f" count={record.count} in {record.window_s}s"
    for name, value in sorted(record.detail.items()):
        shown = ",".join(map(str, value)) if isinstance(value, list) else value
        text += f" {name}={shown}"
    entry = {"at": record.at, "kind": "outcome", "outcome": record.outcome}
    entry |= {"carrier": record.carrier, "code": record.code, "count": record.count}
    return record.at, text, entry | {"window_s": record.window_s, "detail": record.detail}


def change_lines(log: ChangeLog, tenant: str, since: datetime, wanted: str | None) -> list[Line]:
    """The tenant's changes in ``log`` since ``since`` (of the action or kind ``wanted``)."""
    lines: list[Line] = []
    for change in log.read(tenant, since=since):
        action = change.action
        if not (wanted in (None, "change", action) or action.startswith(f"{wanted}.")):
            continue
        detail = " ".join(f"{k}={v}" for k, v in sorted(change.detail.items()))
        text = f"{shown_time(change.at)}  {'change':<9}  {action} {change.target} by {change.actor}"
        fields = {"action": action, "target": change.target, "actor": change.actor}
        as_json = {"at": change.at, "kind": "change"} | fields | {"detail": dict(change.detail)}
        lines.append((change.at, f"{text} {detail}".rstrip(), as_json))
    return lines


def collect(log: ChangeLog, tenant: str, **kwargs: Any) -> list[str]:
    """The text lines of :func:`collect_entries`."""
    return [text for _, text, _ in collect_entries(log, tenant, **kwargs)]


def collect_entries(
    log: ChangeLog,
    tenant: str,
    *,
    since: datetime,
    now: datetime,
    outcome: str | None = None,
    limit: int = 100,
    table: tuple[Any, str] | None = None,
) -> list[Line]:
    """Both audits of ``tenant`` merged, newest first, at most ``limit`` lines."""
    lines = change_lines(log, tenant, since, outcome)
    if table is not None and (outcome is None or outcome in OUTCOMES):
        client, name = table
        records = read_audit(
            client, name, tenant, since=since, now=now, outcome=outcome, limit=limit
        )
        lines += [outcome_line(record) for record in records]
    lines.sort(key=lambda line: line[0], reverse=True)
    return lines[:limit]


def show_provenance(args: argparse.Namespace, table: tuple[Any, str] | None) -> int:
    """Print which delivery brought each event of one shipment."""
    if table is None:
        raise CliError(
            f"no running `waybill serve` with --state-dir {args.state_dir}: "
            "the events are read from its DynamoDB Local"
        )
    try:
        number = normalise_tracking_number(args.tracking_number)
    except ValueError as exc:
        raise CliError(f"invalid --tracking-number: {exc}") from None
    client, name = table
    found = provenance(client, name, args.tenant, number, now=datetime.now(UTC))
    require_known_tenant(args.tenants_dir, args.tenant, found=bool(found))
    if getattr(args, "json", False):
        events = [dataclasses.asdict(entry) for entry in found]
        print_json({"tenant": args.tenant, "tracking_number": number, "events": events})
        return 0
    if not found:
        print(f"no events stored for {args.tenant} {number}")
    for entry in found:
        print(entry.line())
    return 0


def show_changes_of_no_tenant(args: argparse.Namespace) -> int:
    """``waybill audit -``: the changes of no tenant's (no outcomes, no provenance)."""
    if args.tracking_number:
        raise CliError("--tracking-number needs a tenant")
    if args.outcome is not None:
        check_outcome(args.outcome)
    now = datetime.now(UTC)
    since = parse_since(args.since, now=now) if args.since else now - DEFAULT_SINCE
    lines = change_lines(change_log(args), NO_TENANT, since, args.outcome)[: args.limit]
    return show_lines(args, since, lines, f"no changes of no tenant's since {shown_time(since)}")


def show_lines(args: argparse.Namespace, since: datetime, lines: list[Line], none: str) -> int:
    """Print ``lines`` (``--json``: their entries), or ``none`` when there are none."""
    if args.json:
        print_json({"tenant": args.tenant, "since": since, "entries": [e for *_, e in lines]})
        return 0
    if not lines:
        print(none)
    for _, text, _ in lines:
        print(text)
    return 0


def run(args: argparse.Namespace) -> int:
    """Print the tenant's audit, newest first (or one shipment's provenance); ``-``: the
    changes of no tenant's (the ops credential's resets), from the same change log."""
    if args.tenant == NO_TENANT:
        return show_changes_of_no_tenant(args)
    check_tenant_id(args.tenant)
    if args.outcome is not None:
        check_outcome(args.outcome)
    table: tuple[Any, str] | None
    if args.stack:
        table = stack_table(args.stack)
    if args.tracking_number:
        return show_provenance(args, table if args.stack else running_table(Path(args.state_dir)))
    now = datetime.now(UTC)
    since = parse_since(args.since, now=now) if args.since else now - DEFAULT_SINCE
    if not args.stack:
        try:
            table = running_table(Path(args.state_dir))
        except ServerNotRunningError as exc:
            table = None
            print(
                f"waybill: {exc}; until then only key, secret and erasure changes are shown",
                file=sys.stderr,
            )
    lines = collect_entries(
        change_log(args),
        args.tenant,
        since=since,
        now=now,
        outcome=args.outcome,
        limit=args.limit,
        table=table,
    )
    require_known_tenant(args.tenants_dir, args.tenant, found=bool(lines))
    none = f"nothing audited for {args.tenant} since {shown_time(since)}"
    return show_lines(args, since, lines, none)


def register(subparsers: Any) -> None:
    """Add the ``audit`` command."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "audit", help="a tenant's delivery outcomes and key/secret changes, newest first"
    )
    parser.add_argument(
        "tenant", metavar="TENANT", help="a tenant, or - for the changes of no tenant's"
    )
    parser.add_argument("--since", help="ISO date/instant, or a duration (24h, 7d); default 7d")
    parser.add_argument("--outcome", help="accepted, duplicate, rejected, …, or change, secret…")
    parser.add_argument("--limit", type=int, default=100, help="at most this many lines")
    parser.add_argument(
        "--tracking-number",
        help="instead: which delivery (id, body digest, time) brought each event of it",
    )
    parser.add_argument(
        "--stack", metavar="NAME", help="read a deployed stack's table (outcomes and changes)"
    )
    add_state_dir(parser)
    add_tenants_dir(parser)
    add_json_option(parser)
    parser.set_defaults(func=run)
