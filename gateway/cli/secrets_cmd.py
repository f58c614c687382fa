"""``waybill secrets set|rotate|list|revoke``: partner secrets, local or (``--stack``) on AWS.

Values are printed masked unless ``--reveal`` is given; every change (and every
reveal) is written to the audit trail, without values.

A target is ``CARRIER`` (the carrier's own key set) or ``CARRIER.SLOT`` (a second kind
of secret the adapter reads, e.g. ``shippo.hmac``, ``ups.oauth``, ``ups.api``). The tenant
must have the base carrier enabled, and the adapter must read that key set
(:mod:`gateway.carriers.secret_slots`: ``shippo.hmc`` or ``canonical`` is refused, naming
the ones it reads); a value is checked against the rule its scheme declares
(:mod:`gateway.signing.secret_rules`: a ``whsec_`` of at least 24 bytes, ``CLIENT_ID:SECRET``
for an OAuth API …). Exit 2, and the value never echoed, when either is wrong.

Example:
    >>> parse_duration("24h"), parse_duration("1d12h")
    (datetime.timedelta(days=1), datetime.timedelta(days=1, seconds=43200))
    >>> split_target("shippo.hmac"), split_target("easypost")
    (('shippo', 'hmac'), ('easypost', None))
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from difflib import get_close_matches
from pathlib import Path

from gateway.audit.changes import DetailValue, append_audit, current_actor
from gateway.aws.secret_store import SecretsManagerStore, SecretStoreError
from gateway.carriers.secret_slots import secret_targets
from gateway.cli import DEFAULT_STATE_DIR, CliError, add_state_dir, shown_time
from gateway.cli.output import add_json_option, print_json
from gateway.cli.tables import change_log
from gateway.cli.tenants_cmd import add_tenants_dir, require_carrier, require_tenant
from gateway.ops.audit import Auditing
from gateway.ops.secrets import rotate as rotate_secret
from gateway.signing.secret_rules import SecretRule
from gateway.tenancy.keysets import KeySet, KeySetError, check_value, generate_secret, mask
from gateway.tenancy.local_secrets import LocalSecretStore, LocalStateError
from gateway.tenancy.tenants import TenantConfig

DEFAULT_GRACE = "24h"
_TARGET = re.compile(r"(?P<carrier>[a-z][a-z0-9_]{0,62})(?:\.(?P<slot>[a-z][a-z0-9_]{0,31}))?")
_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


def parse_duration(text: str) -> timedelta:
    """``30m``, ``24h``, ``7d``, ``1d12h`` … as a timedelta; :class:`CliError` otherwise."""
    value = text.strip().lower()
    if not re.fullmatch(r"(\d+[wdhms])+", value):
        raise CliError(f"invalid duration {text!r} (use e.g. 30m, 24h, 7d)")
    parts: dict[str, int] = {}
    for number, unit in re.findall(r"(\d+)([wdhms])", value):
        parts[_UNITS[unit]] = parts.get(_UNITS[unit], 0) + int(number)
    return timedelta(**parts)


def split_target(target: str) -> tuple[str, str | None]:
    """``CARRIER[.SLOT]`` as ``(carrier, slot)``; :class:`CliError` when malformed."""
    match = _TARGET.fullmatch(target)
    if match is None:
        raise CliError(f"{target!r} is not CARRIER or CARRIER.SLOT (e.g. shippo.hmac)")
    return match["carrier"], match["slot"]


def _shown(value: str, reveal: bool) -> str:
    return value if reveal else mask(value)


@contextmanager
def _user_errors() -> Iterator[None]:
    try:
        yield
    except (KeySetError, LocalStateError, SecretStoreError) as exc:
        raise CliError(str(exc)) from None


def _store(args: argparse.Namespace) -> LocalSecretStore | SecretsManagerStore:
    """The one backend switch: the stack's Secrets Manager with ``--stack``, else local state."""
    if args.stack:
        try:
            return SecretsManagerStore.for_stack(args.stack)
        except ValueError as exc:
            raise CliError(str(exc)) from None
    return LocalSecretStore(Path(args.state_dir))


def _rule(config: TenantConfig, target: str) -> SecretRule:
    """What a value of ``target`` must be; :class:`CliError` unless the tenant's adapter (or
    generic partner) reads that key set, naming the ones it reads (and the closest)."""
    from gateway.carriers.discovery import load_adapters
    from gateway.carriers.generic import build_adapter

    carrier = split_target(target)[0]
    adapter = load_adapters().get(carrier)
    generic = config.carriers[carrier].generic
    if adapter is None and generic is not None:
        adapter = build_adapter(carrier, generic)
    targets = secret_targets(adapter) if adapter is not None else {}
    if target in targets:
        return targets[target]
    if not targets:
        raise CliError(
            f"{carrier} reads no partner secret (a tenant's own systems use API keys: "
            f"waybill keys issue {config.id})"
        )
    close = get_close_matches(target, targets, n=1)
    hint = f"; did you mean {close[0]}?" if close else ""
    raise CliError(f"{carrier} reads no secret {target!r}{hint} (it reads: {', '.join(targets)})")


def _require_target(args: argparse.Namespace) -> SecretRule:
    """The target's rule, once the tenant exists, the base carrier is enabled for it and
    its adapter reads that key set."""
    config = require_tenant(args.tenants_dir, args.tenant)
    require_carrier(config, split_target(args.carrier)[0], args.tenants_dir)
    return _rule(config, args.carrier)


def _check_usable(target: str, rule: SecretRule, value: str) -> None:
    """Refuse a value the adapter could not verify with; the message names the form only."""
    with _user_errors():
        check_value(value)
    if (problem := rule.problem(value)) is not None:
        raise CliError(f"{target} {problem}; nothing was stored")


def _new_value(args: argparse.Namespace, rule: SecretRule) -> str:
    """The new secret (generated, given or read from stdin), refused unless usable."""
    if args.generate:
        value = generate_secret(rule.form)
    elif args.value == "-":
        value = sys.stdin.readline().rstrip("\r\n")
    else:
        value = str(args.value)
    _check_usable(args.carrier, rule, value)
    return value


def _reveal_hint(args: argparse.Namespace) -> str:
    state = "" if args.state_dir == DEFAULT_STATE_DIR else f" --state-dir {args.state_dir}"
    state += f" --stack {args.stack}" if args.stack else ""
    command = f"waybill secrets list {args.tenant} --reveal{state}"
    return f"a new secret was generated; to see it run: {command}"


def _audit(
    args: argparse.Namespace, action: str, target: str, now: datetime, **detail: DetailValue
) -> None:
    append_audit(
        change_log(args),
        actor=current_actor(),
        action=action,
        tenant=args.tenant,
        target=target,
        detail={**detail, "stack": args.stack} if args.stack else detail,
        now=now,
    )


def _set(args: argparse.Namespace) -> int:
    value, now = _new_value(args, _require_target(args)), datetime.now(UTC)
    store = _store(args)
    with _user_errors():
        old = store.get(args.tenant, args.carrier)
        store.set(args.tenant, args.carrier, value, now=now)
    dropped = 0 if old is None else len(old.valid_secrets(now))
    _audit(args, "secret.set", args.carrier, now, generated=args.generate, dropped=dropped)
    print(f"set the secret of {args.tenant}/{args.carrier}: {_shown(value, args.reveal)}")
    if dropped:
        print(
            f"{dropped} earlier secret(s) stopped working now "
            "(use 'waybill secrets rotate' to keep the old one valid for a grace period)"
        )
    if args.generate and not args.reveal:
        print(_reveal_hint(args))
    return 0


def _rotate(args: argparse.Namespace) -> int:
    rule = _require_target(args)
    grace = parse_duration(args.grace)
    value, now = _new_value(args, rule), datetime.now(UTC)
    store = _store(args)
    audit = Auditing(change_log(args), current_actor())
    with _user_errors():
        keyset = rotate_secret(
            store,
            audit,
            args.tenant,
            args.carrier,
            value,
            grace=grace,
            grace_text=args.grace,
            generated=args.generate,
            now=now,
            stack=args.stack,
        )
    valid_previous = len(keyset.unexpired_previous(now))
    print(
        f"rotated the secret of {args.tenant}/{args.carrier}: current {_shown(value, args.reveal)}"
    )
    if keyset.previous:
        until = shown_time(now + grace)
        print(
            f"the old secret stays valid until {until} ({args.grace}); "
            f"{valid_previous} previous secret(s) valid"
        )
    if args.generate and not args.reveal:
        print(_reveal_hint(args))
    return 0


def _print_keyset(keyset: KeySet, now: datetime, reveal: bool) -> None:
    current = keyset.current
    print(f"  current   {_shown(current.value, reveal)}  set {shown_time(current.created_at)}")
    for old in sorted(keyset.previous, key=lambda p: p.created_at, reverse=True):
        state = "valid until" if old.is_valid(now) else "expired"
        print(f"  previous  {_shown(old.value, reveal)}  {state} {shown_time(old.expires_at)}")


def _keyset_json(
    config: TenantConfig, target: str, keyset: KeySet | None, now: datetime, reveal: bool
) -> dict[str, object]:
    """One target as ``list --json`` shows it: values masked as the text shows them."""
    current = previous = None
    if keyset is not None:
        current = {
            "value": _shown(keyset.current.value, reveal),
            "created_at": keyset.current.created_at,
        }
        older = sorted(keyset.previous, key=lambda p: p.created_at, reverse=True)
        previous = [
            {"value": _shown(p.value, reveal), "expires_at": p.expires_at, "valid": p.is_valid(now)}
            for p in older
        ]
    enabled = config.carrier_enabled(target.partition(".")[0])
    return {"target": target, "enabled": enabled, "current": current, "previous": previous or []}


def _list(args: argparse.Namespace) -> int:
    config = require_tenant(args.tenants_dir, args.tenant)
    now = datetime.now(UTC)
    with _user_errors():
        stored = dict(_store(args).list(args.tenant))
    if args.reveal and stored:
        _audit(args, "secret.reveal", ",".join(sorted(stored)), now)
    if args.json:
        targets = sorted(set(config.enabled_carriers()) | set(stored))
        rows = [_keyset_json(config, t, stored.get(t), now, args.reveal) for t in targets]
        print_json({"tenant": args.tenant, "secrets": rows})
        return 0
    for target in sorted(set(config.enabled_carriers()) | set(stored)):
        enabled = config.carrier_enabled(target.partition(".")[0])
        print(target + ("" if enabled else "  (carrier disabled)"))
        keyset = stored.get(target)
        if keyset is None:
            print("  (no secret set)")
        else:
            _print_keyset(keyset, now, args.reveal)
    return 0


def _revoke(args: argparse.Namespace) -> int:
    # The tenant must exist; the carrier may be disabled: revoking only narrows access.
    require_tenant(args.tenants_dir, args.tenant)
    split_target(args.carrier)
    now = datetime.now(UTC)
    store = _store(args)
    with _user_errors():
        before = store.get(args.tenant, args.carrier)
        if before is None:
            raise CliError(f"no secret is set for {args.tenant}/{args.carrier}")
        store.revoke_previous(args.tenant, args.carrier, now=now)
    revoked = len(before.unexpired_previous(now))
    _audit(args, "secret.revoke", args.carrier, now, revoked=revoked)
    print(
        f"revoked {revoked} previous secret(s) of {args.tenant}/{args.carrier}; "
        "only the current secret is valid now"
    )
    return 0


def _add_value_options(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--value", metavar="V", help="the secret ('-' reads one line from stdin)")
    source.add_argument("--generate", action="store_true", help="generate a random secret")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``waybill secrets``."""
    parser = subparsers.add_parser("secrets", help="set, rotate, list and revoke partner secrets")
    actions = parser.add_subparsers(dest="action", required=True)
    set_parser = actions.add_parser("set", help="replace the secret (old ones stop working now)")
    rotate = actions.add_parser(
        "rotate", help="new current secret; the old one expires after --grace"
    )
    list_parser = actions.add_parser("list", help="a tenant's secrets, masked")
    revoke = actions.add_parser("revoke", help="drop every previous secret at once")
    for sub in (set_parser, rotate, list_parser, revoke):
        sub.add_argument("tenant", metavar="TENANT")
        add_state_dir(sub)
        add_tenants_dir(sub)
        sub.add_argument(
            "--stack", metavar="NAME", help="use the stack's Secrets Manager (waybill/NAME/…)"
        )
    for sub in (set_parser, rotate, revoke):
        sub.add_argument("carrier", metavar="CARRIER[.SLOT]", help="e.g. easypost, shippo.hmac")
    for sub in (set_parser, rotate):
        _add_value_options(sub)
    for sub in (set_parser, rotate, list_parser):
        sub.add_argument("--reveal", action="store_true", help="print secret values in full")
    rotate.add_argument(
        "--grace",
        default=DEFAULT_GRACE,
        help="how long the old secret stays valid, e.g. 1h, 7d (default: %(default)s)",
    )
    add_json_option(list_parser)
    set_parser.set_defaults(func=_set)
    rotate.set_defaults(func=_rotate)
    list_parser.set_defaults(func=_list)
    revoke.set_defaults(func=_revoke)
