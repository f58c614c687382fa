"""``POST /v1/events``: canonical updates from a tenant's own systems, one or a batch.

The body is one item (a JSON object) or ``{"events": [item, ...]}`` with 1..500
items; a bare JSON array is refused (the envelope leaves room for batch fields).
Each item is validated on its own (:class:`CanonicalItem`): one bad item never
rejects the good ones. The tenant comes from the API key (checked at the edge) and
must opt in with ``[carriers.canonical]`` (404 ``unknown_route`` otherwise); events
are stored under carrier ``canonical``.

200 ``{results: [{index, status, event_id?, error?}], accepted, duplicates, rejected}``
when some item was stored or already known; 400 ``no_valid_items`` (same body) when
every item was rejected; 400 ``malformed_body`` | ``empty_batch`` | ``batch_too_large``
when the body as a whole cannot be read; 415 unless ``application/json``. The edge's
body limit (256 KiB, 413) applies first. Nothing rejected is parked: the tenant's system
has the per-item reasons and resends; a resent item is a ``duplicate``, never stored twice.
Each submission is audited like a webhook delivery (carrier ``canonical``): ``accepted``,
``duplicate``, or ``rejected`` with ``no_valid_items``.

Reading the body (:mod:`gateway.carriers.canonical_items`) is the canonical adapter's
own code; this module answers the request.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gateway.audit.outcomes import audit_delivery
from gateway.carriers.adapter import Adapter
from gateway.carriers.canonical_format import describe
from gateway.carriers.canonical_items import parse_item, read_items
from gateway.errors import NotFoundError, UnsupportedMediaTypeError
from gateway.ingest.normalise import to_canonical
from gateway.models import FUTURE_TOLERANCE, CanonicalEvent, Status, plausible_time
from gateway.tenancy.tenants import TenantConfig

if TYPE_CHECKING:
    from gateway.services import Services

CARRIER = "canonical"
IMPLAUSIBLE = (
    f"timestamp: must lie between 1970 and {FUTURE_TOLERANCE.days} days after it is submitted"
)


def _route(
    services: Services, tenant: str, headers: Mapping[str, tuple[str, ...]]
) -> tuple[TenantConfig, Adapter]:
    config = services.pipeline.tenants(tenant)
    adapter = services.pipeline.adapters.get(CARRIER)
    if config is None or adapter is None or not config.carrier_enabled(CARRIER):
        raise NotFoundError("canonical submit is not enabled for this tenant", code="unknown_route")
    types = {v.split(";")[0].strip().lower() for v in headers.get("content-type", ())}
    if len(types) != 1 or not types <= set(adapter.content_types):
        raise UnsupportedMediaTypeError(f"expected {' or '.join(adapter.content_types)}")
    return config, adapter


def submit(
    services: Services, tenant: str, headers: Mapping[str, tuple[str, ...]], body: bytes
) -> tuple[int, dict[str, Any]]:
    """Store each canonical item on its own; per-item results in input order."""
    config, adapter = _route(services, tenant, headers)
    received_at = services.clock()
    outcomes: list[CanonicalEvent | dict[str, str]] = []  # the event, or why it was rejected
    for raw in read_items(body):
        try:
            parsed = parse_item(raw, adapter.status_map)
            if not plausible_time(parsed.occurred_at, received_at):
                raise ValueError(IMPLAUSIBLE)
            outcomes.append(
                to_canonical(
                    parsed,
                    tenant=config.id,
                    carrier=adapter.id,
                    received_at=received_at,
                    delivery_id=None,
                )
            )
        except ValueError as exc:  # pydantic's ValidationError is one
            outcomes.append({"code": "invalid_item", "message": describe(exc)})
    events = [o for o in outcomes if isinstance(o, CanonicalEvent)]
    fresh: set[str] = set()
    if events:
        digest = hashlib.sha256(body).hexdigest()
        recorded = services.store.record(
            events,
            delivery_key=f"{CARRIER}:sha256:{digest}",
            now=received_at,
            retention_days=config.retention_days,
            body_sha256=digest,
            source="submit",
        )
        fresh = set(recorded.accepted)
    results: list[dict[str, Any]] = []
    for index, outcome in enumerate(outcomes):
        if not isinstance(outcome, CanonicalEvent):
            results.append({"index": index, "status": "rejected", "error": outcome})
            continue
        status = "accepted" if outcome.event_id in fresh else "duplicate"
        fresh.discard(outcome.event_id)  # the same item twice in a batch: accepted once
        results.append({"index": index, "status": status, "event_id": outcome.event_id})
    totals = {key: sum(1 for r in results if r["status"] == s) for s, key in _TOTALS}
    count = services.pipeline.count
    count("EventsAccepted", totals["accepted"])
    count("EventsDuplicate", totals["duplicates"])
    count("SubmitItemsRejected", totals["rejected"])
    count("UnmappedStatus", sum(1 for e in events if e.status is Status.UNKNOWN))
    if not events:
        error = {"code": "no_valid_items", "message": "every item was rejected"}
        answered: tuple[int, dict[str, Any]] = (400, {"error": error, "results": results, **totals})
    else:
        answered = (200, {"results": results, **totals})
    audit_delivery(services.pipeline.audit, config.id, CARRIER, answered[1], received_at)
    return answered


_TOTALS = (("accepted", "accepted"), ("duplicate", "duplicates"), ("rejected", "rejected"))
