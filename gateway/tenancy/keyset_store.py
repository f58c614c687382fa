"""What every partner-secret store does the same way, whatever keeps the bytes.

A backend (the local 0600 file, Secrets Manager) supplies ``get`` and ``_change``
(an atomic read-modify-write of one key set); setting, rotating and revoking are
the pure functions of :mod:`gateway.tenancy.keysets`, applied here once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

from gateway.tenancy import keysets
from gateway.tenancy.keysets import MAX_PREVIOUS, KeySet

K = TypeVar("K", bound=KeySet | None)


class KeySetStore(ABC):
    """Set, rotate and revoke partner secrets; also a ``SecretsProvider``."""

    @abstractmethod
    def get(self, tenant: str, carrier: str) -> KeySet | None:
        """The key set of (tenant, carrier), if any."""

    @abstractmethod
    def _change(self, tenant: str, carrier: str, change: Callable[[KeySet | None], K]) -> K:
        """Apply ``change`` to the stored key set atomically and store what it returns."""

    def valid_secrets(self, tenant: str, carrier: str, now: datetime) -> list[str]:
        """Every secret valid at ``now``, current first; empty when none is set."""
        keyset = self.get(tenant, carrier)
        return [] if keyset is None else keyset.valid_secrets(now)

    def set(self, tenant: str, carrier: str, value: str, *, now: datetime) -> KeySet:
        """Replace everything with one current secret (not a rotation: old ones stop now)."""
        return self._change(tenant, carrier, lambda _old: keysets.new_keyset(value, now=now))

    def rotate(
        self,
        tenant: str,
        carrier: str,
        value: str,
        *,
        now: datetime,
        grace: timedelta,
        cap: int = MAX_PREVIOUS,
    ) -> KeySet:
        """Make ``value`` current; the old one stays valid for ``grace`` (``keysets.rotate``)."""
        return self._change(
            tenant, carrier, lambda old: keysets.rotate(old, value, now=now, grace=grace, cap=cap)
        )

    def revoke_previous(self, tenant: str, carrier: str, *, now: datetime) -> KeySet | None:
        """Drop every previous secret; ``None`` (and no write) when nothing is set."""
        if self.get(tenant, carrier) is None:
            return None
        return self._change(
            tenant, carrier, lambda old: None if old is None else keysets.revoke_previous(old, now)
        )
