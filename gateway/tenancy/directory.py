"""Tenant lookup for the request path: tenant files read once and re-read when changed.

A tenant file that exists but is invalid (edited while the server runs: ``waybill serve``
refuses to start with one) is an operator error, and who asks decides the answer:

- a caller who has not authenticated (a webhook or token request, which names the tenant
  in its path) must not learn that the tenant exists: :func:`visible_tenant` treats a
  broken tenant as no tenant, so the answer is the unknown route's 404, and logs the
  reason (file and field; tenant files hold no secrets) at warning level for ops;
- an authenticated ``/v1`` caller (its API key names the tenant, so nothing is revealed)
  gets a retryable 503 ``tenant_unavailable`` (:class:`TenantUnavailableError`): its
  requests are not refused as if the tenant were gone, nothing is guessed from a half-
  edited file, and the same request succeeds once the file is fixed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from gateway.errors import StoreUnavailableError
from gateway.tenancy.tenants import TenantConfig, TenantConfigError, is_tenant_id, load_tenant_file

log = logging.getLogger("waybill.tenants")


class TenantUnavailableError(StoreUnavailableError):
    """The tenant's file is invalid; ``reason`` names the file and the field (for logs)."""

    def __init__(self, reason: str) -> None:
        super().__init__("tenant configuration is invalid", code="tenant_unavailable")
        self.reason = reason


class TenantDirectory:
    """Callable ``tenant_id → TenantConfig | None``, cached per file modification time.

    An invalid file raises :class:`TenantUnavailableError` (cached too, so a flood of
    requests does not re-read it) until the file changes.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._cache: dict[str, tuple[int, TenantConfig | TenantUnavailableError]] = {}

    def __call__(self, tenant_id: str) -> TenantConfig | None:
        if not is_tenant_id(tenant_id):
            return None
        path = self.directory / f"{tenant_id}.toml"
        try:
            mtime = path.stat().st_mtime_ns
        except OSError:
            return None
        cached = self._cache.get(tenant_id)
        if cached is None or cached[0] != mtime:
            try:
                cached = (mtime, load_tenant_file(path))
            except TenantConfigError as exc:
                cached = (mtime, TenantUnavailableError(str(exc)))
            self._cache[tenant_id] = cached
        if isinstance(cached[1], TenantUnavailableError):
            raise TenantUnavailableError(cached[1].reason)
        return cached[1]


def visible_tenant(
    tenants: Callable[[str], TenantConfig | None], tenant_id: str
) -> TenantConfig | None:
    """The tenant as an unauthenticated caller may see it: a broken one is no tenant.

    The reason is logged at warning level, so ops see why its route answers 404.

    >>> def broken(tenant_id: str) -> TenantConfig | None:
    ...     raise TenantUnavailableError("tenants/acme.toml: plan: unknown plan 'gold'")
    >>> visible_tenant(broken, "acme") is None
    True
    """
    try:
        return tenants(tenant_id)
    except TenantUnavailableError as exc:
        log.warning("tenant %s is answered as no such route: %s", tenant_id, exc.reason)
        return None
