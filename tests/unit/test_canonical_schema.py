"""The published canonical submit schema is generated from the pydantic models and fresh."""

from __future__ import annotations

import json
from pathlib import Path

from gateway.carriers.canonical_format import SCHEMA_PATH, schema_text
from gateway.models import Status

ROOT = Path(__file__).resolve().parents[2]


def test_committed_schema_is_fresh() -> None:
    committed = (ROOT / SCHEMA_PATH).read_text("utf-8")
    assert committed == schema_text(), f"{SCHEMA_PATH} is stale: run `waybill adapters docs`"


def test_schema_describes_an_item_or_a_bounded_batch() -> None:
    schema = json.loads(schema_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["anyOf"] == [
        {"$ref": "#/$defs/CanonicalItem"},
        {"$ref": "#/$defs/CanonicalBatch"},
    ]
    events = schema["$defs"]["CanonicalBatch"]["properties"]["events"]
    assert (events["minItems"], events["maxItems"]) == (1, 500)
    item = schema["$defs"]["CanonicalItem"]
    assert item["additionalProperties"] is False
    assert item["required"] == ["status", "timestamp"]
    assert item["properties"]["timestamp"]["format"] == "date-time"
    assert {s.value for s in Status} | {"failed"} <= set(item["properties"]["status"]["examples"])
