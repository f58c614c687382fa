"""The ops credential: one random secret, shown once, stored as its SHA-256 only.

Locally ``<state_dir>/console_credential.json`` (mode 0600), made by the first
``waybill serve`` and replaced by ``waybill console credential --reset``; tenant API keys
(:mod:`gateway.tenancy.apikeys`) are kept the same way, in another file, and never open
the console. A high-entropy random value needs no slow hash: a digest is enough, as for
API keys. Reading the file on every check makes a reset apply at once.

Example:
    >>> import tempfile
    >>> state = Path(tempfile.mkdtemp())
    >>> plaintext = ensure_credential(state)
    >>> plaintext.startswith("wbops_"), ensure_credential(state) is None
    (True, True)
    >>> store = LocalCredential(state)
    >>> store.verify(plaintext), store.verify("wbops_wrong")
    (True, False)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path

CREDENTIAL_FILE = "console_credential.json"
KEY_FILE = "console.key"
PREFIX = "wbops_"


def _digest(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` with mode 0600, replacing it atomically."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(temporary, path)


def new_credential() -> tuple[str, str]:
    """A new credential: its plaintext (shown once) and the record to store, which holds
    its digest only (``{"sha256": …, "created_at": …}``, JSON): the local file's content,
    and on AWS the value of the secret ``waybill/{stack}/ops_console/credential``."""
    plaintext = PREFIX + secrets.token_urlsafe(32)
    record = {"sha256": _digest(plaintext), "created_at": datetime.now(UTC).isoformat()}
    return plaintext, json.dumps(record)


def digest_of_record(text: str | None) -> str | None:
    """The digest a stored record holds (None when absent or malformed)."""
    try:
        record = json.loads(text or "")
    except ValueError:
        return None
    value = record.get("sha256") if isinstance(record, dict) else None
    return value if isinstance(value, str) and len(value) == 64 else None


def reset_credential(state_dir: Path) -> str:
    """A new credential (returned once); the previous one and every session end."""
    plaintext, record = new_credential()
    _write_private(state_dir / CREDENTIAL_FILE, record + "\n")
    return plaintext


def ensure_credential(state_dir: Path) -> str | None:
    """Create the credential when there is none: its plaintext then, else None."""
    if (state_dir / CREDENTIAL_FILE).exists():
        return None
    return reset_credential(state_dir)


class Credential:
    """A stored credential digest, checked in constant time; :meth:`digest` reads it."""

    def digest(self) -> str | None:
        """The stored digest (None when no credential was made)."""
        raise NotImplementedError

    def verify(self, plaintext: str) -> bool:
        """Whether ``plaintext`` is the credential."""
        stored = self.digest()
        return stored is not None and hmac.compare_digest(stored, _digest(plaintext))


class LocalCredential(Credential):
    """The credential of a state dir."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir

    def digest(self) -> str | None:
        """The digest in ``<state_dir>/console_credential.json`` (None when absent)."""
        try:
            return digest_of_record((self.state_dir / CREDENTIAL_FILE).read_text())
        except OSError:
            return None


def console_key(state_dir: Path) -> bytes:
    """The key that signs session cookies: ``<state_dir>/console.key``, made on first use."""
    path = state_dir / KEY_FILE
    try:
        text = path.read_text().strip()
        if len(text) == 64:
            return bytes.fromhex(text)
    except (OSError, ValueError):
        pass
    key = secrets.token_bytes(32)
    _write_private(path, key.hex() + "\n")
    return key
