"""The ingest pipeline, top to bottom: route → verify → count → read → store → answer.

One delivery, in the order of the methods below: :meth:`Pipeline.ingest` finds the
tenant and the adapter (:meth:`~Pipeline.route`), verifies the signature over the raw
bytes (:meth:`~Pipeline.verify`), counts the verified delivery against the tenant's plan
(``usage``), parses and normalises it (:meth:`~Pipeline.read`), stores it
(:meth:`~Pipeline.store`) or parks it (:meth:`~Pipeline.park`), and records the outcome
(:meth:`~Pipeline.audited`). :meth:`~Pipeline.replay`, for ops only, sits next to
parking. Dependencies are passed in; nothing here is global.

Answers (:mod:`gateway.ingest.answers`): 200 stored, ignored, or stored in part with the
delivery parked; 202 parked; a :class:`~gateway.errors.GatewayError` otherwise.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from pydantic import ValidationError

from gateway.audit.outcomes import NO_AUDIT, Auditor, audit_delivery
from gateway.carriers.adapter import Adapter, Delivery, ParseResult, Secrets
from gateway.carriers.discovery import Registry
from gateway.carriers.generic import build_adapter
from gateway.carriers.payload import is_valid_text, valid_text
from gateway.errors import (
    NotFoundError,
    ParseError,
    SignatureError,
    StoreUnavailableError,
    UnsupportedMediaTypeError,
)
from gateway.ingest.answers import (
    Answer,
    WebhookIgnored,
    WebhookParked,
    WebhookPartlyParked,
    WebhookStored,
    reasons,
    summary,
)
from gateway.ingest.normalise import to_canonical
from gateway.models import CanonicalEvent, Status
from gateway.observability import printable
from gateway.routes import NO_ROUTE
from gateway.store.dynamo import DynamoStore, RecordResult, Source
from gateway.store.parked import ParkedDelivery, ParkingLot, safe_headers
from gateway.tenancy.directory import visible_tenant
from gateway.tenancy.keysets import SecretsProvider
from gateway.tenancy.tenants import TenantConfig

log = logging.getLogger("waybill.pipeline")
NO_EVENT = "the delivery carries no tracking event"


class Counter(Protocol):
    """Where the pipeline counts outcomes (EMF metrics on AWS); no tenant dimension."""

    def __call__(self, name: str, value: float = 1) -> None: ...


Usage = Callable[[str], None]
"""Counts one verified delivery of a tenant against its quota and daily hard cap, or
raises :class:`~gateway.errors.ThrottledError`. Called after the signature check, so a
stranger who knows a webhook URL never spends the tenant's day."""


def _admit_all(tenant: str) -> None:
    """The default :data:`Usage`: nothing is counted."""


@dataclass(frozen=True)
class IngestResponse:
    """What the webhook endpoint answers: a status and one of the typed answers."""

    status: int
    body: Answer


@dataclass(frozen=True)
class Reading:
    """A delivery as read: the adapter's result, its canonical events, and why items failed."""

    parsed: ParseResult
    events: list[CanonicalEvent] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Pipeline:
    """Everything the ingest path needs, injected."""

    adapters: Registry
    tenants: Callable[[str], TenantConfig | None]
    secrets: SecretsProvider
    store: DynamoStore
    parking: ParkingLot
    count: Counter
    audit: Auditor = NO_AUDIT
    usage: Usage = _admit_all

    def ingest(self, delivery: Delivery) -> IngestResponse:
        """Verify, parse, normalise and store one carrier delivery; audit its outcome."""
        tenant, adapter = self.authenticate(delivery)
        self.usage(tenant.id)  # quota and hard cap count verified deliveries only
        try:
            reading = self.read(tenant, adapter, delivery)
            stored = self.store_reading(tenant, delivery, reading)
        except StoreUnavailableError:
            raise  # an outage: the carrier retries, and dedupe makes that safe
        except Exception as exc:  # authentic but unreadable or unstorable: park, never drop
            parked = self.park(tenant, adapter, delivery, exc)
            return self.audited(delivery, IngestResponse(202, parked), [])
        if not reading.failures:
            return self.audited(delivery, stored, reading.events)
        # Items that could not be read: the delivery is parked (202 if nothing else was
        # read), and the good items of a batch are stored as well (200).
        why = ParseError("; ".join(reading.failures))
        parked = self.park(tenant, adapter, delivery, why)
        if not reading.events or not isinstance(stored.body, WebhookStored):
            return self.audited(delivery, IngestResponse(202, parked), [])
        both = WebhookPartlyParked(
            **stored.body.model_dump(),
            parked=True,
            already_parked=parked.already_parked,
            failed_items=len(reading.failures),
        )
        return self.audited(delivery, IngestResponse(200, both), reading.events)

    # -- who sent it -------------------------------------------------------------------

    def authenticate(self, delivery: Delivery) -> tuple[TenantConfig, Adapter]:
        """The tenant and adapter of an authentic delivery; raises when it is not one."""
        tenant, adapter = self.route(delivery)
        self.verify(adapter, delivery)
        return tenant, adapter

    def route(self, delivery: Delivery) -> tuple[TenantConfig, Adapter]:
        """The tenant and its enabled adapter named by the path; 404 or 415 otherwise.

        An unknown tenant, a broken one (its file invalid: the reason is logged) and a
        carrier it does not have all answer as a path that names no route does (404
        ``not_found``), before any signature check: a stranger learns nothing from it.
        """
        tenant = visible_tenant(self.tenants, delivery.tenant)
        adapter = self.adapter(tenant, delivery.carrier)
        if tenant is None or adapter is None or not tenant.carrier_enabled(adapter.id):
            raise NotFoundError(NO_ROUTE)
        content_type = (delivery.header("content-type") or "").split(";")[0].strip().lower()
        if content_type not in adapter.content_types:
            raise UnsupportedMediaTypeError(f"expected {' or '.join(adapter.content_types)}")
        return tenant, adapter

    def adapter(self, tenant: TenantConfig | None, carrier: str) -> Adapter | None:
        """The loaded adapter of that id, else the tenant's generic partner of that id.

        A loaded adapter always wins: a tenant file cannot replace vetted code (tenant
        validation also refuses a generic partner named like an in-tree adapter).
        """
        adapter = self.adapters.get(carrier)
        options = tenant.carriers.get(carrier) if tenant else None
        if adapter is None and options is not None and options.generic is not None:
            adapter = build_adapter(carrier, options.generic)
        return adapter

    def verify(self, adapter: Adapter, delivery: Delivery) -> None:
        """Check the signature over the raw bytes with every valid secret; fail closed."""
        tenant, at = delivery.tenant, delivery.received_at
        secrets = Secrets(
            self._secrets(tenant, adapter.id, at),
            slots=lambda slot: self._secrets(tenant, f"{adapter.id}.{slot}", at),
        )
        try:
            adapter.verify(delivery, secrets, at.timestamp())
        except SignatureError as exc:
            self.count("SignatureFailures")
            why = printable(exc.message)  # names the failing step, never a value
            log.info("signature rejected: %s (%s)", exc.code, why, extra={"reason": why})
            raise

    def _secrets(self, tenant: str, key: str, at: datetime) -> list[str]:
        try:
            return self.secrets.valid_secrets(tenant, key, at)
        except Exception as exc:  # fail closed, but retryable: the secret store is down
            log.error("secrets lookup failed: %s", type(exc).__name__)
            raise StoreUnavailableError("secrets unavailable", code="secrets_unavailable") from exc

    # -- what it says ------------------------------------------------------------------

    def read(self, tenant: TenantConfig, adapter: Adapter, delivery: Delivery) -> Reading:
        """Parse, then normalise item by item: one bad item never sinks the good ones.

        No I/O: what ``bench/pipeline_cpu.py`` times, with :meth:`authenticate`.
        """
        parsed = adapter.parse(delivery)
        if parsed.delivery_id is not None and not is_valid_text(parsed.delivery_id):
            raise ParseError("delivery id is not valid Unicode text")
        return self.canonical(tenant, adapter.id, parsed, delivery.received_at)

    def canonical(
        self, tenant: TenantConfig, carrier: str, parsed: ParseResult, received_at: datetime
    ) -> Reading:
        """Normalise what an adapter read, item by item (a webhook's body, or a carrier
        API's answer for one tracking number): one bad item never sinks the good ones."""
        reading = Reading(parsed, failures=list(parsed.failures))
        for index, item in enumerate(parsed.events):
            try:
                reading.events.append(
                    to_canonical(
                        item,
                        tenant=tenant.id,
                        carrier=carrier,
                        received_at=received_at,
                        delivery_id=parsed.delivery_id,
                    )
                )
            except ValueError as exc:  # pydantic's ValidationError is one too
                reading.failures.append(f"event {index}: {_why(exc)}")
        return reading

    # -- what becomes of it ------------------------------------------------------------

    def store_reading(
        self, tenant: TenantConfig, delivery: Delivery, reading: Reading
    ) -> IngestResponse:
        """Store the events (dedupe and state in the store), or say why there are none."""
        parsed, events = reading.parsed, reading.events
        ignored = parsed.ignored
        if ignored is None and not events and not parsed.failures:  # never a silent 200
            ignored = summary(list(parsed.ignored_items)) or NO_EVENT
        if ignored is not None:
            self.count("DeliveriesIgnored")
            nothing = WebhookIgnored(accepted=0, duplicates=0, events=[], ignored=ignored)
            return IngestResponse(200, nothing)
        digest = _sha256(delivery)
        key = f"id:{parsed.delivery_id}" if parsed.delivery_id else f"sha256:{digest}"
        result = self.record(
            tenant, events, f"{delivery.carrier}:{key}", digest, delivery.received_at, "push"
        )
        answer = WebhookStored(
            accepted=len(result.accepted),
            duplicates=len(result.duplicates),
            events=result.accepted + result.duplicates,
            duplicate_delivery=result.duplicate_delivery,
            ignored_items=reasons(list(parsed.ignored_items)) or None,
        )
        return IngestResponse(200, answer)

    def record(
        self,
        tenant: TenantConfig,
        events: list[CanonicalEvent],
        delivery_key: str,
        body_sha256: str,
        received_at: datetime,
        source: Source,
    ) -> RecordResult:
        """Store canonical events (the one write path: a webhook's, a poll's) and count
        what became of them."""
        result = self.store.record(
            events,
            delivery_key=delivery_key,
            now=received_at,
            retention_days=tenant.retention_days,
            body_sha256=body_sha256,
            source=source,
        )
        self.count("EventsAccepted", len(result.accepted))
        self.count("EventsDuplicate", len(result.duplicates))
        self.count("UnmappedStatus", sum(1 for e in events if e.status is Status.UNKNOWN))
        if result.duplicate_delivery:
            self.count("DeliveriesDuplicate")
        return result

    def park(
        self, tenant: TenantConfig, adapter: Adapter, delivery: Delivery, exc: Exception
    ) -> WebhookParked:
        """Keep an authentic delivery that could not be read or stored, raw, for replay."""
        reason = valid_text(f"{type(exc).__name__}: {exc}")[:500]
        parked = ParkedDelivery(
            tenant=tenant.id,
            carrier=adapter.id,
            body_sha256=_sha256(delivery),
            body=delivery.body,
            headers=safe_headers(delivery.headers, adapter.scheme.headers),
            reason=reason,
            received_at=delivery.received_at,
        )
        fresh = self.parking.park(parked, retention_days=tenant.retention_days)
        self.count("DeliveriesParked" if fresh else "DeliveriesParkedAgain")
        why = printable(reason)  # bounded, control characters escaped; never the body
        log.warning("delivery parked: carrier=%s reason=%s", adapter.id, why, extra={"reason": why})
        return WebhookParked(parked=True, already_parked=not fresh)

    def replay(self, parked: ParkedDelivery) -> IngestResponse:
        """Parse a parked delivery again (it was verified when parked) and store it.

        On success the parked copy is removed; if it still cannot be parsed, it stays
        parked and the error propagates. Only ops reach this, through the CLI.
        """
        tenant = self.tenants(parked.tenant)
        adapter = self.adapter(tenant, parked.carrier)
        if tenant is None or adapter is None:
            raise NotFoundError(f"unknown tenant or carrier: {parked.tenant}/{parked.carrier}")
        delivery = Delivery(
            tenant=parked.tenant,
            carrier=parked.carrier,
            body=parked.body,
            headers={k.lower(): tuple(v) for k, v in parked.headers.items()},
            received_at=parked.received_at,
        )
        reading = self.read(tenant, adapter, delivery)
        outcome = self.store_reading(tenant, delivery, reading)
        if reading.failures:
            failures = reading.failures
            raise ParseError(f"{len(failures)} items still unreadable: {failures[0]}")
        self.parking.remove(parked)
        return outcome

    def audited(
        self, delivery: Delivery, response: IngestResponse, events: list[CanonicalEvent]
    ) -> IngestResponse:
        """Record the answer's outcome (refusals are recorded by the handler), then flush."""
        answer = response.body.model_dump(exclude_none=True)
        audit_delivery(self.audit, delivery.tenant, delivery.carrier, answer, delivery.received_at)
        return response


def _why(exc: ValueError) -> str:
    """What was wrong with an item: field names only, never the values."""
    if isinstance(exc, ValidationError):
        return "invalid " + ", ".join(".".join(map(str, e["loc"])) for e in exc.errors())
    return str(exc)[:100]


def _sha256(delivery: Delivery) -> str:
    return hashlib.sha256(delivery.body).hexdigest()
