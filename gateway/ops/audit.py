"""Who acts and where their changes are written: one audit line per change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from gateway.audit.changes import DetailValue, append_audit


@dataclass(frozen=True)
class Auditing:
    """Writes an actor's changes to ``<state_dir>/audit.jsonl``.

    Example:
        >>> import tempfile
        >>> state = Path(tempfile.mkdtemp())
        >>> Auditing(state, "console").record("endpoint.disable", "demo", "ep_x")
        >>> '"actor": "console"' in (state / "audit.jsonl").read_text()
        True
    """

    state_dir: Path
    actor: str

    def record(
        self,
        action: str,
        tenant: str,
        target: str,
        now: datetime | None = None,
        **detail: DetailValue,
    ) -> None:
        """Append one entry (``now`` defaults to the wall clock)."""
        append_audit(
            self.state_dir,
            actor=self.actor,
            action=action,
            tenant=tenant,
            target=target,
            detail=detail,
            now=now or datetime.now(UTC),
        )
