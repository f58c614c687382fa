"""Tenant lookup for the request path: tenant files read once and re-read when changed."""

from __future__ import annotations

from pathlib import Path

from gateway.errors import StoreUnavailableError
from gateway.tenancy.tenants import TenantConfig, TenantConfigError, is_tenant_id, load_tenant_file


class TenantDirectory:
    """Callable ``tenant_id → TenantConfig | None``, cached per file modification time.

    An invalid tenant file is an operator error: requests for that tenant get a
    retryable 503 (``tenant_unavailable``) rather than a guess.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._cache: dict[str, tuple[int, TenantConfig]] = {}

    def __call__(self, tenant_id: str) -> TenantConfig | None:
        if not is_tenant_id(tenant_id):
            return None
        path = self.directory / f"{tenant_id}.toml"
        try:
            mtime = path.stat().st_mtime_ns
        except OSError:
            return None
        cached = self._cache.get(tenant_id)
        if cached is not None and cached[0] == mtime:
            return cached[1]
        try:
            config = load_tenant_file(path)
        except TenantConfigError as exc:
            raise StoreUnavailableError(
                "tenant configuration is invalid", code="tenant_unavailable"
            ) from exc
        self._cache[tenant_id] = (mtime, config)
        return config
