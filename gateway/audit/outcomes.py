"""The audit of delivery outcomes: what became of each request, per tenant, cheaply.

Outcomes: ``accepted`` (new events stored), ``duplicate`` (nothing new: a retried
delivery or a resend of known events), ``ignored`` (a non-tracking delivery),
``parked``, ``rejected`` (4xx, with the error's code), ``throttled`` (429) and
``failed`` (5xx). An accepted delivery and a newly parked one are already paid
writes: each gets one audit item. Every other outcome is free today (a read, or no
store access at all) and stays free per request: it is counted in memory per
(tenant, outcome, code, carrier, minute) and written once per window (see
:mod:`gateway.audit.windows`).

An audit record never holds a secret, body, header or signature: ids, codes,
counts, the carrier and tracking numbers only.

Example:
    >>> from datetime import UTC, datetime
    >>> at = datetime(2025, 1, 1, tzinfo=UTC)
    >>> answer = {"accepted": 0, "duplicates": 3, "duplicate_delivery": True}
    >>> [(e.outcome, e.code) for e in delivery_outcomes("acme", "ups", answer, (), at)]
    [('duplicate', 'delivery')]
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from gateway.observability import logger

log = logging.getLogger("waybill.audit")

OUTCOMES = ("accepted", "duplicate", "ignored", "parked", "rejected", "throttled", "failed")
MAX_TRACKING_NUMBERS = 10
_CODE = re.compile(r"[^a-z0-9_.]+")


@dataclass(frozen=True)
class AuditEvent:
    """One outcome to record. ``itemised``: its own item, else counted in a window."""

    tenant: str
    outcome: str
    at: datetime
    code: str = ""
    carrier: str = ""
    count: int = 1
    itemised: bool = False
    request_id: str = ""
    accepted: int = 0
    duplicates: int = 0
    tracking_numbers: tuple[str, ...] = ()
    more_tracking_numbers: int = 0
    ref: str = ""


class Auditor(Protocol):
    """Where outcomes go: buffered by ``record``, written by ``flush`` (end of invocation)."""

    def record(self, event: AuditEvent) -> None: ...

    def flush(self, *, final: bool = False) -> None:
        """Write what is buffered; ``final`` also closes the open count windows (shutdown)."""
        ...


class NoAudit:
    """Records nothing (the pipeline's default)."""

    def record(self, event: AuditEvent) -> None:
        """Drop the event."""

    def flush(self, *, final: bool = False) -> None:
        """Nothing to write."""


NO_AUDIT = NoAudit()


def code_of(text: str) -> str:
    """A short, bounded code from free text (for an adapter's ``ignored`` reason).

    >>> code_of("Event type batch.created is not tracking")
    'event_type_batch.created_is_not_tracking'
    """
    return _CODE.sub("_", text.lower()).strip("_")[:40] or "-"


def delivery_outcomes(
    tenant: str,
    carrier: str,
    answer: Mapping[str, Any],
    tracking_numbers: Iterable[str],
    at: datetime,
    *,
    raw_body: bytes = b"",
    request_id: str = "",
) -> list[AuditEvent]:
    """The outcomes of one answered delivery, read from the pipeline's response body.

    A parked copy is referred to by its id (the body's SHA-256 prefix), never by content.
    """
    base = AuditEvent(tenant, "", at, carrier=carrier, request_id=request_id)
    if answer.get("ignored") is not None:
        return [replace(base, outcome="ignored", code=code_of(str(answer["ignored"])))]
    found: list[AuditEvent] = []
    accepted, duplicates = int(answer.get("accepted", 0)), int(answer.get("duplicates", 0))
    if accepted:
        numbers = sorted(set(tracking_numbers))
        found.append(
            replace(
                base,
                outcome="accepted",
                itemised=True,
                accepted=accepted,
                duplicates=duplicates,
                tracking_numbers=tuple(numbers[:MAX_TRACKING_NUMBERS]),
                more_tracking_numbers=max(0, len(numbers) - MAX_TRACKING_NUMBERS),
            )
        )
    elif "accepted" in answer:
        kind = "delivery" if answer.get("duplicate_delivery") else "events"
        outcome = "duplicate" if duplicates else "ignored"
        found.append(replace(base, outcome=outcome, code=kind if duplicates else "no_events"))
    if answer.get("parked") and answer.get("already_parked"):
        found.append(replace(base, outcome="parked", code="already_parked"))
    elif answer.get("parked"):
        failed = int(answer.get("failed_items", 0))
        ref = hashlib.sha256(raw_body).hexdigest()[:12]
        code = "failed_items" if failed else "unparseable"
        found.append(replace(base, outcome="parked", code=code, itemised=True, ref=ref))
    return found


def current_request_id() -> str:
    """The current invocation's request id (the handler's correlation id), or ``""``."""
    return logger.get_correlation_id() or ""


def audit_delivery(
    auditor: Auditor,
    tenant: str,
    carrier: str,
    answer: Mapping[str, Any],
    tracking_numbers: Iterable[str],
    at: datetime,
    raw_body: bytes,
) -> None:
    """Record an answered delivery and flush; never raises (the answer must go out)."""
    try:
        for event in delivery_outcomes(
            tenant,
            carrier,
            answer,
            tracking_numbers,
            at,
            raw_body=raw_body,
            request_id=current_request_id(),
        ):
            auditor.record(event)
        auditor.flush()
    except Exception as exc:  # the audit is best effort; the delivery is stored
        log.warning("audit of a delivery failed: %s", type(exc).__name__)
