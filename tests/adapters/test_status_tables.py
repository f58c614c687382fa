"""Status tables against the carriers' own codes, and deliveries that would say nothing.

Parametrised over every discovered adapter (:func:`gateway.carriers.discovery.load_adapters`) and
every body fixture it ships (``gateway/testkit/fixtures.py``):

- no parsed event is ``unknown`` unless the fixture's ``.expected.json`` lists its
  ``carrier_code`` under ``"unknown_on_purpose"`` (``{"<carrier_code>": "<why>"}``), and
  every code listed there really comes out ``unknown`` (no stale excuse);
- a body that yields no event says why: ``ignored`` or ``failures``, never an empty result;
- an event built from shipment-level facts (``metadata["event_kind"] == "shipment_status"``)
  is alone in its result: it stands in for missing scans, never beside them.

The shared suite (``test_adapters.py``) drops ``unknown_on_purpose`` before comparing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gateway.carriers import discovery
from gateway.carriers.adapter import SHIPMENT_STATUS, Adapter, ParseResult
from gateway.errors import ParseError
from gateway.models import Status
from gateway.testkit.fixtures import body_paths, carrier_headers
from tests.adapters.conftest import build_delivery

ON_PURPOSE = "unknown_on_purpose"

ADAPTERS = sorted(discovery.load_adapters().adapters.values(), key=lambda a: a.id)
CASES = [(adapter, path) for adapter in ADAPTERS for path in body_paths(adapter.id)]
IDS = [f"{adapter.id}/{path.name.removesuffix('.json')}" for adapter, path in CASES]


def expected_of(body_path: Path) -> dict[str, Any]:
    sidecar = body_path.with_name(body_path.name.removesuffix(".json") + ".expected.json")
    return dict(json.loads(sidecar.read_text("utf-8")))


def parsed(adapter: Adapter, body_path: Path) -> ParseResult | None:
    """The fixture parsed as delivered (``None`` when it is a deliberate parse error)."""
    delivery = build_delivery(adapter.id, body_path.read_bytes(), carrier_headers(body_path))
    if "parse_error" in expected_of(body_path):
        with pytest.raises(ParseError):
            adapter.parse(delivery)
        return None
    return adapter.parse(delivery)


@pytest.mark.parametrize(("adapter", "body_path"), CASES, ids=IDS)
def test_no_fixture_event_is_unknown_unless_on_purpose(adapter: Adapter, body_path: Path) -> None:
    result = parsed(adapter, body_path)
    excused = expected_of(body_path).get(ON_PURPOSE, {})
    assert isinstance(excused, dict) and all(isinstance(v, str) and v for v in excused.values())
    if result is None:
        assert not excused, "a parse-error fixture has no event to excuse"
        return
    unknown = {e.carrier_code for e in result.events if e.status is Status.UNKNOWN}
    unexplained = sorted(str(code) for code in unknown - set(excused))
    assert not unexplained, f"native codes parsed to unknown: {unexplained}"
    stale = sorted(set(excused) - {str(code) for code in unknown})
    assert not stale, f"{ON_PURPOSE} lists codes that are not unknown: {stale}"


@pytest.mark.parametrize(("adapter", "body_path"), CASES, ids=IDS)
def test_a_body_without_events_says_why(adapter: Adapter, body_path: Path) -> None:
    result = parsed(adapter, body_path)
    if result is None:
        return
    reasons = result.ignored or result.failures or result.ignored_items
    assert result.events or reasons, "no event and no reason"
    if result.ignored is not None:
        assert result.ignored.strip(), "an ignored reason is not blank"


@pytest.mark.parametrize(("adapter", "body_path"), CASES, ids=IDS)
def test_a_shipment_status_event_stands_alone(adapter: Adapter, body_path: Path) -> None:
    result = parsed(adapter, body_path)
    if result is None:
        return
    standing_in = [e for e in result.events if e.metadata.get("event_kind") == SHIPMENT_STATUS]
    numbers = [e.tracking_number for e in standing_in]
    assert len(numbers) == len(set(numbers)), "one shipment-level event per shipment"
    scanned = {e.tracking_number for e in result.events if e not in standing_in}
    assert not scanned & set(numbers), "a shipment-level event beside real scans"


def test_every_adapter_is_covered() -> None:
    """Discovery is the list: a new adapter's fixtures are checked without editing this file."""
    assert {a.id for a in ADAPTERS} >= {"aftership", "easypost", "fedex", "shippo", "ups"}
    assert all(body_paths(a.id) for a in ADAPTERS if a.webhook), "every webhook has fixtures"
