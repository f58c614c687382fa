"""The audit of delivery outcomes: what became of each request, per tenant, cheaply.

Outcomes: ``accepted`` (new events stored), ``duplicate`` (nothing new: a retried
delivery or a resend of known events), ``ignored`` (a non-tracking delivery),
``parked``, ``rejected`` (4xx, with the error's code), ``throttled`` (429) and
``failed`` (5xx). Every outcome, accepted included, is counted in memory per (tenant,
outcome, code, carrier, minute) and written once per window (see
:mod:`gateway.audit.windows`): no write per request. What a delivery brought is recorded
on the events themselves (each event item carries its delivery id, the digest of the
delivery's body and when it was received: :mod:`gateway.audit.provenance`), and a parked
delivery is its own record. Key and secret changes are audited one by one
(:mod:`gateway.audit.changes`).

An audit record never holds a secret, body, header or signature: codes, counts and the
carrier only.

Example:
    >>> from datetime import UTC, datetime
    >>> at = datetime(2025, 1, 1, tzinfo=UTC)
    >>> answer = {"accepted": 0, "duplicates": 3, "duplicate_delivery": True}
    >>> [(e.outcome, e.code) for e in delivery_outcomes("acme", "ups", answer, at)]
    [('duplicate', 'delivery')]
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

log = logging.getLogger("waybill.audit")

OUTCOMES = (
    "accepted",
    "duplicate",
    "ignored",
    "parked",
    "rejected",
    "throttled",
    "failed",
    "endpoint",
)
_CODE = re.compile(r"[^a-z0-9_.]+")


@dataclass(frozen=True)
class AuditEvent:
    """One outcome to record (counted in its minute's window)."""

    tenant: str
    outcome: str
    at: datetime
    code: str = ""
    carrier: str = ""
    count: int = 1


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


class OutcomeLog:
    """An auditor that also writes each outcome as one compact JSON line (on AWS).

    ``{"message": "outcome", "tenant", "outcome", "code", "carrier", "count"}``, about
    110 bytes, printed as it is (a JSON log event CloudWatch Logs Insights reads field by
    field): what the dashboard's top-tenants widget counts per tenant
    (``infra/dashboard.py``) without reading the table. Codes and names only: no body,
    header, secret or tracking number.
    """

    def __init__(self, inner: Auditor, write: Callable[[str], None] = print) -> None:
        self.inner, self.write = inner, write

    def record(self, event: AuditEvent) -> None:
        """Write the line, then record the event with the inner auditor."""
        line = {
            "message": "outcome",
            "tenant": event.tenant,
            "outcome": event.outcome,
            "code": event.code,
            "carrier": event.carrier,
            "count": event.count,
        }
        self.write(json.dumps(line, separators=(",", ":")))
        self.inner.record(event)

    def flush(self, *, final: bool = False) -> None:
        """The inner auditor's flush."""
        self.inner.flush(final=final)


def code_of(text: str) -> str:
    """A short, bounded code from free text (for an adapter's ``ignored`` reason): at most
    40 characters, cut after a whole word.

    >>> code_of("Event type batch.created is not tracking")
    'event_type_batch.created_is_not_tracking'
    >>> code_of("Event type batch.created is not a tracking event")
    'event_type_batch.created_is_not_a'
    """
    code = _CODE.sub("_", text.lower()).strip("_")
    if len(code) > 40:
        code = code[:41].rsplit("_", 1)[0][:40]  # the last whole word (one long word: cut)
    return code or "-"


def delivery_outcomes(
    tenant: str, carrier: str, answer: Mapping[str, Any], at: datetime
) -> list[AuditEvent]:
    """The outcomes of one answered delivery (a webhook, or a canonical submission), read
    from its answer; an answer that carries an error body is a refusal (``rejected``).

    >>> from datetime import UTC, datetime
    >>> answer = {"accepted": 2, "duplicates": 7, "duplicate_delivery": False}
    >>> [(e.outcome, e.code) for e in delivery_outcomes("acme", "ups", answer, datetime.now(UTC))]
    [('accepted', 'events')]
    >>> refused = {"error": {"code": "no_valid_items"}, "accepted": 0, "duplicates": 0}
    >>> [(e.outcome, e.code) for e in delivery_outcomes("acme", "x", refused, datetime.now(UTC))]
    [('rejected', 'no_valid_items')]
    """
    base = AuditEvent(tenant, "", at, carrier=carrier)
    if isinstance(error := answer.get("error"), Mapping):  # refused in the answer itself
        return [replace(base, outcome="rejected", code=code_of(str(error.get("code", ""))))]
    if answer.get("ignored") is not None:
        return [replace(base, outcome="ignored", code=code_of(str(answer["ignored"])))]
    found: list[AuditEvent] = []
    accepted, duplicates = int(answer.get("accepted", 0)), int(answer.get("duplicates", 0))
    if accepted:
        found.append(replace(base, outcome="accepted", code="events"))
    elif "accepted" in answer:
        kind = "delivery" if answer.get("duplicate_delivery") else "events"
        outcome = "duplicate" if duplicates else "ignored"
        found.append(replace(base, outcome=outcome, code=kind if duplicates else "no_events"))
    if answer.get("parked") and answer.get("already_parked"):
        found.append(replace(base, outcome="parked", code="already_parked"))
    elif answer.get("parked"):
        code = "failed_items" if int(answer.get("failed_items", 0)) else "unparseable"
        found.append(replace(base, outcome="parked", code=code))
    return found


def audit_delivery(
    auditor: Auditor, tenant: str, carrier: str, answer: Mapping[str, Any], at: datetime
) -> None:
    """Record an answered delivery and flush; never raises (the answer must go out)."""
    try:
        for event in delivery_outcomes(tenant, carrier, answer, at):
            auditor.record(event)
        auditor.flush()
    except Exception as exc:  # the audit is best effort; the delivery is stored
        log.warning("audit of a delivery failed: %s", type(exc).__name__)
