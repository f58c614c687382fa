"""``waybill keys issue|list|revoke TENANT [PREFIX]``: local tenant API keys.

A key is printed once, when issued, alone on stdout (notes go to stderr, so
``KEY=$(waybill keys issue demo)`` works). Issues and revocations are audited
with the display prefix only. On AWS, keys come from the stack instead:
``keys list TENANT --stack NAME`` lists its API Gateway keys (never their values),
``issue`` and ``revoke`` with ``--stack`` say how to do it through the stack.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from gateway.audit.changes import append_audit, current_actor
from gateway.aws.api_keys import gateway_key_name, tenant_gateway_keys
from gateway.aws.secrets import stack_prefix
from gateway.cli import CliError, add_state_dir, shown_time
from gateway.cli.output import add_json_option, print_json
from gateway.cli.tables import change_log
from gateway.cli.tenants_cmd import (
    add_tenants_dir,
    check_tenant_id,
    require_known_tenant,
    require_tenant,
)
from gateway.tenancy.apikeys import DISPLAY_PREFIX_CHARS, LocalApiKeyStore
from gateway.tenancy.local_secrets import LocalStateError


@contextmanager
def _user_errors() -> Iterator[None]:
    try:
        yield
    except LocalStateError as exc:
        raise CliError(str(exc)) from None


def _from_stack(args: argparse.Namespace) -> CliError:
    name = gateway_key_name(args.stack, args.tenant)
    return CliError(
        f"on AWS, API keys come from the stack, not from this command: {args.stack} creates "
        f"the API Gateway key {name} (and {name}/LABEL while rotating). To rotate, add a key "
        f"label for {args.tenant} in the stack config and run 'pulumi up', give the tenant the "
        "new key, then remove the old label and run 'pulumi up' again (the old key is refused "
        f"within seconds); to revoke, remove its label. See: waybill keys list {args.tenant} "
        f"--stack {args.stack}"
    )


def _list_stack(args: argparse.Namespace) -> int:
    """The tenant's API Gateway keys by name and id; their values are never even fetched."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        stack_prefix(args.stack)  # the same stack-name rule as the secrets
        keys = tenant_gateway_keys(boto3.client("apigateway"), args.stack, args.tenant)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    except (BotoCoreError, ClientError) as exc:
        raise CliError(f"API Gateway: {exc}") from None
    if args.json:
        rows = [
            {
                "name": key.get("name"),
                "id": key.get("id"),
                "created_at": key.get("createdDate"),
                "enabled": bool(key.get("enabled")),
            }
            for key in keys
        ]
        print_json({"tenant": args.tenant, "stack": args.stack, "keys": rows})
        return 0
    if not keys:
        name = gateway_key_name(args.stack, args.tenant)
        print(f"no API keys for {args.tenant} in stack {args.stack} (none named {name})")
    for key in keys:
        created = key.get("createdDate")
        when = shown_time(created) if isinstance(created, datetime) else "?"
        state = "enabled" if key.get("enabled") else "disabled"
        print(f"{key.get('name')}  id {key.get('id')}  created {when}  {state}  value hidden")
    return 0


def _issue(args: argparse.Namespace) -> int:
    if args.stack:
        raise _from_stack(args)
    require_tenant(args.tenants_dir, args.tenant)
    now = datetime.now(UTC)
    with _user_errors():
        issued = LocalApiKeyStore(Path(args.state_dir)).issue(args.tenant, now=now)
    append_audit(
        change_log(args),
        actor=current_actor(),
        action="key.issue",
        tenant=args.tenant,
        target=issued.prefix,
        now=now,
    )
    print(f"issued an API key for {args.tenant} (prefix {issued.prefix}):", file=sys.stderr)
    print(issued.plaintext)
    print(
        "store it now: it will not be shown again "
        f"(revoke it with: waybill keys revoke {args.tenant} {issued.prefix})",
        file=sys.stderr,
    )
    return 0


def _list(args: argparse.Namespace) -> int:
    # Only a well-formed id is needed: keys of a removed tenant can still be listed and revoked.
    check_tenant_id(args.tenant)
    if args.stack:
        return _list_stack(args)
    with _user_errors():
        records = LocalApiKeyStore(Path(args.state_dir)).list(args.tenant)
    require_known_tenant(args.tenants_dir, args.tenant, found=bool(records))  # a typo: exit 2
    if args.json:
        fields = ("prefix", "created_at", "revoked_at", "active")  # never the digest
        rows = [{name: getattr(record, name) for name in fields} for record in records]
        print_json({"tenant": args.tenant, "keys": rows})
        return 0
    if not records:
        print(f"no API keys for {args.tenant}")
    for record in records:
        state = (
            "active" if record.revoked_at is None else f"revoked {shown_time(record.revoked_at)}"
        )
        print(f"{record.prefix}  created {shown_time(record.created_at)}  {state}")
    return 0


def _prefix_of(store: LocalApiKeyStore, tenant: str, given: str) -> str:
    """The display prefix of ``given``: a prefix as it is, or a full key found by its digest.

    Anything longer than a prefix is taken for a key: it is never echoed, even when unknown.
    """
    if len(given) <= DISPLAY_PREFIX_CHARS:
        return given
    with _user_errors():
        record = store.find(given)
    if record is None or record.tenant != tenant:
        raise CliError(f"no API key of tenant {tenant!r} matches the key given (not shown)")
    return record.prefix


def _revoke(args: argparse.Namespace) -> int:
    check_tenant_id(args.tenant)
    if args.stack:
        raise _from_stack(args)
    now = datetime.now(UTC)
    store = LocalApiKeyStore(Path(args.state_dir))
    args.prefix = _prefix_of(store, args.tenant, args.prefix)
    with _user_errors():
        revoked = store.revoke(args.tenant, args.prefix, now=now)
    if not revoked:
        raise CliError(f"no active API key with prefix {args.prefix!r} for tenant {args.tenant!r}")
    append_audit(
        change_log(args),
        actor=current_actor(),
        action="key.revoke",
        tenant=args.tenant,
        target=args.prefix,
        now=now,
    )
    print(f"revoked API key {args.prefix} of {args.tenant}; it is refused from now on")
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``waybill keys``."""
    parser = subparsers.add_parser("keys", help="issue, list and revoke local tenant API keys")
    actions = parser.add_subparsers(dest="action", required=True)
    issue = actions.add_parser("issue", help="issue a key (shown once)")
    list_parser = actions.add_parser("list", help="a tenant's keys by display prefix")
    revoke = actions.add_parser("revoke", help="revoke a key by its display prefix or full value")
    for sub in (issue, list_parser, revoke):
        sub.add_argument("tenant", metavar="TENANT")
        add_state_dir(sub)
        add_tenants_dir(sub)  # ``issue`` needs the file; ``list`` the file or a key
        sub.add_argument("--stack", metavar="NAME", help="on AWS: the stack's API Gateway keys")
    revoke.add_argument(
        "prefix", metavar="KEY_OR_PREFIX", help="the display prefix, or the key itself (not echoed)"
    )
    issue.set_defaults(func=_issue)
    list_parser.set_defaults(func=_list)
    revoke.set_defaults(func=_revoke)
    add_json_option(list_parser)
