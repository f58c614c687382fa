"""Partner secret rotation (``waybill secrets rotate`` and the console's rotate)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

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


def rule_for(config: TenantConfig, target: str) -> SecretRule | None:
    """What a value of ``target`` must be, when the tenant's adapter (or generic partner)
    reads that key set; None otherwise."""
    carrier = target.partition(".")[0]
    options = config.carriers.get(carrier)
    adapter = load_adapters().get(carrier)
    if adapter is None and options is not None and options.generic is not None:
        adapter = build_adapter(carrier, options.generic)
    return secret_targets(adapter).get(target) if adapter is not None else None


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
