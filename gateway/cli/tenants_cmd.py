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
from gateway.tenancy.plans import current_plans
from gateway.tenancy.tenants import (
    TenantConfig,
    TenantConfigError,
    is_tenant_id,
    load_tenant,
    load_tenant_file,
    load_tenants,
    tenant_files,
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
        raise CliError(f"unknown tenant {tenant_id!r} (no {Path(tenants_dir) / tenant_id}.toml)")
    return config


def require_carrier(config: TenantConfig, carrier: str, tenants_dir: str) -> str:
    """The carrier id if enabled for the tenant, else :class:`CliError`."""
    if not config.carrier_enabled(carrier):
        enabled = ", ".join(config.enabled_carriers()) or "none"
        raise CliError(
            f"carrier {carrier!r} is not enabled for tenant {config.id!r} "
            f"(see {Path(tenants_dir) / config.id}.toml; enabled: {enabled})"
        )
    return carrier


def _list(args: argparse.Namespace) -> int:
    try:
        tenants = load_tenants(Path(args.tenants_dir))
    except TenantConfigError as exc:
        raise CliError(str(exc)) from None
    if not tenants:
        print(f"no tenants in {args.tenants_dir}")
    for config in tenants.values():
        carriers = ", ".join(config.enabled_carriers()) or "-"
        print(
            f"{config.id}  {config.name}  plan={config.plan}  "
            f"retention={config.retention_days}d  carriers={carriers}"
        )
    return 0


def _show(args: argparse.Namespace) -> int:
    config = require_tenant(args.tenants_dir, args.tenant)
    data: dict[str, Any] = config.model_dump(mode="json")
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
    try:
        paths = tenant_files(Path(args.tenants_dir))
    except TenantConfigError as exc:
        raise CliError(str(exc)) from None
    failures = 0
    for path in paths:
        try:
            load_tenant_file(path)
        except TenantConfigError as exc:
            failures += 1
            print(f"invalid  {exc}", file=sys.stderr)
        else:
            print(f"ok  {path}")
    if not paths:
        print(f"no tenant files in {args.tenants_dir}")
    return 1 if failures else 0


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
