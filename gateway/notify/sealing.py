"""Endpoint signing secrets at rest: sealed with AES-256-GCM under one data key.

A tenant's endpoint secret (``whsec_…``) is needed in plaintext to sign, so it cannot
be hashed; it is never stored in plaintext either. Each is sealed with AES-256-GCM
under a data key, the endpoint's identity as associated data (a sealed secret copied to
another endpoint does not open). Where the data key lives:

- on AWS, envelope encryption with the stack's KMS key: the data key's KMS ciphertext is
  one table item (``K#notify``), created on first use with ``GenerateDataKey``; each
  process decrypts it once (one KMS call per cold start, about $0.03 per 10,000).
  The alternative, a Secrets Manager secret per endpoint, costs $0.40 a month each:
  $400 a month at 1,000 endpoints, against cents here;
- locally, a 32-byte key file ``<state_dir>/notify.key`` (mode 0600), like the partner
  secrets file.

Sealed form: ``b"\\x01" + 12-byte nonce + ciphertext and tag``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from gateway.store.errors import condition_failed
from gateway.store.keys import NOTIFY_KEY_ITEM

VERSION = b"\x01"
KEY_BYTES = 32
NONCE_BYTES = 12
KEY_FILE = "notify.key"
ENCRYPTION_CONTEXT = {"waybill": "endpoint-secrets"}


class SealError(RuntimeError):
    """A sealed value that does not open: wrong key, wrong endpoint, or tampered."""


class Sealer:
    """Seals and opens small secrets under one data key, loaded once on first use."""

    def __init__(self, load_key: Callable[[], bytes]) -> None:
        self._load_key = load_key
        self._key: bytes | None = None
        self._lock = threading.Lock()

    def _aead(self) -> Any:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # not at cold start

        with self._lock:
            if self._key is None:
                key = self._load_key()
                if len(key) != KEY_BYTES:
                    raise SealError("the data key is not 32 bytes")
                self._key = key
            aead: Any = AESGCM(self._key)
            return aead

    def seal(self, plaintext: bytes, context: str) -> bytes:
        """``plaintext`` sealed, bound to ``context`` (who it belongs to)."""
        nonce = os.urandom(NONCE_BYTES)
        sealed: bytes = self._aead().encrypt(nonce, plaintext, context.encode())
        return VERSION + nonce + sealed

    def open(self, sealed: bytes, context: str) -> bytes:
        """The plaintext of ``sealed``; :class:`SealError` if it does not open."""
        from cryptography.exceptions import InvalidTag

        if sealed[:1] != VERSION or len(sealed) < 1 + NONCE_BYTES + 16:
            raise SealError("not a sealed value of a known version")
        nonce, body = sealed[1 : 1 + NONCE_BYTES], sealed[1 + NONCE_BYTES :]
        try:
            plaintext: bytes = self._aead().decrypt(nonce, body, context.encode())
        except InvalidTag:
            raise SealError("the sealed value does not open here") from None
        return plaintext


def local_key(state_dir: Path) -> Callable[[], bytes]:
    """The local data key: ``<state_dir>/notify.key``, created (0600) on first use."""

    def load() -> bytes:
        path = Path(state_dir) / KEY_FILE
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        except FileExistsError:
            return path.read_bytes()
        try:
            os.write(fd, os.urandom(KEY_BYTES))
        finally:
            os.close(fd)
        return path.read_bytes()

    return load


def kms_data_key(
    kms: Callable[[], Any], key_id: str, dynamodb: Any, table: str
) -> Callable[[], bytes]:
    """The stack's data key: its KMS ciphertext is the table item ``K#notify``.

    The first process that needs it and finds no item generates one and stores it with
    a conditional put; a process that loses that race uses the winner's.
    """

    def load() -> bytes:
        client = kms()
        for _ in range(2):
            found = dynamodb.get_item(TableName=table, Key=NOTIFY_KEY_ITEM, ConsistentRead=True)
            if "Item" in found:
                blob = bytes(found["Item"]["blob"]["B"])
                answer = client.decrypt(CiphertextBlob=blob, EncryptionContext=ENCRYPTION_CONTEXT)
                return bytes(answer["Plaintext"])
            made = client.generate_data_key(
                KeyId=key_id, KeySpec="AES_256", EncryptionContext=ENCRYPTION_CONTEXT
            )
            try:
                dynamodb.put_item(
                    TableName=table,
                    Item={**NOTIFY_KEY_ITEM, "blob": {"B": made["CiphertextBlob"]}},
                    ConditionExpression="attribute_not_exists(pk)",
                )
            except ClientError as exc:
                if not condition_failed(exc):
                    raise
                continue  # another process stored its key first: use that one
            return bytes(made["Plaintext"])
        raise SealError("the notification data key could not be stored or read")

    return load
