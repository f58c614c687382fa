"""Manual tracker refreshes (``waybill trackers refresh`` and the console)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gateway.ops.audit import Auditing
from gateway.poll.service import Refreshed, Trackers
from gateway.poll.trackers import Tracker


@dataclass(frozen=True)
class Refresh:
    """One tracker checked now (``done``), or several queued first (``queued``)."""

    done: Refreshed | None = None
    queued: tuple[Tracker, ...] = ()


def refresh(
    trackers: Trackers, audit: Auditing, tenant: str, numbers: Sequence[str], carrier: str
) -> Refresh:
    """One number: check it now, within the budget (a spent budget raises
    ``PollBudgetSpentError``). Several: queue them first for the next pass. Audited."""
    numbers = list(dict.fromkeys(numbers))
    if len(numbers) > 1:
        queued = trackers.refresh_many(tenant, [(n, carrier) for n in numbers])
        audit.record(
            "tracker.refresh", tenant, ",".join(numbers), carrier=carrier, queued=len(queued)
        )
        return Refresh(queued=tuple(queued))
    done = trackers.refresh(tenant, numbers[0], carrier)
    audit.record(
        "tracker.refresh", tenant, numbers[0], carrier=carrier, checked=done.check is not None
    )
    return Refresh(done=done)
