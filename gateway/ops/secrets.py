"""Partner secret rotation (``waybill secrets rotate`` and the console's rotate)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from gateway.carriers.adapter import Adapter
from gateway.carriers.discovery import load_adapters
from gateway.carriers.generic import build_adapter
from gateway.carriers.secret_slots import secret_targets
from gateway.ops.audit import Auditing
from gateway.signing.secret_rules import SecretRule
from gateway.tenancy.keysets import KeySet
from gateway.tenancy.tenants import TenantConfig


class RotatingStore(Protocol):
    """A secret store that rotates (local state, or the stack's Secrets Manager)."""

    def rotate(
        self, tenant: str, carrier: str, value: str, *, now: datetime, grace: timedelta
    ) -> KeySet: ...


def _adapter(config: TenantConfig, carrier: str) -> Adapter | None:
    """The adapter (or generic partner) the tenant's ``carrier`` uses, if any."""
    options = config.carriers.get(carrier)
    adapter = load_adapters().get(carrier)
    if adapter is None and options is not None and options.generic is not None:
        adapter = build_adapter(carrier, options.generic)
    return adapter


def rule_for(config: TenantConfig, target: str) -> SecretRule | None:
    """What a value of ``target`` must be, when the tenant's adapter (or generic partner)
    reads that key set; None otherwise."""
    adapter = _adapter(config, target.partition(".")[0])
    return secret_targets(adapter).get(target) if adapter is not None else None


def targets_of(config: TenantConfig) -> list[str]:
    """Every key set the tenant's carriers read (``easypost``, ``ups.api``), sorted."""
    found: list[str] = []
    for carrier in config.carriers:
        adapter = _adapter(config, carrier)
        found += secret_targets(adapter) if adapter is not None else []
    return sorted(found)


def rotate(
    store: RotatingStore,
    audit: Auditing,
    tenant: str,
    target: str,
    value: str,
    *,
    grace: timedelta,
    grace_text: str,
    generated: bool,
    now: datetime,
    stack: str | None = None,
) -> KeySet:
    """Make ``value`` current; the old one stays valid for ``grace``. Audited without values."""
    keyset = store.rotate(tenant, target, value, now=now, grace=grace)
    detail: dict[str, str | int | bool | None] = {
        "generated": generated,
        "grace": grace_text,
        "previous_valid": len(keyset.unexpired_previous(now)),
    }
    if stack:
        detail["stack"] = stack
    audit.record("secret.rotate", tenant, target, now, **detail)
    return keyset
