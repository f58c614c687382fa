"""Replaying parked deliveries (``waybill parked replay`` and the console's replay)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from gateway.ingest.pipeline import IngestResponse, Pipeline
from gateway.ops.audit import Auditing
from gateway.store.parked import ParkedDelivery


@dataclass(frozen=True)
class Replayed:
    """One replay: the outcome when stored, else why it stays parked."""

    parked: ParkedDelivery
    outcome: IngestResponse | None = None
    error: str | None = None


def choose(parked: Iterable[ParkedDelivery], ids: Sequence[str]) -> list[ParkedDelivery]:
    """The parked deliveries whose body hash starts with one of ``ids`` (all when none)."""
    return [p for p in parked if not ids or any(p.body_sha256.startswith(i) for i in ids)]


def replay(
    pipeline: Pipeline, audit: Auditing, tenant: str, chosen: Sequence[ParkedDelivery]
) -> list[Replayed]:
    """Parse each again and store it; one that still fails stays parked, the rest go on.

    The pipeline audits each outcome in the counted windows, as for a delivery; the replay
    itself is one change (``parked.replay``: the one id, or how many, and what became of
    them).
    """
    done: list[Replayed] = []
    for item in chosen:
        try:
            outcome = pipeline.replay(item)
        except Exception as exc:  # report and go on: one bad delivery must not stop the rest
            done.append(Replayed(item, error=f"{type(exc).__name__}: {exc}"))
            continue
        done.append(Replayed(item, outcome=outcome))
    if done:
        target = done[0].parked.body_sha256[:12] if len(done) == 1 else f"{len(done)} deliveries"
        failed = sum(1 for d in done if d.outcome is None)
        replayed = len(done) - failed
        audit.record("parked.replay", tenant, target, replayed=replayed, still_parked=failed)
    return done
