"""``waybill serve``: the local gateway on one machine: DynamoDB Local, the HTTP edge, and
the threads that read the table's stream (notifications) and sweep due retries.

Example:
    $ waybill serve --port 8080
    Waybill listening on http://127.0.0.1:8080 (DynamoDB Local at http://127.0.0.1:41873,
    data in .waybill/dynamodb)

Ctrl-C (or SIGTERM) stops the HTTP server first, then DynamoDB Local.

One server per state dir: ``serve`` holds its lock (:mod:`gateway.local.ownership`) for
its lifetime, and a second one on the same dir is refused with the first one's pid and
URL, ``--in-memory`` included (the state dir also holds the secrets, the API keys and
``serve.json``, which ops commands follow: give a second server its own ``--state-dir``).
DynamoDB Local dies with the server, even on ``kill -9``; one left by a server that died
before that guard existed, or elsewhere, is stopped at the next start (logged).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from gateway.cli import CliError, add_state_dir
from gateway.cli.console_cmd import console_banner, mount_console
from gateway.cli.tenants_cmd import refuse_invalid_tenants


def register(subparsers: Any) -> None:
    """Add the ``serve`` command."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "serve", help="run the local gateway (DynamoDB Local + HTTP server)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8080, help="port (0 picks a free one)")
    add_state_dir(parser)
    parser.add_argument(
        "--in-memory",
        action="store_true",
        help="keep DynamoDB Local data in memory (lost on exit) instead of the state dir "
        "(whose secrets, keys and serve.json are still this server's alone)",
    )
    parser.add_argument(
        "--tenants-dir", default="tenants", help="directory of tenant files (default: tenants)"
    )
    parser.add_argument(
        "--https-endpoints-only",
        action="store_true",
        help="refuse http and private-address notification endpoints, as deployed stacks do",
    )
    parser.add_argument(
        "--retry-scale",
        type=float,
        default=1.0,
        help="multiply the notification retry delays (tests and demos: 0.001 turns 5 min "
        "into 0.3 s)",
    )
    parser.add_argument(
        "--poll-interval",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="how often the poller wakes to check the trackers that are due (default 60)",
    )
    parser.add_argument(
        "--log-format",
        choices=("human", "json"),
        default="human",
        help="human: one short line per request (default); json: the structured logs and EMF "
        "metrics the Lambda prints on AWS",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Start DynamoDB Local, serve until Ctrl-C or SIGTERM, then stop both in order."""
    from gateway.local.dynamodb_local import DynamoDBLocal, DynamoDBLocalError
    from gateway.local.logs import local_logging
    from gateway.local.runtime import (
        DYNAMODB_PID_FILE,
        claim_state_dir,
        clear_runtime,
        write_runtime,
    )
    from gateway.local.server import build_asgi_app, run_server
    from gateway.local.wiring import background, build_local_gateway
    from gateway.store.table import DEFAULT_TABLE_NAME

    refuse_invalid_tenants(args.tenants_dir)  # before anything starts: file and field named
    state_dir = Path(args.state_dir)
    owner = claim_state_dir(state_dir)  # held until this process ends
    data_dir = None if args.in_memory else state_dir / "dynamodb"
    pid_file = state_dir / DYNAMODB_PID_FILE
    ddb = DynamoDBLocal(in_memory=args.in_memory, data_dir=data_dir, pid_file=pid_file)
    try:
        ddb.start()
    except DynamoDBLocalError as exc:
        owner.release()
        raise CliError(str(exc)) from None
    try:
        if not 0 < args.retry_scale <= 1:
            raise CliError("--retry-scale is a factor in (0, 1]")
        if not 0.05 <= args.poll_interval <= 86_400:
            raise CliError("--poll-interval is a number of seconds from 0.05 to 86400")
        gateway = build_local_gateway(
            state_dir=state_dir,
            endpoint_url=ddb.endpoint_url,
            tenants_dir=Path(args.tenants_dir),
            allow_insecure_endpoints=not args.https_endpoints_only,
            retry_scale=args.retry_scale,
        )
        workers = background(
            gateway,
            ddb.endpoint_url,
            None if args.in_memory else state_dir,
            poll_every=args.poll_interval,
        )
        workers.start()
        console, credential = mount_console(
            gateway.services, state_dir, Path(args.tenants_dir), args.host
        )
        app = build_asgi_app(
            gateway.handler,
            gateway.resolve_api_key,
            admit=gateway.admit,
            admit_route=gateway.admit_route,
            console=console,
        )
        data = "in memory" if data_dir is None else f"in {data_dir}"

        listening: list[str] = []

        def announce(url: str) -> None:
            listening.append(url)
            write_runtime(
                owner,
                url=url,
                dynamodb_endpoint=ddb.endpoint_url,
                table_name=DEFAULT_TABLE_NAME,
                allow_insecure_endpoints=not args.https_endpoints_only,
                retry_scale=args.retry_scale,
            )
            print(
                f"Waybill listening on {url} (DynamoDB Local at {ddb.endpoint_url}, data {data})",
                flush=True,
            )
            print(console_banner(url, credential, state_dir), flush=True)

        try:
            with local_logging(args.log_format):
                run_server(app, args.host, args.port, on_ready=announce)
        except OSError as exc:
            if listening:
                raise
            raise CliError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
        finally:
            workers.stop()
            if gateway.services.limits is not None:  # counts kept by a failed write
                gateway.services.limits.flush()
            gateway.services.pipeline.audit.flush(final=True)  # the last open count windows
    finally:
        clear_runtime(owner)
        ddb.stop()
        owner.release()
    return 0
