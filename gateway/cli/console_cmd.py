"""``waybill console credential [--reset]``: the ops console's credential; and what
``waybill serve`` uses to mount the console.

The credential is made by the first ``waybill serve`` of a state dir and printed once;
it is stored as its SHA-256 only (``<state_dir>/console_credential.json``, mode 0600).
``--reset`` makes a new one, printed alone on stdout (notes go to stderr, so
``CRED=$(waybill console credential --reset)`` works): the old one and every console
session end at once, even in a running server. Resets are audited (never the value).

With ``--stack NAME`` the credential is the stack's on AWS: only its digest record is
put in the secret ``waybill/NAME/ops_console/credential`` (which the console function
reads); the reset is audited in the stack's table (``waybill audit - --stack NAME``).

Example:
    $ waybill console credential --reset
    wbops_…
    $ waybill console credential --reset --stack prod
    wbops_…
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gateway.audit.changes import NO_TENANT, append_audit, current_actor
from gateway.cli import CliError, add_state_dir
from gateway.cli.tables import change_log
from gateway.console.credential import (
    CREDENTIAL_FILE,
    ensure_credential,
    new_credential,
    reset_credential,
)

if TYPE_CHECKING:
    from gateway.console.app import Console
    from gateway.services import Services


def is_loopback(host: str) -> bool:
    """Whether ``serve --host`` listens on loopback only (then cookies need no ``Secure``).

    >>> is_loopback("127.0.0.1"), is_loopback("::1"), is_loopback("localhost")
    (True, True, True)
    >>> is_loopback("0.0.0.0"), is_loopback("192.168.1.9")
    (False, False)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def mount_console(
    services: Services, state_dir: Path, tenants_dir: Path, host: str
) -> tuple[Console, str | None]:
    """The console for ``waybill serve``, and the credential's plaintext when this serve
    made it (the first one of the state dir), else None."""
    from gateway.console.app import Console, ConsoleConfig

    plaintext = ensure_credential(state_dir)
    config = ConsoleConfig(state_dir, tenants_dir, secure_cookie=not is_loopback(host))
    return Console(services, config), plaintext


def console_banner(url: str, plaintext: str | None, state_dir: Path) -> str:
    """What ``serve`` prints about the console once it listens."""
    lines = [f"Ops console on {url}/console/"]
    if plaintext is not None:
        lines.append(
            f"  ops credential (shown once; stored hashed in {state_dir / CREDENTIAL_FILE}): "
            f"{plaintext}"
        )
    else:
        lines.append(
            "  log in with the ops credential the first serve printed; "
            f"a new one: waybill console credential --reset --state-dir {state_dir}"
        )
    return "\n".join(lines)


def _stored(args: argparse.Namespace) -> tuple[str | None, str]:
    """The stored record (None: none), and where it is."""
    if args.stack:
        from gateway.aws.secret_store import read_console_credential

        where = f"stack {args.stack}"
        with _aws_errors():
            return read_console_credential(args.stack), where
    path = Path(args.state_dir) / CREDENTIAL_FILE
    try:
        return path.read_text(), str(args.state_dir)
    except OSError:
        return None, str(args.state_dir)


def _reset(args: argparse.Namespace) -> str:
    """A new credential, its digest stored locally or in the stack's secret; its plaintext."""
    if not args.stack:
        return reset_credential(Path(args.state_dir))
    from gateway.aws.secret_store import put_console_credential

    plaintext, record = new_credential()
    with _aws_errors():
        put_console_credential(args.stack, record)
    return plaintext


@contextmanager
def _aws_errors() -> Iterator[None]:
    from gateway.aws.secret_store import SecretStoreError

    try:
        yield
    except (SecretStoreError, ValueError) as exc:
        raise CliError(str(exc)) from None


def _credential(args: argparse.Namespace) -> int:
    if not args.reset:
        text, where = _stored(args)
        try:
            record = json.loads(text or "")
        except ValueError:
            record = None
        if not isinstance(record, dict):
            first = "set one with --reset" if args.stack else "the first `waybill serve` makes one"
            print(f"no ops credential in {where} ({first})")
            return 1
        print(f"an ops credential exists, made {record.get('created_at', '?')} (never shown)")
        return 0
    plaintext = _reset(args)
    from datetime import UTC, datetime

    append_audit(
        change_log(args),
        actor=current_actor(),
        action="console.credential.reset",
        tenant=NO_TENANT,
        target="ops",
        detail={"stack": args.stack} if args.stack else None,
        now=datetime.now(UTC),
    )
    print("a new ops credential; the old one and every console session end now:", file=sys.stderr)
    print(plaintext)
    print("store it now: it will not be shown again", file=sys.stderr)
    return 0


def register(subparsers: Any) -> None:
    """Add ``waybill console``."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "console", help="the ops console's credential"
    )
    actions = parser.add_subparsers(dest="action", required=True)
    credential = actions.add_parser(
        "credential", help="whether an ops credential exists; --reset makes a new one"
    )
    credential.add_argument(
        "--reset", action="store_true", help="make a new credential (printed once)"
    )
    add_state_dir(credential)
    credential.add_argument(
        "--stack",
        metavar="NAME",
        help="the stack's credential (its digest in waybill/NAME/ops_console/credential)",
    )
    credential.set_defaults(func=_credential)
