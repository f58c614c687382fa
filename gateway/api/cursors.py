"""Page cursors: opaque, tamper-evident and bound to the tenant that was given them.

A cursor is ``base64url(payload) + "." + base64url(HMAC-SHA256(key, tenant + NUL +
payload))``; the payload is a small JSON object (what was asked, and the position). A
cursor altered, made up, or presented by another tenant is refused (400
``invalid_cursor``), so a position never reaches the store unless we issued it.

The key: locally a random key made on first use in ``<state_dir>/cursor.key`` (0600);
on AWS ``CURSOR_KEY`` (the key as text) or ``CURSOR_KEY_SECRET`` (a Secrets Manager
secret id whose string is the key). Without either, a per-process random key: cursors
then stop working across Lambda containers, so deployments set one. Changing the key
invalidates outstanding cursors (clients start again from the first page).

Example:
    >>> codec = CursorCodec(b"k" * 32)
    >>> token = codec.encode("acme", {"a": "E#2025"})
    >>> codec.decode("acme", token)
    {'a': 'E#2025'}
    >>> codec.decode("globex", token)
    Traceback (most recent call last):
    ...
    gateway.errors.BadRequestError: cursor is invalid
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gateway.errors import BadRequestError
from gateway.services import PROCESS_KEY
from gateway.signing import b64url

MAX_CURSOR_CHARS = 1024
MIN_KEY_BYTES = 32
KEY_FILE = "cursor.key"

logger = logging.getLogger(__name__)


class CursorCodec:
    """Signs and checks cursors with one server key."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, tenant: str, payload: bytes) -> bytes:
        return hmac.new(self._key, tenant.encode() + b"\0" + payload, hashlib.sha256).digest()

    def encode(self, tenant: str, payload: Mapping[str, Any]) -> str:
        """The cursor carrying ``payload`` for ``tenant``."""
        raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
        return f"{b64url.encode(raw)}.{b64url.encode(self._mac(tenant, raw))}"

    def decode(self, tenant: str, cursor: str) -> dict[str, Any]:
        """The payload of a cursor issued to ``tenant``; 400 ``invalid_cursor`` otherwise."""
        invalid = BadRequestError("cursor is invalid", code="invalid_cursor")
        body, _, mac = cursor.partition(".")
        if len(cursor) > MAX_CURSOR_CHARS or not body or not mac:
            raise invalid
        try:
            raw, given = b64url.decode(body), b64url.decode(mac)
        except ValueError:  # not the one spelling we issue
            raise invalid from None
        if not hmac.compare_digest(given, self._mac(tenant, raw)):
            raise invalid
        payload = json.loads(raw)  # ours: we signed it, and only ever sign canonical text
        if not isinstance(payload, dict):
            raise invalid
        return payload


def local_cursor_key(state_dir: Path) -> bytes:
    """The local server's key from ``<state_dir>/cursor.key``, made (0600) on first use."""
    path = Path(state_dir) / KEY_FILE
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        return _read_key(path)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(MIN_KEY_BYTES) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return _read_key(path)


def _read_key(path: Path) -> bytes:
    from gateway.tenancy.local_secrets import LocalStateError

    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd) as handle:
        mode = os.fstat(handle.fileno()).st_mode
        if not stat.S_ISREG(mode) or mode & 0o077:
            raise LocalStateError(f"{path} must be a regular file of mode 0600")
        text = handle.read().strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) < MIN_KEY_BYTES:
        raise LocalStateError(f"{path} does not hold a key (64 hex digits)")
    return key


def cursor_key_from_environment(environ: Mapping[str, str]) -> bytes:
    """``CURSOR_KEY``, else the secret named by ``CURSOR_KEY_SECRET``, else a process key."""
    text = environ.get("CURSOR_KEY")
    if not text and environ.get("CURSOR_KEY_SECRET"):
        import boto3

        client = boto3.client("secretsmanager")
        text = client.get_secret_value(
            SecretId=environ["CURSOR_KEY_SECRET"], VersionStage="AWSCURRENT"
        )["SecretString"]
    if not text:
        logger.warning(
            "no CURSOR_KEY nor CURSOR_KEY_SECRET: cursors are valid in this process only"
        )
        return PROCESS_KEY
    if len(text.encode()) < MIN_KEY_BYTES:
        raise ValueError(f"the cursor key must be at least {MIN_KEY_BYTES} bytes")
    return text.encode()
