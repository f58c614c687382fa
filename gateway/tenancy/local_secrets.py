"""Local partner secrets in ``<state_dir>/secrets.json`` (mode 0600); the private-file primitive.

:class:`PrivateJsonFile` is shared by the local stores: writes are atomic (a 0600
temp file in the same directory, then ``os.replace``), so the file is never
world-readable, not even briefly; reads refuse a file looser than 0600 and are
cached until the file changes (one ``stat`` per call), so a running server sees
CLI changes without a restart.

Example:
    >>> import tempfile
    >>> from datetime import UTC, datetime
    >>> store = LocalSecretStore(Path(tempfile.mkdtemp()) / "state")
    >>> now = datetime(2025, 1, 1, tzinfo=UTC)
    >>> _ = store.set("demo", "easypost", "s3cr3t-value", now=now)
    >>> store.valid_secrets("demo", "easypost", now)
    ['s3cr3t-value']
"""

from __future__ import annotations

import builtins
import fcntl
import json
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import TypeAdapter, ValidationError

from gateway.errors import describe_errors
from gateway.tenancy.keyset_store import K, KeySetStore
from gateway.tenancy.keysets import KeySet

T = TypeVar("T")
Secrets = dict[str, dict[str, KeySet]]
_SECRETS = TypeAdapter(Secrets)


class LocalStateError(Exception):
    """A local state file is unsafe (mode, symlink) or unreadable; the message names it."""


def _signature(st: os.stat_result) -> tuple[int, ...]:
    return (st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size)


class PrivateJsonFile(Generic[T]):
    """One JSON file only its owner may read, parsed and cached until it changes."""

    def __init__(
        self,
        path: Path,
        parse: Callable[[Any], T],
        dump: Callable[[T], Any],
        empty: Callable[[], T],
    ) -> None:
        self.path = path
        self._parse, self._dump, self._empty = parse, dump, empty
        self._cache: tuple[tuple[int, ...], T] | None = None

    def load(self) -> T:
        """The parsed content (``empty()`` when absent); re-read only when the file changed."""
        try:
            signature = _signature(os.stat(self.path))
        except FileNotFoundError:
            return self._empty()
        if self._cache is not None and self._cache[0] == signature:
            return self._cache[1]
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            return self._empty()
        except OSError as exc:
            raise LocalStateError(f"{self.path}: cannot open: {exc.strerror}") from None
        with os.fdopen(fd, "rb") as handle:
            st = os.fstat(handle.fileno())
            self._check_private(st)
            raw = handle.read()
        try:
            value = self._parse(json.loads(raw))
        except (ValueError, UnicodeDecodeError) as exc:
            if isinstance(exc, ValidationError):
                raise LocalStateError(f"{self.path}: {describe_errors(exc)}") from None
            raise LocalStateError(f"{self.path}: not valid JSON") from None
        self._cache = (_signature(st), value)
        return value

    def _check_private(self, st: os.stat_result) -> None:
        if not stat.S_ISREG(st.st_mode):
            raise LocalStateError(f"{self.path}: not a regular file")
        if st.st_mode & 0o077:
            mode = oct(stat.S_IMODE(st.st_mode))[2:].zfill(4)
            raise LocalStateError(
                f"{self.path} has mode {mode}, readable by others; refusing to read it "
                f"(it must be 0600: chmod 600 {self.path})"
            )

    def save(self, value: T) -> None:
        """Write atomically: a 0600 temp file in the same directory, fsync, ``os.replace``."""
        directory = self.path.parent
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        body = json.dumps(self._dump(value), indent=2, sort_keys=True).encode() + b"\n"
        fd, temp = tempfile.mkstemp(dir=directory, prefix=f".{self.path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                os.fchmod(handle.fileno(), 0o600)
                handle.write(body)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, self.path)
        except BaseException:
            with suppress(FileNotFoundError):
                os.unlink(temp)
            raise
        self._cache = None

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold an exclusive lock for a read-modify-write (two CLI runs cannot lose an update)."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        lock = self.path.with_name(f".{self.path.name}.lock")
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


def _dump_secrets(data: Secrets) -> dict[str, dict[str, Any]]:
    return {
        tenant: {carrier: ks.model_dump(mode="json") for carrier, ks in carriers.items()}
        for tenant, carriers in data.items()
    }


class LocalSecretStore(KeySetStore):
    """Key sets by (tenant, carrier) in ``<state_dir>/secrets.json``; a ``SecretsProvider``.

    A file that is unsafe or unreadable raises :class:`LocalStateError` rather than
    answering "no secrets": the delivery then fails with a 5xx and the carrier retries.
    """

    def __init__(self, state_dir: Path) -> None:
        self.path = Path(state_dir) / "secrets.json"
        self._file: PrivateJsonFile[Secrets] = PrivateJsonFile(
            self.path, _SECRETS.validate_python, _dump_secrets, dict
        )

    def get(self, tenant: str, carrier: str) -> KeySet | None:
        """The key set of (tenant, carrier), if any."""
        return self._file.load().get(tenant, {}).get(carrier)

    def _change(self, tenant: str, carrier: str, change: Callable[[KeySet | None], K]) -> K:
        with self._file.locked():
            data = {t: dict(c) for t, c in self._file.load().items()}
            updated = change(data.get(tenant, {}).get(carrier))
            if updated is not None:
                data.setdefault(tenant, {})[carrier] = updated
                self._file.save(data)
            return updated

    def list(self, tenant: str) -> builtins.list[tuple[str, KeySet]]:
        """Every (carrier, key set) of a tenant, sorted by carrier."""
        return sorted(self._file.load().get(tenant, {}).items())
