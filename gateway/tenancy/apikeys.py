"""Local tenant API keys in ``<state_dir>/api_keys.json`` (mode 0600), stored as hashes only.

A key is shown once, when issued (``wb_`` + 32 random bytes, URL-safe base64).
The file keeps its SHA-256 digest, an 8-character display prefix and the dates;
a lookup hashes the presented key and finds it by digest, so no comparison
runs over the secret itself. A revocation is seen by the next lookup.

Example:
    >>> import tempfile
    >>> from datetime import UTC, datetime
    >>> keys = LocalApiKeyStore(Path(tempfile.mkdtemp()))
    >>> issued = keys.issue("demo", now=datetime(2025, 1, 1, tzinfo=UTC))
    >>> keys.resolve(issued.plaintext), keys.resolve("wb_guess")
    ('demo', None)
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from gateway.models import UtcInstant
from gateway.tenancy.local_secrets import PrivateJsonFile

KEY_PREFIX = "wb_"
DISPLAY_PREFIX_CHARS = 8
_MAX_KEY_CHARS = 256


class ApiKeyRecord(BaseModel):
    """What is kept of an issued key: never the key itself."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tenant: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    prefix: str
    created_at: UtcInstant
    revoked_at: UtcInstant | None = None

    @property
    def active(self) -> bool:
        """True until revoked."""
        return self.revoked_at is None


@dataclass(frozen=True)
class IssuedKey:
    """A freshly issued key; ``plaintext`` exists only here, once."""

    tenant: str
    plaintext: str = field(repr=False)
    prefix: str
    created_at: datetime


Keys = dict[str, ApiKeyRecord]  # by sha256 hex digest
_KEYS = TypeAdapter(Keys)


def digest(plaintext: str) -> str:
    """SHA-256 hex digest of a key (keys are high-entropy, so no salt or KDF is needed)."""
    return hashlib.sha256(plaintext.encode()).hexdigest()


def _dump(data: Keys) -> dict[str, Any]:
    return {d: record.model_dump(mode="json") for d, record in data.items()}


class LocalApiKeyStore:
    """Issue, resolve, list and revoke tenant API keys on the local file system."""

    def __init__(self, state_dir: Path) -> None:
        self.path = Path(state_dir) / "api_keys.json"
        self._file: PrivateJsonFile[Keys] = PrivateJsonFile(
            self.path, _KEYS.validate_python, _dump, dict
        )

    def issue(self, tenant: str, *, now: datetime) -> IssuedKey:
        """A new key for ``tenant``; its plaintext is returned here and never stored."""
        with self._file.locked():
            data = dict(self._file.load())
            taken = {r.prefix for r in data.values() if r.tenant == tenant}
            while True:
                plaintext = KEY_PREFIX + secrets.token_urlsafe(32)
                prefix = plaintext[:DISPLAY_PREFIX_CHARS]
                if prefix not in taken:
                    break
            record = ApiKeyRecord(
                tenant=tenant, sha256=digest(plaintext), prefix=prefix, created_at=now
            )
            data[record.sha256] = record
            self._file.save(data)
        return IssuedKey(tenant=tenant, plaintext=plaintext, prefix=prefix, created_at=now)

    def resolve(self, plaintext: str) -> str | None:
        """The tenant owning an active key, else ``None`` (unknown, malformed or revoked)."""
        if not plaintext.startswith(KEY_PREFIX) or len(plaintext) > _MAX_KEY_CHARS:
            return None
        wanted = digest(plaintext)
        record = self._file.load().get(wanted)
        if record is None or not hmac.compare_digest(record.sha256, wanted):
            return None
        return record.tenant if record.active else None

    def find(self, plaintext: str) -> ApiKeyRecord | None:
        """The record of a full key (active or revoked), found by its digest; else ``None``."""
        if len(plaintext) > _MAX_KEY_CHARS:
            return None
        return self._file.load().get(digest(plaintext))

    def revoke(self, tenant: str, prefix: str, *, now: datetime) -> bool:
        """Revoke the tenant's active key with this display prefix; False when there is none."""
        with self._file.locked():
            data = dict(self._file.load())
            matches = [
                d for d, r in data.items() if r.tenant == tenant and r.prefix == prefix and r.active
            ]
            for d in matches:
                data[d] = ApiKeyRecord.model_validate({**dict(data[d]), "revoked_at": now})
            if matches:
                self._file.save(data)
        return bool(matches)

    def list(self, tenant: str) -> builtins.list[ApiKeyRecord]:
        """The tenant's keys (active and revoked), oldest first."""
        records = [r for r in self._file.load().values() if r.tenant == tenant]
        return sorted(records, key=lambda r: (r.created_at, r.prefix))
