"""``waybill tail [TENANT] [--outcome X …] [--json] [--for SECONDS] [--count N]``: follow
deliveries live, as the table records them.

Reads the stream of the table of the running ``waybill serve`` (same ``--state-dir``)
from now on, as a second reader beside the server's own (:mod:`gateway.local.tail` says
what each line comes from): stored events per delivery with their tracking numbers,
parked deliveries with their reason, and the counted windows of what stores nothing
(duplicates, refusals, throttling). Latency is not on the stream: each request's is on
``serve``'s own line. Until Ctrl-C or SIGTERM; ``--for`` and ``--count`` bound it.

On AWS the same reader works on the stack's table stream (``dynamodbstreams``: describe,
iterator, records; the notifier's event source mapping is its first reader, tail would be
the second of the two a shard serves well); per-request latency there is in the ingest
function's ``OutcomeLog`` lines (CloudWatch Logs Live Tail).

Example:
    $ waybill tail demo
    14:02:11Z  demo  easypost  accepted  events  EZ1000000001  9 events, delivered
    14:02:15Z  demo  easypost  parked    ParseError: Event has no result
    14:02:00Z  demo  easypost  rejected  signature_mismatch  1 so far this minute
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path
from typing import Any

from gateway.audit.outcomes import OUTCOMES
from gateway.cli import CliError, add_state_dir
from gateway.cli.listen_cmd import stopped_by_sigterm
from gateway.cli.tenants_cmd import add_tenants_dir, require_tenant

TAILED = tuple(outcome for outcome in OUTCOMES if outcome != "endpoint")
IDLE_PAUSE = 0.2  # seconds between reads of a quiet stream


def register(subparsers: Any) -> None:
    """Add the ``tail`` command."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "tail", help="follow deliveries live: stored events, parkings, refusals (counted)"
    )
    parser.add_argument("tenant", nargs="?", metavar="TENANT", help="only this tenant's")
    parser.add_argument(
        "--outcome", action="append", choices=TAILED, help="only this outcome (repeatable)"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument(
        "--for", dest="seconds", type=float, metavar="SECONDS", help="stop after SECONDS"
    )
    parser.add_argument("--count", type=int, metavar="N", help="stop after N lines")
    add_state_dir(parser)
    add_tenants_dir(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print each line that passes the filters until stopped; exit 0."""
    from botocore.exceptions import BotoCoreError, ClientError

    from gateway.local.runtime import running_server
    from gateway.local.streams import StreamReader
    from gateway.local.tail import Seen, Tail, wanted
    from gateway.local.wiring import local_dynamodb, local_streams

    if args.tenant is not None:
        require_tenant(args.tenants_dir, args.tenant)
    if args.seconds is not None and not 0 < args.seconds <= 86_400:
        raise CliError("--for is a number of seconds from 0 to 86400")
    if args.count is not None and args.count < 1:
        raise CliError("--count is a number of lines, at least 1")
    server = running_server(Path(args.state_dir))
    endpoint = server["dynamodb_endpoint"]
    read: list[Any] = []
    reader = StreamReader(
        local_dynamodb(endpoint), local_streams(endpoint), server["table"], read.extend
    )
    deadline = None if args.seconds is None else time.monotonic() + args.seconds
    lines, stop = Tail(), threading.Event()
    shown = 0

    def show(found: list[Seen]) -> bool:
        """Print what passes the filters; whether ``--count`` is reached."""
        nonlocal shown
        for seen in (seen for seen in found if wanted(seen, args.tenant, args.outcome)):
            print(seen.json() if args.json else seen.line(), flush=True)
            shown += 1
            if args.count is not None and shown >= args.count:
                return True
        return False

    try:
        reader.skip_to_latest()
        whose = f"{args.tenant}'s" if args.tenant else "every tenant's"
        print(f"Following {whose} deliveries (Ctrl-C to stop)", file=sys.stderr, flush=True)
        with stopped_by_sigterm(stop):
            while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
                read.clear()
                handled = reader.poll()
                if show(lines.feed(read)):
                    return 0
                if not handled:
                    left = IDLE_PAUSE if deadline is None else deadline - time.monotonic()
                    stop.wait(max(0.0, min(IDLE_PAUSE, left)))
    except KeyboardInterrupt:
        pass
    except (BotoCoreError, ClientError) as exc:
        raise CliError(
            f"lost the server's DynamoDB Local ({type(exc).__name__}); is `waybill serve` "
            f"still running with --state-dir {args.state_dir}?"
        ) from None
    show(lines.flush())
    return 0
