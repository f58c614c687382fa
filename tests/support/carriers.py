"""Every carrier as the shared suites see it: derived from discovery, never listed by hand.

A suite that runs "over every carrier" takes what it needs from here, so adding an
adapter module (``adapters/<id>.py``) and its fixtures (``tests/fixtures/<id>/``) adds
that carrier's cases everywhere:

- :func:`webhook_adapters`: the discovered adapters carriers post to, by id;
- :func:`secret_for`: a deterministic throwaway secret in the form the scheme expects;
- :func:`samples`: the carrier's body fixtures that parse into events (nothing failed);
- :func:`history_of`: the carrier's *history*: the fixture, and the lists in its body
  whose items each become one event (found by parsing, see :class:`HistoryShape`);
- :data:`QUIRKS`: the one list of what cannot be derived from a ``SignatureSpec``.

Example:
    >>> "easypost" in [a.id for a in webhook_adapters()]
    True
    >>> secret_for("whsec_base64", "x").startswith("whsec_")
    True
    >>> [p for p, _ in string_leaves({"a": ["x", {"b": "y"}], "n": 1})]
    [('a', 0), ('a', 1, 'b')]
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from gateway.carriers.adapter import Adapter, Delivery, ParseResult
from gateway.carriers.discovery import load_adapters
from gateway.errors import ParseError
from gateway.models import normalise_tracking_number
from gateway.testkit.fixtures import FIXTURES, body_paths, carrier_headers

TENANT = "hooli"
"""A test tenant with every discovered adapter enabled (``[carriers."*"]``)."""
OTHER_TENANT = "umbrella"
"""A second one, for everything that needs two tenants with the same carriers."""

# --- the declared quirks ---------------------------------------------------------------


@dataclass(frozen=True)
class Quirk:
    """Something about a carrier that its ``SignatureSpec`` does not say; each suite that
    needs it names it by ``scheme`` (the extra scheme's id in the bypass catalogue)."""

    carrier: str
    scheme: str
    why: str
    slot: str = ""  # the secret slot it authenticates with (``carrier.slot``)


UPS_V2 = "ups_v2"
SHIPPO_HMAC = "shippo_hmac"
STANDARD_ED25519 = "standard_webhooks_ed25519"
GENERIC_PARTNER = "parcelpal"
GENERIC_TENANT = "genericco"

QUIRKS: tuple[Quirk, ...] = (
    Quirk(
        "ups",
        UPS_V2,
        "UPS Track Alert v2 posts an OAuth bearer it fetched from /oauth/{tenant}/ups/token "
        "(tenant option oauth_client_id), besides v1's static credential header",
        slot="ups.oauth",
    ),
    Quirk(
        "shippo",
        SHIPPO_HMAC,
        "an optional HMAC (Shippo-Auth-Signature) checked besides the URL token once the "
        "tenant sets it",
        slot="shippo.hmac",
    ),
    Quirk(
        "standard_webhooks",
        STANDARD_ED25519,
        "Ed25519 keys (whsk_ signs, whpk_ verifies, v1a) besides whsec_ HMAC secrets",
    ),
    Quirk(
        GENERIC_PARTNER,
        GENERIC_PARTNER,
        f"no adapter module: a generic partner declared in tests/fixtures/tenants/"
        f"{GENERIC_TENANT}.toml",
    ),
)
"""The one list of carriers that need special handling, and why."""

QUIRK_SLOTS = tuple(q.slot for q in QUIRKS if q.slot)


# --- discovery -----------------------------------------------------------------------


@cache
def adapters() -> dict[str, Adapter]:
    """Every discovered adapter by id (loaded once per test process)."""
    return dict(load_adapters().adapters)


def webhook_adapters() -> list[Adapter]:
    """The discovered adapters carriers post to (``webhook=True``), sorted by id."""
    return [a for _, a in sorted(adapters().items()) if a.webhook]


def secret_for(form: str, seed: str) -> str:
    """A deterministic throwaway secret for ``seed`` in the ``secret_form`` a scheme expects:
    ``whsec_`` + base64 of 32 bytes, or text with a non-ASCII character (NFKD applies)."""
    if form == "whsec_base64":
        return "whsec_" + base64.b64encode(hashlib.sha256(seed.encode()).digest()).decode()
    return f"{seed}-s\u00e9cret"


# --- JSON documents --------------------------------------------------------------------

LeafPath = tuple[str | int, ...]


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


def get_at(document: Any, path: LeafPath) -> Any:
    """The value at ``path``."""
    for step in path:
        document = document[step]
    return document


def with_leaf(document: Any, path: LeafPath, new: Any) -> Any:
    """A deep copy of ``document`` with the value at ``path`` replaced by ``new``."""
    changed = copy.deepcopy(document)
    get_at(changed, path[:-1])[path[-1]] = new
    return changed


def encode(document: Any) -> bytes:
    """Compact JSON bytes, non-ASCII as ``\\u`` escapes (a lone surrogate too)."""
    return json.dumps(document, separators=(",", ":")).encode()


def readdressed(document: Any, numbers: dict[str, str]) -> Any:
    """``document`` with every string that reads as a tracking number in ``numbers`` (as the
    gateway normalises it) replaced by its new number."""

    def change(_: LeafPath, text: str) -> str:
        try:
            return numbers.get(normalise_tracking_number(text), text)
        except ValueError:
            return text

    return map_strings(document, change)


# --- samples: fixtures that parse ---------------------------------------------------------


def parse(adapter: Adapter, body: bytes, headers: dict[str, str] | None = None) -> ParseResult:
    """The adapter's reading of a body (tenant ``hooli``), with the carrier's headers."""
    folded = {k.lower(): (v,) for k, v in (headers or {}).items()}
    return adapter.parse(Delivery(TENANT, adapter.id, body, folded, datetime.now(UTC)))


def readable(adapter: Adapter, path: Path) -> bool:
    """True when the fixture parses into events and no item failed."""
    try:
        result = parse(adapter, path.read_bytes(), carrier_headers(path))
    except ParseError:  # a fixture of what the adapter parks
        return False
    return bool(result.events) and not result.failures


@cache
def samples(carrier: str) -> tuple[Path, ...]:
    """The carrier's readable body fixtures, by name."""
    adapter = adapters()[carrier]
    return tuple(p for p in body_paths(carrier) if readable(adapter, p))


# --- histories ---------------------------------------------------------------------------

UNREADABLE_TIME = "not a time"
_DATE_LIKE = re.compile(r"^\d{4}-?\d\d-?\d\d")


@dataclass(frozen=True)
class RetrySchedule:
    """Delays before each retry (after the first attempt), and where they come from."""

    delays: tuple[timedelta, ...]
    source: str


@dataclass(frozen=True)
class HistoryShape:
    """Where a carrier's body keeps one shipment's history, found in one of its fixtures.

    ``lists``: the JSON paths of the lists whose items each become one event (17TRACK
    splits a history over its providers' lists); every event of the fixture comes from
    them and it names one tracking number. ``time``: the field of an item that, when
    unreadable, makes the delivery unparseable. The fixture's ``.meta.json`` may declare
    ``"history": {"full_history": bool, "retry": {"delays_seconds": [...], "source":
    ...}}``: whether each delivery resends the whole history so far, and the carrier's
    published retry schedule (carriers without one are not retried in simulations). A
    declaration also picks the fixture; otherwise the longest history found is used.
    """

    carrier: str
    fixture: Path
    lists: tuple[LeafPath, ...]
    time: LeafPath
    number: str
    delivery_id: str | None
    full_history: bool = False
    retry: RetrySchedule | None = None

    def items(self, document: Any) -> list[tuple[int, Any]]:
        """The history items of ``document`` as ``(list index, item)``."""
        return [(n, item) for n, path in enumerate(self.lists) for item in get_at(document, path)]

    def fill(
        self, document: Any, number: str, items: Sequence[tuple[int, Any]], delivery_id: str
    ) -> Any:
        """A copy of ``document`` addressed to ``number``, carrying exactly ``items`` (each
        back in its own list) and ``delivery_id`` wherever the fixture wrote its own."""
        changed = readdressed(document, {self.number: number})
        for n, path in enumerate(self.lists):
            chosen = [readdressed(item, {self.number: number}) for i, item in items if i == n]
            changed = with_leaf(changed, path, chosen)
        if self.delivery_id:
            old = self.delivery_id
            changed = map_strings(changed, lambda _, text: delivery_id if text == old else text)
        return changed


def _meta(body: Path) -> dict[str, Any]:
    sidecar = body.with_name(body.name.removesuffix(".json") + ".meta.json")
    return dict(json.loads(sidecar.read_text("utf-8"))) if sidecar.exists() else {}


def _count(adapter: Adapter, document: Any, headers: dict[str, str]) -> int | None:
    try:
        result = parse(adapter, encode(document), headers)
    except ParseError:
        return None
    return None if result.failures else len(result.events)


def _candidate_lists(value: Any, path: LeafPath = ()) -> Iterator[tuple[LeafPath, list[Any]]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _candidate_lists(inner, (*path, key))
    elif isinstance(value, list):
        if value and all(isinstance(item, dict) for item in value):
            yield path, value
        for index, inner in enumerate(value):
            yield from _candidate_lists(inner, (*path, index))


def _time_field(adapter: Adapter, document: Any, shape: HistoryShape, headers: Any) -> LeafPath:
    """The field of the last item that makes the body unparseable when unreadable (date-like
    values first)."""
    n, item = shape.items(document)[-1]
    leaves = sorted(string_leaves(item), key=lambda leaf: not _DATE_LIKE.match(leaf[1]))
    position = len(get_at(document, shape.lists[n])) - 1
    for leaf, _ in leaves:
        changed = with_leaf(document, (*shape.lists[n], position, *leaf), UNREADABLE_TIME)
        if _count(adapter, changed, headers) is None:
            return leaf
    return ()


def _shape(adapter: Adapter, body: Path) -> HistoryShape | None:
    """The history of one fixture, or ``None`` when it holds no derivable history."""
    headers = carrier_headers(body)
    document = json.loads(body.read_bytes())
    try:
        result = parse(adapter, encode(document), headers)
    except ParseError:
        return None
    total = len(result.events)
    numbers = {normalise_tracking_number(e.tracking_number) for e in result.events}
    if result.failures or total < 2 or len(numbers) != 1:
        return None
    found = [  # a list whose first item, repeated, adds exactly one event
        path
        for path, items in _candidate_lists(document)
        if _count(adapter, with_leaf(document, path, [*items, items[0]]), headers) == total + 1
    ]
    lists = tuple(p for p in found if not any(q != p and q[: len(p)] == p for q in found))
    if sum(len(get_at(document, p)) for p in lists) != total:
        return None  # some events come from elsewhere: not one history
    declared = _meta(body).get("history") or {}
    retry = declared.get("retry")
    delivery_id = result.delivery_id
    if delivery_id is not None and f'"{delivery_id}"' not in body.read_text("utf-8"):
        delivery_id = None  # not in the body (a header, or none)
    shape = HistoryShape(
        carrier=adapter.id,
        fixture=body,
        lists=lists,
        time=(),
        number=numbers.pop(),
        delivery_id=delivery_id,
        full_history=bool(declared.get("full_history", False)),
        retry=RetrySchedule(
            tuple(timedelta(seconds=s) for s in retry["delays_seconds"]), retry["source"]
        )
        if retry
        else None,
    )
    time = _time_field(adapter, document, shape, headers)
    return replace(shape, time=time) if time else None


@cache
def history_of(carrier: str) -> HistoryShape | None:
    """The carrier's history: its fixture that declares ``"history"`` in its ``.meta.json``
    (an error if none can be derived from it), else its longest derivable one."""
    adapter = adapters()[carrier]
    declared = [p for p in body_paths(carrier) if "history" in _meta(p)]
    if declared:
        shape = _shape(adapter, declared[0])
        assert shape is not None, f"{declared[0]} declares a history none can be derived from"
        return shape
    shapes = [s for s in (_shape(adapter, p) for p in samples(carrier)) if s is not None]
    return max(shapes, key=lambda s: len(s.items(json.loads(s.fixture.read_bytes()))), default=None)


def history_carriers() -> list[str]:
    """The webhook carriers with a derivable history, sorted."""
    return [a.id for a in webhook_adapters() if history_of(a.id) is not None]


def fixture_path(carrier: str, name: str) -> Path:
    """``tests/fixtures/<carrier>/<name>.json``."""
    return FIXTURES / carrier / f"{name}.json"
