"""``waybill listen --tenant T [--types …]``: see a tenant's notifications as they are sent.

Like ``stripe listen``: starts a receiver on 127.0.0.1 (a free port), registers it as an
endpoint of the tenant on the running ``waybill serve`` (same ``--state-dir``), verifies
each message's signature with Waybill's own Standard Webhooks verifier (401 when it does
not verify: the server retries it) and prints one line per message. The endpoint is
removed on exit: Ctrl-C, SIGTERM, or a receiver that fails.

Example:
    $ waybill listen --tenant demo
    Ready: demo's shipment.status_changed, shipment.event_added → http://127.0.0.1:40123/ …
    2026-06-01T12:00:00Z  shipment.status_changed  EZ1000000001  in_transit → delivered  verified
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from gateway.cli import CliError, add_state_dir, shown_time
from gateway.cli.endpoints_cmd import running, user_errors
from gateway.cli.tenants_cmd import add_tenants_dir, require_tenant
from gateway.local.listener import Heard, Listener
from gateway.notify.endpoints import MESSAGE_TYPES, STATUS_CHANGED


def line(heard: Heard) -> str:
    """What ``listen`` prints for one request.

    >>> from datetime import UTC, datetime
    >>> at = datetime(2026, 6, 1, 12, tzinfo=UTC)
    >>> line(Heard(at, "msg_1", True, 2, STATUS_CHANGED, "EZ1", "delivered", "in_transit"))
    '2026-06-01T12:00:00Z  shipment.status_changed  EZ1  in_transit → delivered  verified  retry 1'
    >>> line(Heard(at, "msg_2", False, refusal="signature_mismatch: no signature matched"))
    '2026-06-01T12:00:00Z  refused msg_2: signature_mismatch: no signature matched'
    """
    when = shown_time(heard.at)
    if not heard.verified:
        return f"{when}  refused {heard.message_id or '(no webhook-id)'}: {heard.refusal}"
    if heard.type == STATUS_CHANGED:
        status = f"{heard.previous_status or 'new'} → {heard.status or '-'}"
    else:  # an event added: its own status, then the shipment's
        status = f"{heard.event_status or '-'} (shipment {heard.status or '-'})"
    text = f"{when}  {heard.type or '?':<23}  {heard.tracking_number or '-'}  {status}  verified"
    return text + (f"  retry {heard.attempt - 1}" if heard.attempt > 1 else "")


@contextmanager
def stopped_by_sigterm(stop: threading.Event) -> Iterator[None]:
    """SIGTERM sets ``stop`` while inside (main thread only; elsewhere nothing changes)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_term(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run(args: argparse.Namespace) -> int:
    """Receive, register, print until stopped; remove the endpoint whatever happens."""
    from gateway.notify.service import EndpointSpec

    require_tenant(args.tenants_dir, args.tenant)
    services = running(args)
    notifications = services.notifications
    if not notifications.notifier.policy.allow_insecure:
        raise CliError("the running server takes https endpoints only (--https-endpoints-only)")
    types = tuple(args.types or MESSAGE_TYPES)
    stop = threading.Event()
    printing = threading.Lock()  # messages arrive on several threads: one whole line each

    def report(heard: Heard) -> None:
        with printing:
            print(line(heard), flush=True)

    listener = Listener(report)
    listener.start()
    try:
        spec = EndpointSpec(
            url=listener.url, description=f"waybill listen (pid {os.getpid()})", types=types
        )
        with user_errors(args.state_dir):
            endpoint, listener.secret = notifications.create_endpoint(args.tenant, spec)
        try:
            print(
                f"Ready: {args.tenant}'s {', '.join(types)} → {listener.url} "
                f"(endpoint {endpoint.id}, removed on exit). Ctrl-C to stop.",
                flush=True,
            )
            with stopped_by_sigterm(stop):
                while not stop.wait(0.2) and not listener.stopped.is_set():
                    pass
        except KeyboardInterrupt:
            pass
        finally:
            with user_errors(args.state_dir):
                notifications.delete_endpoint(args.tenant, endpoint.id)
            services.pipeline.audit.flush(final=True)
            print(f"removed endpoint {endpoint.id}", flush=True)
    finally:
        listener.stop()
    if listener.error is not None:
        raise CliError(f"the receiver failed: {type(listener.error).__name__}: {listener.error}")
    return 0


def register(subparsers: Any) -> None:
    """Add the ``listen`` command."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "listen", help="receive a tenant's notifications here and print them, verified"
    )
    parser.add_argument("--tenant", required=True, help="tenant id")
    parser.add_argument(
        "--types", nargs="+", choices=MESSAGE_TYPES, help="message types (default: both)"
    )
    add_state_dir(parser)
    add_tenants_dir(parser)
    parser.set_defaults(func=run)
