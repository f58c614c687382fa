"""Who acts and where their changes are written: one audit entry per change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from gateway.audit.changes import ChangeLog, DetailValue, append_audit


@dataclass(frozen=True)
class Auditing:
    """Writes an actor's changes to a change log (the state dir's, or a stack's table).

    Example:
        >>> import tempfile
        >>> from pathlib import Path
        >>> from gateway.audit.changes import FileChangeLog
        >>> state = Path(tempfile.mkdtemp())
        >>> Auditing(FileChangeLog(state), "console").record("endpoint.disable", "demo", "ep_x")
        >>> '"actor": "console"' in (state / "audit.jsonl").read_text()
        True
    """

    log: ChangeLog
    actor: str

    def record(
        self,
        action: str,
        tenant: str,
        target: str,
        now: datetime | None = None,
        **detail: DetailValue,
    ) -> None:
        """Write one entry (``now`` defaults to the wall clock)."""
        append_audit(
            self.log,
            actor=self.actor,
            action=action,
            tenant=tenant,
            target=target,
            detail=detail,
            now=now or datetime.now(UTC),
        )
