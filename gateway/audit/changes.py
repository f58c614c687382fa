"""The local audit trail: one JSON line per change in ``<state_dir>/audit.jsonl`` (mode 0600).

Who, when, what and on which target; never a secret value or a key's plaintext
(callers pass masked forms or display prefixes only).

Example:
    >>> import tempfile
    >>> from datetime import UTC, datetime
    >>> state = Path(tempfile.mkdtemp())
    >>> append_audit(state, actor="ops", action="secret.rotate", tenant="demo",
    ...              target="easypost", detail={"grace": "24h"},
    ...              now=datetime(2025, 1, 1, tzinfo=UTC))
    >>> (state / "audit.jsonl").read_text().count("secret.rotate")
    1
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

AUDIT_FILE = "audit.jsonl"
CHANGE_KINDS = ("console", "endpoint", "key", "secret", "shipment", "tracker")
"""What a change acts on: the first part of every action (``secret.rotate``); ``waybill
audit --outcome`` takes a kind or an action, so a kind not listed here is refused."""
DetailValue = str | int | bool | None


def current_actor() -> str:
    """Who is acting: ``$USER``, else ``"unknown"``."""
    return os.environ.get("USER") or "unknown"


def append_audit(
    state_dir: Path,
    *,
    actor: str,
    action: str,
    tenant: str,
    target: str,
    detail: Mapping[str, DetailValue] | None = None,
    now: datetime,
) -> None:
    """Append one audit line (one ``O_APPEND`` write: concurrent writers keep whole lines)."""
    if now.tzinfo is None:
        raise ValueError("the clock must be timezone-aware")
    if action.partition(".")[0] not in CHANGE_KINDS:
        raise ValueError(f"an action starts with a kind of CHANGE_KINDS, not {action!r}")
    entry = {
        "at": now.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "actor": actor,
        "action": action,
        "tenant": tenant,
        "target": target,
        "detail": dict(detail or {}),
    }
    line = json.dumps(entry, sort_keys=True, ensure_ascii=False) + "\n"
    directory = Path(state_dir)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(directory / AUDIT_FILE, flags, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, line.encode())
    finally:
        os.close(fd)
