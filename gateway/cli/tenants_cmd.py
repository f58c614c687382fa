"""``waybill tenants list|show|validate``: read and check the tenant files.

Also home of the ``--tenants-dir`` option and tenant look-ups shared by the
``secrets`` and ``keys`` commands.

Example:
    >>> from gateway.cli import main
    >>> main(["tenants", "validate", "--tenants-dir", "tenants"])
    ok  tenants/demo.toml
    0
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from gateway.cli import CliError
from gateway.cli.output import add_json_option, print_json
from gateway.tenancy.plans import current_plans
from gateway.tenancy.scan import TenantScan, scan_tenants
from gateway.tenancy.tenants import (
    TenantConfig,
    TenantConfigError,
    is_tenant_id,
    load_tenant,
)

DEFAULT_TENANTS_DIR = "tenants"


def add_tenants_dir(parser: argparse.ArgumentParser) -> None:
    """The ``--tenants-dir`` option of every command that reads tenant files."""
    parser.add_argument(
        "--tenants-dir",
        default=DEFAULT_TENANTS_DIR,
        help=f"directory of tenant files (default: {DEFAULT_TENANTS_DIR})",
    )


def check_tenant_id(tenant_id: str) -> str:
    """The id if well-formed, else :class:`CliError`."""
    if not is_tenant_id(tenant_id):
        raise CliError(f"{tenant_id!r} is not a valid tenant id")
    return tenant_id


def require_tenant(tenants_dir: str, tenant_id: str) -> TenantConfig:
    """The tenant's config, or a :class:`CliError` saying why there is none."""
    check_tenant_id(tenant_id)
    try:
        config = load_tenant(Path(tenants_dir), tenant_id)
    except TenantConfigError as exc:
        raise CliError(str(exc)) from None
    if config is None:
        raise _unknown_tenant(tenants_dir, tenant_id)
    return config


def _unknown_tenant(tenants_dir: str, tenant_id: str, more: str = "") -> CliError:
    return CliError(f"unknown tenant {tenant_id!r} (no {Path(tenants_dir) / tenant_id}.toml{more})")


def require_known_tenant(tenants_dir: str, tenant_id: str, *, found: bool) -> None:
    """For commands that still reach a removed tenant's data (``erase``, ``audit``, ``keys
    list``): the tenant is known by its file (valid or not) or by what was ``found`` for
    it; else :class:`CliError`, so a typo (``dmeo``) never reads as an empty success."""
    check_tenant_id(tenant_id)
    if not found and not (Path(tenants_dir) / f"{tenant_id}.toml").is_file():
        raise _unknown_tenant(tenants_dir, tenant_id, ", and nothing was found for it")


def require_carrier(config: TenantConfig, carrier: str, tenants_dir: str) -> str:
    """The carrier id if enabled for the tenant, else :class:`CliError`."""
    if not config.carrier_enabled(carrier):
        enabled = ", ".join(config.enabled_carriers()) or "none"
        raise CliError(
            f"carrier {carrier!r} is not enabled for tenant {config.id!r} "
            f"(see {Path(tenants_dir) / config.id}.toml; enabled: {enabled})"
        )
    return carrier


def _summary(config: TenantConfig) -> dict[str, Any]:
    """A tenant as ``list --json`` shows it."""
    fields = ("id", "name", "plan", "retention_days")
    return {name: getattr(config, name) for name in fields} | {
        "carriers": config.enabled_carriers()
    }


def scan(tenants_dir: str) -> TenantScan:
    """Every tenant file read, each invalid one printed to stderr (``invalid  <file>: …``);
    :class:`CliError` when the directory is missing."""
    try:
        found = scan_tenants(Path(tenants_dir))
    except TenantConfigError as exc:
        raise CliError(str(exc)) from None
    for problem in found.problems:
        print(f"invalid  {problem}", file=sys.stderr)
    return found


def valid_tenants(tenants_dir: str) -> dict[str, TenantConfig]:
    """Every valid tenant by id, each invalid file named on stderr and left out: what a
    report over all tenants (``pollers status``, ``costs``) uses, so one bad file does not
    hide the others."""
    return {config.id: config for config in scan(tenants_dir).valid.values()}


def refuse_invalid_tenants(tenants_dir: str) -> None:
    """What ``waybill serve`` checks before it starts: every tenant file valid, or a
    :class:`CliError` after each bad file was named (file and field)."""
    found = scan(tenants_dir)
    if not found.ok:
        raise CliError(
            f"{len(found.problems)} invalid tenant file(s) in {tenants_dir} (above); "
            "fix them and start again (check with: waybill tenants validate)"
        )


def _list(args: argparse.Namespace) -> int:
    """The valid tenants, one line each; exit 1 when a file is invalid (named on stderr)."""
    found = scan(args.tenants_dir)
    tenants = {config.id: config for config in found.valid.values()}
    status = 0 if found.ok else 1
    if args.json:
        print_json({"tenants": [_summary(config) for config in tenants.values()]})
        return status
    if not tenants:
        print(f"no tenants in {args.tenants_dir}")
    for config in tenants.values():
        carriers = ", ".join(config.enabled_carriers()) or "-"
        print(
            f"{config.id}  {config.name}  plan={config.plan}  "
            f"retention={config.retention_days}d  carriers={carriers}"
        )
    return status


def _show(args: argparse.Namespace) -> int:
    config = require_tenant(args.tenants_dir, args.tenant)
    data: dict[str, Any] = config.model_dump(mode="json")
    if args.json:  # the file as validated (no secrets live there), and the plan's limits
        tier = current_plans().get(config.plan)
        print_json(data | {"limits": tier.model_dump(mode="json") if tier else None})
        return 0
    print(f"id:             {data['id']}")
    print(f"name:           {data['name']}")
    print(f"plan:           {data['plan']}")
    if (tier := current_plans().get(config.plan)) is not None:
        print(f"limits:         {tier.describe()}")
    print(f"retention_days: {data['retention_days']}")
    print("carriers:")
    for carrier, options in sorted(config.carriers.items()):
        state = "enabled" if options.enabled else "disabled"
        extra = "".join(f"  {k}={v!r}" for k, v in sorted(options.options.items()))
        if (polling := options.polling) is not None:
            where = f" via {polling.api_base_url}" if polling.api_base_url else ""
            extra += f"  polled: {polling.daily_budget}/day{where}"
        print(f"  {carrier}  {state}{extra}")
    return 0


def _validate(args: argparse.Namespace) -> int:
    """Every file: ``ok`` on stdout or ``invalid`` on stderr; exit 1 if any is invalid."""
    found = scan(args.tenants_dir)
    for path in found.valid:
        print(f"ok  {path}")
    if found.ok and not found.valid:
        print(f"no tenant files in {args.tenants_dir}")
    return 0 if found.ok else 1


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``waybill tenants``."""
    parser = subparsers.add_parser("tenants", help="list, show and validate tenant files")
    actions = parser.add_subparsers(dest="action", required=True)
    list_parser = actions.add_parser("list", help="one line per tenant")
    list_parser.set_defaults(func=_list)
    show = actions.add_parser("show", help="one tenant in full")
    show.add_argument("tenant", metavar="ID")
    show.set_defaults(func=_show)
    validate = actions.add_parser("validate", help="check every tenant file; non-zero if any fails")
    validate.set_defaults(func=_validate)
    for sub in (list_parser, show, validate):
        add_tenants_dir(sub)
    for sub in (list_parser, show):
        add_json_option(sub)
