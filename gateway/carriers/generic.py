"""Generic partners, declared entirely in a tenant file: a signature spec plus a JSON field map.

For a partner not worth a module, ``[carriers.<id>.generic]`` says how it signs (the
fields of :class:`~gateway.signing.spec.SignatureSpec`) and where each canonical field
sits in its JSON: dotted paths relative to each event (``$.`` starts from the body root;
digits index arrays). :func:`build_adapter` turns that into a real adapter whose
``verify``/``sign`` execute the spec and whose ``parse`` follows the map, reporting an
unreadable event as a failed item instead of losing the batch. A generic partner never
replaces a loaded adapter: the tenant file is refused when its id names an in-tree
adapter, and the pipeline prefers any loaded adapter of that id.

Example:
    >>> lookup({"data": {"events": [{"code": "DLV"}]}}, "data.events.0.code")
    'DLV'
    >>> partner = GenericPartner.model_validate({
    ...     "label": "Parcel Pal", "signature": {"kind": "hmac", "header": "X-PP-Signature"},
    ...     "fields": {"tracking_number": "number", "status": "code", "occurred_at": "at",
    ...                "status_map": {"DLV": "delivered"}}})
    >>> dict(build_adapter("parcelpal", partner).status_map)
    {'dlv': <Status.DELIVERED: 'delivered'>}
"""

from __future__ import annotations

import importlib.util
import pkgutil
from datetime import datetime
from functools import cache, cached_property
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictStr,
    StringConstraints,
    field_validator,
)

from gateway.carriers.adapter import Adapter, Delivery, ParsedEvent, ParseResult
from gateway.carriers.payload import (
    as_list,
    as_object,
    collect,
    country_code,
    load_object,
    location,
    text,
)
from gateway.carriers.spec_model import TenantSignature
from gateway.carriers.status import StatusTable, status_of
from gateway.carriers.timeparse import from_unix, parse_instant
from gateway.errors import ParseError
from gateway.models import Status, TzSource

_PATH = r"(\$\.)?[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*"
FieldPath = Annotated[str, StringConstraints(pattern=f"^{_PATH}$", max_length=200)]
_MAX_UNIX_SECONDS = 10**11  # larger numbers are milliseconds or garbage: refused


class FieldMap(BaseModel):
    """Where each canonical field is, and how native statuses map to canonical ones."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    events: Annotated[str, StringConstraints(pattern=f"^({_PATH})?$", max_length=200)] = ""
    tracking_number: FieldPath
    status: FieldPath
    occurred_at: FieldPath
    text: FieldPath | None = None
    code: FieldPath | None = None
    city: FieldPath | None = None
    region: FieldPath | None = None
    postal_code: FieldPath | None = None
    country: FieldPath | None = None
    lat: FieldPath | None = None
    lon: FieldPath | None = None
    estimated_delivery: FieldPath | None = None
    delivery_id: FieldPath | None = None
    status_map: dict[StrictStr, Status] = Field(default_factory=dict)

    @field_validator("status_map")
    @classmethod
    def _lower_case_keys(cls, value: dict[str, Status]) -> dict[str, Status]:
        lowered = {k.lower(): v for k, v in value.items()}
        if len(lowered) != len(value):
            raise ValueError("native codes differ only by case")
        return lowered

    @cached_property
    def statuses(self) -> StatusTable:
        """The status map as a table (main codes only)."""
        return StatusTable(self.status_map)


class GenericPartner(BaseModel):
    """A partner declared in a tenant file: label, signature spec, field map."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    label: StrictStr = Field(min_length=1, max_length=100)
    signature: TenantSignature
    fields: FieldMap


@cache
def in_tree_ids() -> frozenset[str]:
    """Module names of the in-tree ``adapters`` package, found without importing them."""
    found = importlib.util.find_spec("adapters")
    locations = found.submodule_search_locations if found else None
    return frozenset(m.name for m in pkgutil.iter_modules(locations or []))


def lookup(data: Any, path: str) -> Any:
    """The value at a dotted path; ``None`` where the path leads nowhere."""
    node = data
    for part in path.removeprefix("$.").split("."):
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def _scalar(value: object) -> str | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return text(value)


def _instant(value: object, path: str, what: str) -> tuple[datetime, TzSource, str | None]:
    if isinstance(value, str) and value.strip():
        return parse_instant(value, path, where=what)
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not 0 <= value < _MAX_UNIX_SECONDS:
            raise ParseError(f"{what} {path} is not unix seconds")
        return from_unix(value), TzSource.CARRIER_UTC, None
    raise ParseError(f"{what} has no {path}")


def _coordinate(value: object, limit: int, path: str | None, what: str) -> float | None:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    if abs(value) > limit:
        raise ParseError(f"{what} {path} is out of range")
    return float(value)


def _event(fields: FieldMap, raw: object, body: dict[str, Any], what: str) -> ParsedEvent:
    """One event; messages start with ``what`` ("event 2: event")."""
    item = as_object(raw, what)

    def get(name: str) -> Any:
        path = getattr(fields, name)
        return None if path is None else lookup(body if path.startswith("$.") else item, path)

    number = _scalar(get("tracking_number"))
    if number is None:
        raise ParseError(f"{what} has no {fields.tracking_number}")
    occurred_at, tz_source, local = _instant(get("occurred_at"), fields.occurred_at, what)
    native = _scalar(get("status"))
    metadata: dict[str, str] = {}
    place = location(
        {
            "city": _scalar(get("city")),
            "region": _scalar(get("region")),
            "postal_code": _scalar(get("postal_code")),
            "country": country_code(_scalar(get("country")), metadata),
            "lat": _coordinate(get("lat"), 90, fields.lat, what),
            "lon": _coordinate(get("lon"), 180, fields.lon, what),
        }
    )
    return ParsedEvent(
        tracking_number=number,
        status=status_of(fields.statuses, native).status,
        occurred_at=occurred_at,
        tz_source=tz_source,
        occurred_at_local=local,
        carrier_code=_scalar(get("code")) or native,
        carrier_text=_scalar(get("text")),
        location=place,
        estimated_delivery=_scalar(get("estimated_delivery")),
        metadata=metadata,
    )


def parse_with(fields: FieldMap, delivery: Delivery) -> ParseResult:
    """Read a body with a field map; each unreadable event is a failure, not a lost batch."""
    body = load_object(delivery.body)
    items = [body]
    if fields.events:
        items = as_list(lookup(body, fields.events), fields.events, required=True)
    delivery_id = _scalar(lookup(body, fields.delivery_id)) if fields.delivery_id else None

    def read(item: object, where: str) -> list[ParsedEvent]:
        return [_event(fields, item, body, f"{where}: event")]

    events, failures, _ = collect(items, read, "event {}")
    return ParseResult(events=events, delivery_id=delivery_id, failures=failures)


def build_adapter(carrier_id: str, partner: GenericPartner) -> Adapter:
    """A real adapter for a tenant's generic partner (cheap: build it per request)."""

    def parse(delivery: Delivery) -> ParseResult:
        return parse_with(partner.fields, delivery)

    return Adapter(
        id=carrier_id,
        label=partner.label,
        docs_url="",
        scheme=partner.signature,
        statuses=partner.fields.statuses,
        parse=parse,
        identity="the delivery id field if mapped, else the body hash; each event by content",
        notes="A generic partner declared in the tenant file.",
    )
