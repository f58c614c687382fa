"""The state item's update: what one delivery taught it, as one conditional write.

:func:`compose` turns what was read (:class:`~gateway.store.shipment.ShipmentRead`) and
what the delivery stored into one ``UpdateItem``: the new fingerprints and the count
(``ADD``, so concurrent deliveries commute), the delivery ring, and the current state
moved forward when the newest event outranks it (guarded by ``order_key``, so a late or
racing event never moves it backwards). When the state item would outgrow one write unit,
its recent fingerprints move to a new page item first (a *spill*: one more write, once
per few dozen events). Any condition that fails means someone else wrote meanwhile: the
state is read again and the update composed again, a bounded number of times.

The status index's keys (``gateway/store/index.py``) are written only when the status
changes, so an event that keeps the status writes nothing to the index.

An update that moves the status also sets ``moved`` (the id of the event that moved it)
and ``prev_status``; every other update removes ``moved``. The table's stream carries new
images only, so that marker is how the notifier (``gateway/notify/stream.py``) tells a
status change from any other write of the state, at no cost to this write.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gateway.models import CanonicalEvent, instant_text
from gateway.store import codec
from gateway.store.capacity import item_bytes
from gateway.store.index import INDEX_PK, index_keys
from gateway.store.shipment import ShipmentRead, fingerprint_prefix

MOVED = "moved"
"""Set by the update that moved the status (to the event's id), removed by every other."""
PREV_STATUS = "prev_status"
SOURCE = "src"
"""How the last new events came: ``push`` (a carrier's webhook), ``submit`` or ``poll``."""
ORDER_KEY = "order_key"
"""The current event's :meth:`~gateway.models.CanonicalEvent.ordering_key` (it replaced
``latest_key``, whose text sorted years before 1000 wrongly: a state that still has only
that attribute is moved by the next event, once)."""
MAX_STATE_BYTES = 1024  # one write unit
MAX_GUARDS = 100  # a condition expression holds at most 4 KB
PAGE_FINGERPRINTS = 120  # a page of prefixes stays under 1 KB
_NAME = re.compile(r"#(\w+)")


@dataclass
class Update:
    """One ``UpdateItem`` of the state, and the pages to write before it (a spill)."""

    sets: dict[str, dict[str, Any]] = field(default_factory=dict)
    adds: dict[str, dict[str, Any]] = field(default_factory=dict)
    removes: list[str] = field(default_factory=list)
    conditions: list[str] = field(default_factory=list)
    values: dict[str, dict[str, Any]] = field(default_factory=dict)
    pages: list[dict[str, Any]] = field(default_factory=list)

    def request(self, read: ShipmentRead) -> dict[str, Any]:
        """The ``UpdateItem`` parameters (attribute names all go through ``#`` aliases)."""
        names, values = {}, dict(self.values)
        parts = []
        for verb, pairs in (("SET", self.sets), ("ADD", self.adds)):
            clauses = []
            for name, value in pairs.items():
                names[f"#{name}"] = name
                values[f":{name}"] = value
                joiner = " = " if verb == "SET" else " "
                clauses.append(f"#{name}{joiner}:{name}")
            if clauses:
                parts.append(f"{verb} {', '.join(clauses)}")
        if self.removes:
            names |= {f"#{name}": name for name in self.removes}
            parts.append("REMOVE " + ", ".join(f"#{name}" for name in self.removes))
        for condition in self.conditions:  # conditions name attributes as #name too
            names |= {f"#{name}": name for name in _NAME.findall(condition)}
        request: dict[str, Any] = {
            "Key": read.state_key(),
            "UpdateExpression": " ".join(parts),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
            "ReturnConsumedCapacity": "TOTAL",
        }
        if self.conditions:
            request["ConditionExpression"] = " AND ".join(f"({c})" for c in self.conditions)
        return request


def compose(
    read: ShipmentRead,
    stored: list[CanonicalEvent],
    found: list[CanonicalEvent],
    digest: bytes,
    ring_size: int,
    now: datetime,
    expires_at: int,
    source: str = "push",
) -> Update | None:
    """The update teaching the state what it does not know yet; None when nothing is new.

    ``source`` says how the new events came (``push``, ``submit`` or ``poll``): the
    shipment's freshness reads it.

    ``stored``: events this delivery put; ``found``: events it found stored by another
    writer, which the state may not know yet (that writer crashed before its update, or
    has not made it yet). Each new fingerprint is guarded (``NOT contains``), so an event
    is counted once whoever teaches it first; the loser of that race reads again.
    """
    known = read.known
    new = list({fingerprint_prefix(e): e for e in [*stored, *found]}.values())
    new = [e for e in new if fingerprint_prefix(e) not in known]
    if not new:
        return None
    update = Update()
    ring = ([digest] + [d for d in read.ring if d != digest])[:ring_size]
    update.sets |= {
        "dlv": {"BS": ring},
        "last_received_at": {"S": instant_text(now)},
        SOURCE: {"S": source},
        "expires_at": {"N": str(expires_at)},
    }
    _count(update, read, len(new))
    _guard(update, read, new)
    _move(update, read, new, now)
    if MOVED not in update.sets:
        update.removes.append(MOVED)
    _fingerprints(update, read, {fingerprint_prefix(e) for e in new}, expires_at)
    return update


def _count(update: Update, read: ShipmentRead, learned: int) -> None:
    if read.state is not None and "cnt" not in read.state:  # a state from before ``cnt``
        update.sets["cnt"] = {"N": str(read.count + learned)}
    else:
        update.adds["cnt"] = {"N": str(learned)}


def _guard(update: Update, read: ShipmentRead, new: list[CanonicalEvent]) -> None:
    """Count each new event once, even when two writers teach it at the same time."""
    if read.state is None:
        update.conditions.append("attribute_not_exists(#pk)")
        return
    for index, event in enumerate(new[:MAX_GUARDS]):
        update.values[f":new{index}"] = {"B": fingerprint_prefix(event)}
        update.conditions.append(f"NOT contains(#fps, :new{index})")


def _move(update: Update, read: ShipmentRead, new: list[CanonicalEvent], now: datetime) -> None:
    """Make the newest event the current state when it outranks it; or revise the ETA."""
    state = read.state
    # Once a state exists, an ETA-only event (UPS type U) moves the ETA, never the status.
    movers = [e for e in new if not (state and e.eta_only)]
    current = (state or {}).get(ORDER_KEY, {}).get("S")
    latest = max(movers, key=CanonicalEvent.ordering_key) if movers else None
    if latest is not None and (current is None or latest.ordering_key() > current):
        _advance(update, read, latest, now)
        return
    revisions = [e for e in new if state and e.eta_only and e.estimated_delivery and e.plausible()]
    if not revisions:
        return
    newest = max(revisions, key=lambda e: e.occurred_at)
    at = instant_text(newest.occurred_at)
    if at > (state or {}).get("eta_at", {}).get("S", ""):
        update.sets |= {"eta": {"S": str(newest.estimated_delivery)}, "eta_at": {"S": at}}
        update.values[":eta_was"] = {"S": at}
        update.conditions.append("attribute_not_exists(#eta_at) OR #eta_at < :eta_was")


def _advance(update: Update, read: ShipmentRead, latest: CanonicalEvent, now: datetime) -> None:
    key = latest.ordering_key()
    update.sets |= {
        ORDER_KEY: {"S": key},
        "status": {"S": latest.status.value},
        "le": {"S": codec.last_event_doc(latest)},
    }
    update.values[":was"] = {"S": key}
    update.conditions.append(f"attribute_not_exists(#{ORDER_KEY}) OR #{ORDER_KEY} < :was")
    prev = (read.state or {}).get("status", {}).get("S")
    if prev == latest.status.value and INDEX_PK in (read.state or {}):
        update.values[":prev"] = {"S": prev}
        update.conditions.append("#status = :prev")  # the index entry stays where it is
    else:
        tenant, number, carrier = read.key
        update.sets |= index_keys(tenant, number, carrier, latest.status, now)
    if prev != latest.status.value:
        _mark_moved(update, latest, prev)
    if latest.detail is not None:
        update.sets["detail"] = {"S": latest.detail}
    else:
        update.removes.append("detail")
    if latest.estimated_delivery is not None:
        update.sets["eta"] = {"S": latest.estimated_delivery}
        update.sets["eta_at"] = {"S": instant_text(latest.occurred_at)}


def _mark_moved(update: Update, latest: CanonicalEvent, prev: str | None) -> None:
    """Say which event moved the status, from what (guarded, so ``prev`` is exact)."""
    update.sets[MOVED] = {"S": latest.event_id}
    if prev is None:
        update.removes.append(PREV_STATUS)
        return
    update.sets[PREV_STATUS] = {"S": prev}
    update.values[":moved_from"] = {"S": prev}
    update.conditions.append("#status = :moved_from")


def _fingerprints(update: Update, read: ShipmentRead, new: set[bytes], expires_at: int) -> None:
    """Add the new fingerprints; spill the recent ones to pages when the state is full.

    Pages only ever hold fingerprints the state already counted, so a page left by a spill
    whose state update never happened (an orphan) is simply adopted.
    """
    recent, orphans = read.recent, read.orphans
    for page in orphans:
        recent -= {bytes(v) for v in page["fps"]["BS"]}
    pages = max([read.page_count, *(_number(p) for p in orphans)])
    if _projected_bytes(update, read, recent | new) > MAX_STATE_BYTES and recent:
        spilled = sorted(recent)
        for start in range(0, len(spilled), PAGE_FINGERPRINTS):
            pages += 1
            chunk = spilled[start : start + PAGE_FINGERPRINTS]
            page = {
                **read.page_key(pages),
                "fps": {"BS": chunk},
                "expires_at": {"N": str(expires_at)},
            }
            update.pages.append(page)
        recent = set()
    if pages == read.page_count and recent == read.recent:
        update.adds["fps"] = {"BS": sorted(new)}
        if read.state is not None:  # a spill since the read moved known prints to a page,
            # where ``NOT contains(fps, …)`` cannot see them: read again rather than count twice
            update.values[":pg_was"] = {"N": str(read.page_count)}
            update.conditions.append("attribute_not_exists(#pg) OR #pg = :pg_was")
        return
    update.sets |= {"fps": {"BS": sorted(recent | new)}, "pg": {"N": str(pages)}}
    if read.recent:
        update.values[":fps_was"] = {"BS": sorted(read.recent)}
        update.conditions.append("#fps = :fps_was")
    else:
        update.conditions.append("attribute_not_exists(#fps)")
    update.values[":pg_was"] = {"N": str(read.page_count)}
    update.conditions.append("attribute_not_exists(#pg) OR #pg = :pg_was")


def _number(page: dict[str, Any]) -> int:
    return int(page["sk"]["S"].rsplit("#", 1)[1])


def _projected_bytes(update: Update, read: ShipmentRead, fps: set[bytes]) -> int:
    """The state item's size after ``update`` with ``fps`` on it (its write units)."""
    item = dict(read.state or read.state_key())
    item |= update.sets
    for name in update.removes:
        item.pop(name, None)
    item["fps"] = {"BS": list(fps)}
    item["cnt"] = {"N": "99999"}
    return item_bytes(item)
