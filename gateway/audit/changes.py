"""The audit of changes: who changed what, when, on which target; one entry per change.

Two logs, one shape (:class:`Change`): the local state dir's JSONL
(:class:`FileChangeLog`, ``<state_dir>/audit.jsonl``, mode 0600) for what ops change
locally, and a stack's table (:class:`gateway.audit.change_table.TableChangeLog`) for
what they change on AWS, from the console or the CLI's ``--stack``. Never a secret value
or a key's plaintext (callers pass masked forms or display prefixes only).

Example:
    >>> import tempfile
    >>> from datetime import UTC, datetime
    >>> log = FileChangeLog(Path(tempfile.mkdtemp()))
    >>> append_audit(log, actor="ops", action="secret.rotate", tenant="demo",
    ...              target="easypost", detail={"grace": "24h"},
    ...              now=datetime(2025, 1, 1, tzinfo=UTC))
    >>> [c.action for c in log.read("demo", since=datetime(2024, 12, 31, tzinfo=UTC))]
    ['secret.rotate']
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

AUDIT_FILE = "audit.jsonl"
CHANGE_KINDS = ("console", "endpoint", "key", "parked", "secret", "shipment", "tracker")
"""What a change acts on: the first part of every action (``secret.rotate``); ``waybill
audit --outcome`` takes a kind or an action, so a kind not listed here is refused."""
DetailValue = str | int | bool | None
NO_TENANT = "-"
"""The tenant of a change of no tenant's (the ops credential's reset)."""


def current_actor() -> str:
    """Who is acting: ``$USER``, else ``"unknown"``."""
    return os.environ.get("USER") or "unknown"


@dataclass(frozen=True)
class Change:
    """One change (``tenant`` is :data:`NO_TENANT` for a change of no tenant's, e.g. the
    ops credential's reset)."""

    at: datetime
    actor: str
    action: str
    tenant: str
    target: str
    detail: Mapping[str, DetailValue] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ValueError("the clock must be timezone-aware")
        if self.action.partition(".")[0] not in CHANGE_KINDS:
            raise ValueError(f"an action starts with a kind of CHANGE_KINDS, not {self.action!r}")

    def document(self) -> dict[str, Any]:
        """The entry as JSON fields (``at`` as UTC text with ``Z``)."""
        return {
            "at": self.at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "actor": self.actor,
            "action": self.action,
            "tenant": self.tenant,
            "target": self.target,
            "detail": dict(self.detail),
        }

    @classmethod
    def of_document(cls, entry: Mapping[str, Any]) -> Change:
        """The change an entry of :meth:`document` holds."""
        at = datetime.fromisoformat(str(entry["at"]).replace("Z", "+00:00"))
        return cls(
            at=at,
            actor=str(entry["actor"]),
            action=str(entry["action"]),
            tenant=str(entry["tenant"]),
            target=str(entry["target"]),
            detail=dict(entry.get("detail") or {}),
        )


class ChangeLog(Protocol):
    """Where changes are written and read back."""

    def append(self, change: Change) -> None:
        """Write one change."""
        ...

    def read(self, tenant: str, *, since: datetime) -> list[Change]:
        """``tenant``'s changes at or after ``since``, newest first."""
        ...


class FileChangeLog:
    """Changes as JSON lines in ``<state_dir>/audit.jsonl`` (one ``O_APPEND`` write per
    change: concurrent writers keep whole lines)."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = Path(state_dir)

    def append(self, change: Change) -> None:
        """Append one line (the file is made 0600, its directory 0700)."""
        line = json.dumps(change.document(), sort_keys=True, ensure_ascii=False) + "\n"
        self.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(self.state_dir / AUDIT_FILE, flags, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, line.encode())
        finally:
            os.close(fd)

    def read(self, tenant: str, *, since: datetime) -> list[Change]:
        """``tenant``'s lines at or after ``since``, newest first (no file: none)."""
        try:
            raw = (self.state_dir / AUDIT_FILE).read_text().splitlines()
        except FileNotFoundError:
            return []
        changes = [Change.of_document(json.loads(line)) for line in raw if line.strip()]
        found = [c for c in changes if c.tenant == tenant and c.at >= since]
        return sorted(found, key=lambda c: c.at, reverse=True)


def append_audit(
    log: ChangeLog,
    *,
    actor: str,
    action: str,
    tenant: str,
    target: str,
    detail: Mapping[str, DetailValue] | None = None,
    now: datetime,
) -> None:
    """Write one change to ``log``."""
    log.append(Change(now, actor, action, tenant, target, dict(detail or {})))
