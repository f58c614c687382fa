"""Reading a canonical body (``POST /v1/events``) into adapter-level events, item by item.

The format is :mod:`gateway.carriers.canonical_format`; the canonical adapter
(``adapters/canonical.py``) parses with :func:`parse_body`, and the submit endpoint
(:mod:`gateway.api.submit`) reads item by item with :func:`read_items` and
:func:`parse_item` to answer per item.

Example:
    >>> item = CanonicalItem.model_validate(
    ...     {"tracking_id": "1z9", "status": "failed", "timestamp": "2024-06-03T11:30:00-05:00"})
    >>> event = to_parsed(item, {"failed": Status.EXCEPTION})
    >>> event.status.value, event.occurred_at.isoformat(), event.carrier_code
    ('exception', '2024-06-03T16:30:00+00:00', 'failed')
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from gateway.carriers.adapter import ParsedEvent, ParseResult, map_status
from gateway.carriers.canonical_format import MAX_BATCH, CanonicalItem, describe
from gateway.carriers.payload import invalid_text_at
from gateway.errors import BadRequestError, ParseError
from gateway.models import Location, Status


def read_items(body: bytes) -> list[Any]:
    """The raw items of a body; :class:`BadRequestError` when the body as a whole is unusable."""
    if not body.strip():
        raise BadRequestError("body is empty: send one item or {events: [...]}", code="empty_batch")
    try:
        value = json.loads(body.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # invalid JSON or UTF-8, too deep
        raise BadRequestError("body is not valid UTF-8 JSON", code="malformed_body") from exc
    if not isinstance(value, dict):
        raise BadRequestError(
            "body must be one item or {events: [...]}, not a bare array or scalar",
            code="malformed_body",
        )
    if "events" not in value:
        return [value]
    items = value["events"]
    if set(value) != {"events"} or not isinstance(items, list):
        raise BadRequestError("a batch is {events: [...]} and nothing else", code="malformed_body")
    if not items:
        raise BadRequestError("the batch has no events", code="empty_batch")
    if len(items) > MAX_BATCH:
        raise BadRequestError(f"a batch holds at most {MAX_BATCH} events", code="batch_too_large")
    return items


def to_parsed(item: CanonicalItem, status_map: Mapping[str, Status]) -> ParsedEvent:
    """The adapter-level event of a valid item; ``carrier_code`` keeps the status as sent."""
    occurred_at, tz_source, local = item.instant()
    place = item.location.model_dump() if item.location else {}
    return ParsedEvent(
        tracking_number=item.number(),
        status=map_status(status_map, item.status),
        occurred_at=occurred_at,
        tz_source=tz_source,
        occurred_at_local=local,
        carrier_code=item.status,
        carrier_text=item.description or None,
        location=Location(**place, lat=item.lat, lon=item.lon),
        metadata=item.metadata_text(),
    )


def parse_item(raw: object, status_map: Mapping[str, Status]) -> ParsedEvent:
    """Validate one raw item; a ValueError (pydantic's ValidationError is one) when invalid."""
    where = invalid_text_at(raw, "item")
    if where is not None:
        raise ValueError(f"{where} is not valid Unicode text (a lone surrogate)")
    return to_parsed(CanonicalItem.model_validate(raw), status_map)


def parse_body(body: bytes, status_map: Mapping[str, Status]) -> ParseResult:
    """The whole body as an adapter's ParseResult: good items, and why the others failed."""
    try:
        items = read_items(body)
    except BadRequestError as exc:
        raise ParseError(exc.message) from None
    events: list[ParsedEvent] = []
    failures: list[str] = []
    for index, raw in enumerate(items):
        try:
            events.append(parse_item(raw, status_map))
        except ValueError as exc:  # pydantic's ValidationError is one
            failures.append(f"item {index}: {describe(exc)}")
    return ParseResult(events=events, failures=failures)
