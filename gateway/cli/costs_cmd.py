"""``waybill costs [--month YYYY-MM] [--stack NAME] [--json]``: a month's modeled AWS cost
per tenant.

Reads each tenant's counted windows for the month (``gateway/costs/counts.py``: 8
Queries a day, never a Scan; its docstring gives the read cost) from the DynamoDB Local of
a running ``waybill serve`` (same ``--state-dir``), or with ``--stack NAME`` from the
stack's table ``waybill-NAME`` (``infra/table.py``) with the default AWS credentials,
and prices them as the deployed edge would bill them (``gateway/costs``).

**How close to the bill.** Per request, within the benchmark's error: the outcome's
measured write and read units, modeled Lambda milliseconds and log bytes
(``gateway/costs/shape.py``) at list prices; storage is the month's new items kept for
90 days, not the table's size this month. Shared costs (X-Ray traces, metrics, alarms,
the KMS key, WAF's web ACL) are spread by share of requests, not by who caused them.
Not counted: ``/v1`` reads (no window records them; on AWS the usage plan counts them),
notifications and polling, requests API Gateway refused before the code ran (404, 429 at
the route), a delivery counted twice when it was both stored in part and parked, the
window items' own writes, free tiers and taxes. It is an attribution, not an invoice:
Cost Explorer has the bill.

Example:
    >>> parse_month("2026-02")
    '2026-02'
"""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.cli import CliError, add_state_dir
from gateway.cli.output import add_json_option, print_json
from gateway.cli.tables import running_table, stack_table
from gateway.cli.tenants_cmd import add_tenants_dir, valid_tenants
from gateway.costs.attribution import TenantCost, month_costs
from gateway.costs.model import NEW_EDGE
from gateway.costs.prices import load_price_table

KINDS = ("accepted", "duplicate", "ignored", "parked", "refused")
REFUSED = ("rejected", "throttled", "failed")


def parse_month(text: str) -> str:
    """``YYYY-MM`` with a month from 01 to 12, else a :class:`CliError`."""
    match = re.fullmatch(r"(\d{4})-(\d{2})", text.strip())
    if not match or not 1 <= int(match[2]) <= 12:
        raise CliError(f"invalid --month {text!r} (YYYY-MM, e.g. 2026-11)")
    return f"{match[1]}-{match[2]}"


def _table(args: argparse.Namespace) -> tuple[Any, str]:
    if args.stack:
        return stack_table(args.stack)
    from gateway.local.runtime import ServerNotRunningError

    try:
        return running_table(Path(args.state_dir))
    except ServerNotRunningError as exc:
        raise CliError(f"{exc} (or read a deployed stack's with --stack NAME)") from None


def kinds(cost: TenantCost) -> dict[str, int]:
    """Requests by kind: the stored outcomes, and the refusals together."""
    shown = {kind: cost.requests.get(kind, 0) for kind in KINDS[:-1]}
    return shown | {"refused": sum(cost.requests.get(o, 0) for o in REFUSED)}


def as_json(month: str, costs: list[TenantCost]) -> dict[str, Any]:
    """The ``--json`` document."""
    table = load_price_table()
    return {
        "month": month,
        "edge": NEW_EDGE.name,
        "prices": {"region": table.region, "as_of": table.as_of, "currency": table.currency},
        "tenants": [
            {
                "tenant": c.tenant,
                "requests": kinds(c),
                "variable_usd": c.variable,
                "shared_usd": c.shared,
                "fixed_usd": c.fixed,
                "total_usd": c.total,
                "share": c.share,
            }
            for c in costs
        ],
        "total_usd": sum(c.total for c in costs),
    }


def table_lines(month: str, costs: list[TenantCost]) -> list[str]:
    """The table: one line per tenant, most expensive first, and the total."""
    head = f"{'tenant':<16}" + "".join(f"{k:>11}" for k in KINDS)
    head += f"{'$ variable':>12}{'$ shared':>10}{'$ fixed':>10}{'$ total':>10}{'share':>8}"
    lines = [f"modeled AWS cost, {month}, {NEW_EDGE.name}", head]
    for c in costs:
        counts = "".join(f"{n:>11,}" for n in kinds(c).values())
        lines.append(
            f"{c.tenant:<16}{counts}{c.variable:>12.2f}{c.shared:>10.2f}{c.fixed:>10.2f}"
            f"{c.total:>10.2f}{c.share:>8.1%}"
        )
    pad = 11 * len(KINDS) + 32
    lines.append(f"{'total':<16}{'':>{pad}}{sum(c.total for c in costs):>10.2f}")
    return lines


def run(args: argparse.Namespace) -> int:
    """Attribute the month's modeled cost to every tenant and print it."""
    month = parse_month(args.month) if args.month else datetime.now(UTC).strftime("%Y-%m")
    tenants = valid_tenants(args.tenants_dir)
    client, name = _table(args)
    costs = month_costs(client, name, tenants, month)
    if args.json:
        print_json(as_json(month, costs))
    else:
        print("\n".join(table_lines(month, costs)))
    return 0


def register(subparsers: Any) -> None:
    """Add the ``costs`` command."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "costs", help="a month's modeled AWS cost per tenant, from the counted windows"
    )
    parser.add_argument("--month", metavar="YYYY-MM", help="UTC month (default: this one)")
    parser.add_argument("--stack", metavar="NAME", help="read the stack's table on AWS")
    add_json_option(parser)
    add_state_dir(parser)
    add_tenants_dir(parser)
    parser.set_defaults(func=run)
