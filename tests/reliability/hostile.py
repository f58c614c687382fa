"""Authentic deliveries with hostile content, built from every adapter's own fixtures.

Nothing here names a carrier: the samples are every body fixture of every discovered
webhook adapter (``gateway/testkit/fixtures.py``) that parses into events, and every
mutation works on the decoded JSON, found by what the adapter itself reads from it:

- :func:`string_leaves`: every string value, with its path;
- :meth:`Sample.readdressed`: the body with each tracking number the adapter reads
  replaced by a fresh one (tests sharing a table keep apart);
- :func:`shift_years`: every date-like string (ISO ``YYYY-MM-DD…`` or ``YYYYMMDD``)
  moved to another year, kept at four digits;
- :func:`unmap_statuses`: every string the adapter reads a status from (a key of its
  status table, or a part of an event's native code) replaced by a code it cannot map.

Example:
    >>> [path for path, _ in string_leaves({"a": ["x", {"b": "y"}], "n": 1})]
    [('a', 0), ('a', 1, 'b')]
    >>> shift_years({"at": "2024-06-01T10:00:00Z", "day": "20240601", "n": "1Z2024"}, "0025")
    {'at': '0025-06-01T10:00:00Z', 'day': '00250601', 'n': '1Z2024'}
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from gateway.carriers.adapter import Adapter, Delivery
from gateway.carriers.discovery import load_adapters
from gateway.errors import ParseError
from gateway.models import normalise_tracking_number
from gateway.testkit.fixtures import body_paths, carrier_headers
from tests.reliability.carrier_retry import fresh_number
from tests.reliability.fuzz_support import secret_for

LeafPath = tuple[str | int, ...]
_DATE = re.compile(r"^(?:19|20)\d\d(?=-\d\d-\d\d|\d{4}$)")
UNMAPPED = "ZZUNMAPPED"


def string_leaves(value: Any, path: LeafPath = ()) -> Iterator[tuple[LeafPath, str]]:
    """Every string value of a decoded JSON document, depth first, with its path."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, inner in value.items():
            yield from string_leaves(inner, (*path, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from string_leaves(inner, (*path, index))


def map_strings(value: Any, change: Callable[[LeafPath, str], str], path: LeafPath = ()) -> Any:
    """A copy of ``value`` with each string replaced by ``change(path, string)``."""
    if isinstance(value, str):
        return change(path, value)
    if isinstance(value, dict):
        return {k: map_strings(v, change, (*path, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [map_strings(v, change, (*path, i)) for i, v in enumerate(value)]
    return value


def with_leaf(document: Any, path: LeafPath, new: Any) -> Any:
    """A deep copy of ``document`` with the value at ``path`` replaced by ``new``."""
    changed = copy.deepcopy(document)
    target = changed
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = new
    return changed


def shift_years(document: Any, year: str) -> Any:
    """Every date-like string moved to ``year`` (four digits), nothing else changed."""
    return map_strings(document, lambda _, text: _DATE.sub(year, text, count=1))


def encode(document: Any) -> bytes:
    """The JSON bytes of a document, non-ASCII as ``\\u`` escapes (a lone surrogate too)."""
    return json.dumps(document, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Sample:
    """One body fixture of one webhook adapter that parses into events."""

    adapter: Adapter
    path: Path
    document: Any

    @property
    def id(self) -> str:
        return f"{self.adapter.id}/{self.path.stem}"

    @property
    def headers(self) -> dict[str, str]:
        return carrier_headers(self.path)

    def parse(self, body: bytes) -> Any:
        delivery = Delivery("hooli", self.adapter.id, body, {}, datetime.now(UTC))
        return self.adapter.parse(delivery)

    def numbers(self, document: Any | None = None) -> set[str]:
        """The tracking numbers the adapter reads from ``document`` (default: the fixture)."""
        parsed = self.parse(encode(self.document if document is None else document))
        return {normalise_tracking_number(e.tracking_number) for e in parsed.events}

    def readdressed(self) -> tuple[Any, dict[str, str]]:
        """The document with each tracking number replaced by a fresh one: (doc, old → new)."""
        numbers = {n: fresh_number() for n in sorted(self.numbers())}

        def change(_: LeafPath, text: str) -> str:
            try:
                return numbers.get(normalise_tracking_number(text), text)
            except ValueError:
                return text

        return map_strings(self.document, change), numbers

    def number_paths(self, document: Any, number: str) -> list[LeafPath]:
        """Where in ``document`` the tracking number ``number`` is written."""
        return [path for path, text in string_leaves(document) if text.upper() == number]

    def unmap_statuses(self, document: Any) -> Any:
        """``document`` with every string the adapter maps a status from made unmappable."""
        codes = {key.rsplit(":", 1)[-1].lower() for key in self.adapter.status_map}
        for event in self.parse(encode(document)).events:
            codes.update(part.lower() for part in (event.carrier_code or "").split("/") if part)

        def change(_: LeafPath, text: str) -> str:
            return UNMAPPED if text.strip().lower() in codes else text

        return map_strings(document, change)


@cache
def samples() -> tuple[Sample, ...]:
    """Every body fixture of every discovered webhook adapter that parses into events."""
    found = []
    for adapter in sorted(load_adapters().adapters.values(), key=lambda a: a.id):
        if not adapter.webhook:
            continue
        for path in body_paths(adapter.id):
            document = json.loads(path.read_bytes())
            sample = Sample(adapter, path, document)
            try:
                parsed = sample.parse(path.read_bytes())
            except ParseError:  # a fixture of what the adapter parks
                continue
            if parsed.events and not parsed.failures:
                found.append(sample)
    return tuple(found)


def partner_secrets(tenant: str) -> dict[tuple[str, str], list[str]]:
    """A secret for every discovered adapter of ``tenant`` (what :func:`signed` signs with)."""
    return {(tenant, a): [secret_for(tenant, a)] for a in load_adapters().adapters}
