"""``waybill endpoints add|list|remove|rotate|disable|enable|messages|resend|recover TENANT``:
a tenant's notification endpoints, as ops see them.

Mirrors ``/v1/endpoints`` for any tenant, through the same notification service, on the
DynamoDB Local of a running ``waybill serve`` (same ``--state-dir``), built as the
server builds it: endpoint secrets sealed under ``<state_dir>/notify.key``, and the
server's endpoint address policy and retry scale (``serve.json``). A secret is printed
once, by ``add`` and ``rotate``; ``list`` never shows one. Every change is audited in
``<state_dir>/audit.jsonl`` (who, what, which endpoint; never a secret).

Example:
    $ waybill endpoints add demo https://shop.example.com/hooks --types shipment.event_added
    ep_mfrgg2lbnfxgc3tf  enabled  https://shop.example.com/hooks  types=shipment.event_added
    secret whsec_…  (shown once: store it now)
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gateway.audit.changes import DetailValue, append_audit, current_actor
from gateway.cli import CliError, add_state_dir, shown_time
from gateway.cli.output import add_json_option, print_json
from gateway.cli.tables import change_log
from gateway.cli.tenants_cmd import add_tenants_dir, require_tenant
from gateway.errors import GatewayError
from gateway.notify.endpoints import MESSAGE_TYPES, Endpoint
from gateway.notify.messages import STATES, Message

if TYPE_CHECKING:
    from gateway.ops.audit import Auditing
    from gateway.services import Services

MAX_GRACE = "7d"


def running(args: argparse.Namespace) -> Services:
    """The services of the running server of ``--state-dir`` (else a
    :class:`~gateway.local.runtime.ServerNotRunningError`, one line)."""
    from gateway.local.wiring import running_services

    return running_services(Path(args.state_dir), Path(args.tenants_dir))


@contextmanager
def user_errors(state_dir: str) -> Iterator[None]:
    """The service's refusals as one-line CLI errors."""
    from gateway.notify.sealing import SealError

    try:
        yield
    except GatewayError as exc:
        hint = "; is `waybill serve` running?" if exc.status == 503 else ""
        raise CliError(f"{exc.message} ({exc.code}){hint}") from None
    except SealError:
        raise CliError(
            f"the endpoint's secret does not open with {state_dir}/notify.key: "
            "use the --state-dir of the server that created it"
        ) from None


def endpoint_line(endpoint: Endpoint) -> str:
    """One endpoint as ``list`` shows it (never its secret)."""
    state = "enabled" if endpoint.enabled else f"disabled ({endpoint.disabled_reason})"
    text = f"{endpoint.id}  {state}  {endpoint.url}  types={','.join(endpoint.types)}"
    if endpoint.statuses:
        text += f"  statuses={','.join(endpoint.statuses)}"
    if endpoint.carriers:
        text += f"  carriers={','.join(endpoint.carriers)}"
    if endpoint.description:
        text += f"  {endpoint.description!r}"
    return text


def message_line(message: Message) -> str:
    """One message and its attempts, on one line."""
    status = message.snapshot.get("status") or "-"
    text = (
        f"{message.id}  {shown_time(message.timestamp)}  {message.type}  "
        f"{message.tracking_number} {message.carrier} {status}  {message.state}"
    )
    if message.next_at is not None and message.state == "pending":
        text += f" (next {shown_time(message.next_at)})"
    tries = [
        f"{shown_time(a.at)} {a.trigger} {a.status or '-'} {a.latency_ms}ms"
        + (f" {a.error}" if a.error else "")
        for a in message.attempts
    ]
    return text + f"  attempts={message.attempt_count}" + (f": {'; '.join(tries)}" if tries else "")


def _audit(args: argparse.Namespace, action: str, target: str, **detail: DetailValue) -> None:
    append_audit(
        change_log(args),
        actor=current_actor(),
        action=f"endpoint.{action}",
        tenant=args.tenant,
        target=target,
        detail=detail,
        now=datetime.now(UTC),
    )


def _auditing(args: argparse.Namespace) -> Auditing:
    from gateway.ops.audit import Auditing

    return Auditing(change_log(args), current_actor())


def _grace_seconds(text: str) -> int:
    from gateway.cli.secrets_cmd import parse_duration

    grace = parse_duration(text)
    if grace > parse_duration(MAX_GRACE):
        raise CliError(f"--grace is at most {MAX_GRACE}")
    return int(grace.total_seconds())


def _add(args: argparse.Namespace, services: Services) -> int:
    from pydantic import ValidationError

    from gateway.errors import describe_errors
    from gateway.notify.service import EndpointSpec

    fields: dict[str, Any] = {"url": args.url, "description": args.description}
    for name in ("types", "statuses", "carriers"):
        if getattr(args, name):
            fields[name] = getattr(args, name)
    try:
        spec = EndpointSpec.model_validate(fields)
    except ValidationError as exc:
        raise CliError(describe_errors(exc)) from None
    endpoint, secret = services.notifications.create_endpoint(args.tenant, spec)
    _audit(args, "add", endpoint.id, types=",".join(endpoint.types))
    print(endpoint_line(endpoint))
    print(f"secret {secret}  (shown once: store it now; `rotate` makes a new one)")
    return 0


def _list(args: argparse.Namespace, services: Services) -> int:
    found = services.notifications.endpoints(args.tenant)
    if args.json:  # as GET /v1/endpoints answers: never a secret
        print_json({"tenant": args.tenant, "endpoints": [e.public() for e in found]})
        return 0
    if not found:
        print(f"no endpoints for {args.tenant}")
    for endpoint in found:
        print(endpoint_line(endpoint))
    return 0


def _remove(args: argparse.Namespace, services: Services) -> int:
    dropped = services.notifications.delete_endpoint(args.tenant, args.endpoint)
    _audit(args, "remove", args.endpoint, dropped=dropped)
    print(f"removed {args.endpoint} ({dropped} unsent messages dropped)")
    return 0


def _rotate(args: argparse.Namespace, services: Services) -> int:
    grace = _grace_seconds(args.grace)
    endpoint, secret = services.notifications.rotate_secret(args.tenant, args.endpoint, grace)
    _audit(args, "rotate", endpoint.id, grace_s=grace)
    print(endpoint_line(endpoint))
    print(f"secret {secret}  (shown once; the previous one signs too for {args.grace})")
    return 0


def _toggle(args: argparse.Namespace, services: Services) -> int:
    from gateway.ops import endpoints

    enabled = args.action == "enable"
    endpoint = endpoints.set_enabled(
        services.notifications, _auditing(args), args.tenant, args.endpoint, enabled
    )
    print(endpoint_line(endpoint))
    return 0


def _messages(args: argparse.Namespace, services: Services) -> int:
    if not 1 <= args.limit <= 100:
        raise CliError("--limit is 1..100")
    found = services.notifications.messages(
        args.tenant, args.endpoint, state=args.status, limit=args.limit, before=args.before
    )
    if args.json:
        older = found[-1].id if len(found) == args.limit else None  # for --before
        messages = [m.public() for m in found]
        print_json({"endpoint": args.endpoint, "messages": messages, "older": older})
        return 0
    if not found:
        print(f"no messages for {args.endpoint}")
    for message in found:
        print(message_line(message))
    if len(found) == args.limit:
        print(f"(older: --before {found[-1].id})")
    return 0


def _resend(args: argparse.Namespace, services: Services) -> int:
    from gateway.ops import endpoints

    audit, notifications = _auditing(args), services.notifications
    message = endpoints.resend(notifications, audit, args.tenant, args.endpoint, args.message)
    print(message_line(message))
    last = message.attempts[-1] if message.attempts else None
    return 0 if last is not None and last.status is not None and 200 <= last.status < 300 else 1


def _recover(args: argparse.Namespace, services: Services) -> int:
    from gateway.cli.audit_cmd import parse_since

    now = datetime.now(UTC)
    since = parse_since(args.since, now=now)
    retention = require_tenant(args.tenants_dir, args.tenant).retention_days
    from gateway.ops import endpoints

    try:
        endpoints.check_since(since, now, retention)
    except GatewayError as exc:
        raise CliError(f"--{exc.message}") from None
    queued = endpoints.recover(
        services.notifications, _auditing(args), args.tenant, args.endpoint, since
    )
    print(f"queued {queued} failed messages of {args.endpoint} since {shown_time(since)}")
    return 0


ACTIONS = {
    "add": _add,
    "list": _list,
    "remove": _remove,
    "rotate": _rotate,
    "disable": _toggle,
    "enable": _toggle,
    "messages": _messages,
    "resend": _resend,
    "recover": _recover,
}


def run(args: argparse.Namespace) -> int:
    """Check the tenant and ids, reach the running server, do the action."""
    from gateway.api.endpoints import is_endpoint_id, is_message_id

    require_tenant(args.tenants_dir, args.tenant)
    if getattr(args, "endpoint", None) is not None and not is_endpoint_id(args.endpoint):
        raise CliError(f"{args.endpoint[:40]!r} is not an endpoint id (ep_…)")
    for name in ("message", "before"):
        value = getattr(args, name, None)
        if value is not None and not is_message_id(value):
            raise CliError(f"{value[:40]!r} is not a message id (msg_…)")
    services = running(args)
    try:
        with user_errors(args.state_dir):
            return ACTIONS[args.action](args, services)
    finally:
        services.pipeline.audit.flush(final=True)


def register(subparsers: Any) -> None:
    """Add the ``endpoints`` command group."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "endpoints", help="a tenant's notification endpoints and their messages"
    )
    actions = parser.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="register an endpoint (its secret is shown once)")
    add.add_argument("tenant", metavar="TENANT")
    add.add_argument("url", metavar="URL")
    add.add_argument("--description", default="", help="a note for the tenant")
    add.add_argument("--types", nargs="+", choices=MESSAGE_TYPES, help="default: status changes")
    add.add_argument("--statuses", nargs="+", metavar="STATUS", help="only these (default: all)")
    add.add_argument("--carriers", nargs="+", metavar="CARRIER", help="only these (default: all)")
    subs = [add, actions.add_parser("list", help="the tenant's endpoints (never a secret)")]
    subs[-1].add_argument("tenant", metavar="TENANT")
    add_json_option(subs[-1])
    helps = {
        "remove": "remove an endpoint; its unsent messages are dropped",
        "rotate": "a new secret (shown once); the old one signs too during --grace",
        "disable": "pause an endpoint: its messages wait",
        "enable": "enable an endpoint: the messages that waited are sent",
        "messages": "an endpoint's messages and their attempts, newest first",
        "resend": "send one message again now",
        "recover": "send again every failed message since --since",
    }
    for name, text in helps.items():
        sub = actions.add_parser(name, help=text)
        sub.add_argument("tenant", metavar="TENANT")
        sub.add_argument("endpoint", metavar="ENDPOINT_ID")
        subs.append(sub)
        if name == "rotate":
            sub.add_argument("--grace", default="24h", help=f"e.g. 1h, 24h (at most {MAX_GRACE})")
        elif name == "messages":
            sub.add_argument("--status", choices=STATES, help="only messages in this state")
            sub.add_argument("--limit", type=int, default=20, help="at most this many (1..100)")
            sub.add_argument("--before", metavar="MESSAGE_ID", help="older than this message")
            add_json_option(sub)
        elif name == "resend":
            sub.add_argument("message", metavar="MESSAGE_ID")
        elif name == "recover":
            sub.add_argument("--since", required=True, help="ISO instant, or 24h, 7d …")
    for sub in subs:
        add_state_dir(sub)
        add_tenants_dir(sub)
        sub.set_defaults(func=run)
