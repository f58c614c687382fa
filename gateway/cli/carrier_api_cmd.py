"""``waybill carrier-api``: the loopback carrier API in the foreground, for demos.

Serves the UPS, FedEx, EasyPost, 17TRACK and Ship24 tracking APIs on 127.0.0.1 (each under
its adapter id: ``http://127.0.0.1:8099/ups`` is a tenant's ``api_base_url`` for UPS), with
three demo numbers per carrier that advance one status every ``--step-seconds``. It prints
the base URLs, the TEST credentials to store with ``waybill secrets set demo <carrier>.api``
and the numbers, then one line per status change. Ctrl-C stops it.

Example:
    $ waybill carrier-api --step-seconds 30
    Loopback carrier API on http://127.0.0.1:8099 (test credentials only). Ctrl-C to stop.
    …
    2026-06-01T12:00:30Z  ups  1ZDEMO000000000001  info_received → in_transit
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import threading
from datetime import UTC, datetime
from typing import Any, TextIO

from gateway.cli import CliError, shown_time
from gateway.models import Status
from gateway.testkit.carrier_api import CarrierApi, DemoShipment, add_demo


def banner(api: CarrierApi, shipments: list[DemoShipment], step_seconds: float) -> list[str]:
    """What is printed at start: base URLs, the secrets to set, the demo numbers."""
    lines = [
        f"Loopback carrier API on {api.url} (test credentials only). Ctrl-C to stop.",
        f"Demo shipments advance one status every {step_seconds:g}s "
        "(info_received → in_transit → out_for_delivery → delivered).",
    ]
    for carrier in dict.fromkeys(s.carrier for s in shipments):
        lines += [
            "",
            f"{carrier:<15} api_base_url {api.base_url(carrier)}",
            f"  waybill secrets set demo {carrier}.api --value {api.slot_value(carrier)}",
        ]
        for shipment in shipments:
            if shipment.carrier == carrier:
                status = api.current_status(carrier, shipment.tracking_number)
                lines.append(f"  {shipment.tracking_number:<20} {status}")
    return lines


def watch(
    api: CarrierApi, shipments: list[DemoShipment], stop: threading.Event, out: TextIO
) -> None:
    """Print one line per demo status change until ``stop`` is set."""
    seen: dict[DemoShipment, Status | None] = {
        s: api.current_status(s.carrier, s.tracking_number) for s in shipments
    }
    while not stop.wait(0.2):
        for shipment, before in seen.items():
            now = api.current_status(shipment.carrier, shipment.tracking_number)
            if now != before:
                seen[shipment] = now
                when = shown_time(datetime.fromtimestamp(api.clock(), UTC))
                line = f"{shipment.carrier}  {shipment.tracking_number}  {before} → {now}"
                print(f"{when}  {line}", file=out, flush=True)


def run(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C."""
    if args.step_seconds <= 0:
        raise CliError("--step-seconds must be positive")
    try:
        api = CarrierApi(host=args.host, port=args.port)
    except (ValueError, OSError) as exc:
        raise CliError(f"cannot serve on {args.host}:{args.port}: {exc}") from exc
    with api:
        shipments = add_demo(api, step_seconds=args.step_seconds)
        print("\n".join(banner(api, shipments, args.step_seconds)), flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            watch(api, shipments, threading.Event(), sys.stdout)
    print("carrier API stopped", flush=True)
    return 0


def register(subparsers: Any) -> None:
    """Add the ``carrier-api`` command."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "carrier-api", help="serve simulated carrier tracking APIs on loopback, with demo numbers"
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8099, help="port (0 picks a free one)")
    parser.add_argument(
        "--step-seconds", type=float, default=60.0, help="seconds between demo status steps"
    )
    parser.set_defaults(func=run)
