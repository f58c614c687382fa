"""Fixtures shared by the adapter suites.

Fixture files live in ``tests/fixtures/<adapter id>/``:

- ``<name>.json``: the exact body bytes (never re-serialised);
- ``<name>.meta.json``: where it came from (and any published vector);
- ``<name>.headers.json`` (optional): the non-signature headers the carrier sends
  (a scheme's ``?name`` query credential is added by ``sign`` at test time);
- ``<name>.expected.json``: the outcome of ``parse`` + ``to_canonical`` (tenant "acme"),
  one of ``{"delivery_id", "ignored": null, "events": [...]}`` (events without
  ``received_at``/``delivery_id``), ``{"delivery_id", "ignored": "<reason>", "events": []}``
  or ``{"parse_error": "<message fragment>"}``. An event whose status is ``unknown`` on
  purpose is excused by ``"unknown_on_purpose": {"<carrier_code>": "<why>"}`` (checked by
  ``test_status_tables.py``; the shared suite does not compare it with the parse).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime

import pytest

from gateway.carriers.adapter import Delivery
from gateway.signing.spec import QUERY_PREFIX

RECEIVED_AT = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)

MakeDelivery = Callable[[str, bytes, Mapping[str, str | tuple[str, ...]]], Delivery]


def build_delivery(
    adapter_id: str, body: bytes, headers: Mapping[str, str | tuple[str, ...]]
) -> Delivery:
    """A delivery for tenant "acme" as the edge builds it: names lower-cased, values tuples.

    A ``?name`` key (what ``sign`` returns for a query-parameter scheme) becomes a query
    parameter; as at the edge, the last value of a repeated parameter wins.
    """
    folded: dict[str, tuple[str, ...]] = {}
    query: dict[str, str] = {}
    for name, value in headers.items():
        values = (value,) if isinstance(value, str) else value
        if name.startswith(QUERY_PREFIX):
            query[name.removeprefix(QUERY_PREFIX)] = values[-1]
            continue
        folded[name.lower()] = folded.get(name.lower(), ()) + values
    return Delivery(
        tenant="acme",
        carrier=adapter_id,
        body=body,
        headers=folded,
        received_at=RECEIVED_AT,
        query=query,
    )


@pytest.fixture
def make_delivery() -> MakeDelivery:
    """``make_delivery(adapter_id, body, headers) -> Delivery``."""
    return build_delivery
