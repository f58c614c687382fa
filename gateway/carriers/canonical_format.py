"""Waybill's canonical submit format (``POST /v1/events``): one pydantic model per item.

The JSON Schema published at ``docs/schemas/canonical-events.schema.json`` is generated
from these models (:func:`schema_text`); a test fails when the committed copy is stale.

Example:
    >>> item = CanonicalItem.model_validate({"tracking_number": " 1z9 ", "status": "delivered",
    ...                                      "timestamp": "2024-06-03T16:41:00Z"})
    >>> item.number(), item.instant()[1].value
    ('1z9', 'carrier_utc')
    >>> CanonicalItem.model_validate({"tracking_id": "1Z9", "status": "delivered",
    ...                               "timestamp": "2024-06-03T16:41:00"})
    Traceback (most recent call last):
    pydantic_core._pydantic_core.ValidationError: 1 validation error for CanonicalItem
    timestamp
      must carry an offset or Z [type=naive_timestamp, input_value='2024-06-03T16:41:00', ...
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError

from gateway.carriers.timeparse import parse_instant
from gateway.errors import ParseError
from gateway.models import METADATA_MAX_KEYS, METADATA_MAX_VALUE_CHARS, Status, TzSource

MAX_BATCH = 500
UPSTREAM_KEY = "upstream_carrier"
SCHEMA_PATH = "docs/schemas/canonical-events.schema.json"

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
TrackingText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$"),
]
Country = Annotated[
    str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Za-z]{2}$")
]
StatusText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
PostalCode = Annotated[str, StringConstraints(strip_whitespace=True, max_length=20)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]
MetadataKey = Annotated[str, StringConstraints(min_length=1, max_length=64)]
MetadataValue = (
    Annotated[StrictStr, StringConstraints(max_length=METADATA_MAX_VALUE_CHARS)]
    | StrictInt
    | StrictFloat
    | StrictBool
)


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class ItemLocation(_Strict):
    """Where the update happened; every part optional (lat/lon sit on the item)."""

    city: Text | None = None
    region: Text | None = None
    postal_code: PostalCode | None = None
    country: Country | None = Field(default=None, description="ISO 3166-1 alpha-2")


class CanonicalItem(_Strict):
    """One update from a tenant system. Exactly one of ``tracking_number``/``tracking_id``."""

    model_config = ConfigDict(
        title="CanonicalItem",
        json_schema_extra={
            "oneOf": [{"required": ["tracking_number"]}, {"required": ["tracking_id"]}]
        },
    )

    tracking_number: TrackingText | SkipJsonSchema[None] = None
    tracking_id: TrackingText | SkipJsonSchema[None] = Field(
        default=None, description="alias of tracking_number"
    )
    status: StatusText = Field(
        description="a canonical status, or `failed` (= exception); any other value is "
        "stored as `unknown` with the value kept as carrier_code",
        examples=[*(s.value for s in Status), "failed"],
    )
    timestamp: str = Field(
        description="ISO-8601 with an offset or Z; naive and date-only values are refused",
        json_schema_extra={"format": "date-time"},
        max_length=40,
    )
    lat: float | None = Field(default=None, ge=-90, le=90, allow_inf_nan=False)
    lon: float | None = Field(default=None, ge=-180, le=180, allow_inf_nan=False)
    location: ItemLocation | None = None
    carrier: Text | None = Field(
        default=None, description=f"upstream carrier name, kept as metadata.{UPSTREAM_KEY}"
    )
    description: LongText | None = None
    metadata: dict[MetadataKey, MetadataValue] = Field(
        default_factory=dict,
        max_length=METADATA_MAX_KEYS,
        description=f"at most {METADATA_MAX_KEYS} keys (with carrier); values become text",
    )

    @field_validator("timestamp")
    @classmethod
    def _aware(cls, value: str) -> str:
        try:
            _, source, _ = parse_instant(value)
        except ParseError:
            raise PydanticCustomError("timestamp", "is not an ISO-8601 instant") from None
        if source not in (TzSource.CARRIER_OFFSET, TzSource.CARRIER_UTC):
            raise PydanticCustomError("naive_timestamp", "must carry an offset or Z")
        return value

    @model_validator(mode="after")
    def _one_number_bounded_metadata(self) -> CanonicalItem:
        if (self.tracking_number is None) == (self.tracking_id is None):
            raise PydanticCustomError(
                "tracking_number", "give exactly one of tracking_number and tracking_id"
            )
        if len(self.metadata_text()) > METADATA_MAX_KEYS:
            raise PydanticCustomError(
                "metadata", f"metadata and carrier together exceed {METADATA_MAX_KEYS} keys"
            )
        return self

    def number(self) -> str:
        """The tracking number as sent (the core strips and upper-cases it)."""
        return self.tracking_number or self.tracking_id or ""

    def instant(self) -> tuple[datetime, TzSource, str | None]:
        """``(utc instant, tz_source, local wall time)`` of ``timestamp``."""
        return parse_instant(self.timestamp)

    def metadata_text(self) -> dict[str, str]:
        """Metadata as text, plus the upstream carrier when given."""
        text = {k: v if isinstance(v, str) else json.dumps(v) for k, v in self.metadata.items()}
        return text | ({UPSTREAM_KEY: self.carrier} if self.carrier else {})


class CanonicalBatch(_Strict):
    """A batch: ``{"events": [item, ...]}`` with 1..500 items."""

    model_config = ConfigDict(title="CanonicalBatch")

    events: list[CanonicalItem] = Field(min_length=1, max_length=MAX_BATCH)


def describe(exc: ValueError) -> str:
    """What is wrong with an item: field paths and messages, never the values sent."""
    if not isinstance(exc, ValidationError):
        return str(exc)[:200]
    parts = []
    for error in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(p) for p in error["loc"]) or "item"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)[:500]


def schema_text() -> str:
    """The published JSON Schema of a ``POST /v1/events`` body, as committed."""
    schema: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Waybill canonical events (POST /v1/events)",
        "description": "One item, or a batch {events: [...]} of 1..500 items. Generated from "
        "gateway/carriers/canonical_format.py by `waybill adapters docs`; do not edit by hand.",
    }
    schema |= TypeAdapter(CanonicalItem | CanonicalBatch).json_schema()
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
