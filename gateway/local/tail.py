"""What ``waybill tail`` shows: the deliveries the table records, read off its stream.

The table's stream carries every item as it is written, so it is the one place that sees
what each delivery became, whatever answered it: a webhook, a submission, a replay or a
poll (the same DynamoDB Streams API on AWS, where the notifier reads it too):

- **stored events** (``S#…``/``E#…`` inserts), one line per shipment of a delivery: the
  carrier, the tracking number, how many new events, the newest one's status;
- **parked deliveries** (``P#…`` inserts): the carrier and the parse reason;
- **counted windows** (``A#…``) for what leaves no item of its own — ``duplicate``,
  ``ignored``, ``rejected``, ``throttled``, ``failed``, a delivery parked again: the
  window's first outcome is written at once (``1 so far``), its count when the minute
  closes. Accepted and freshly parked windows are skipped (their items are shown).

Never a body, a header or a secret: codes, carrier, tracking numbers, counts.

Example:
    >>> from datetime import UTC, datetime
    >>> at = datetime(2026, 6, 1, 14, 2, 11, tzinfo=UTC)
    >>> Seen(at, "demo", "easypost", "accepted", "events", ("EZ1",), 9, "delivered").line()
    '14:02:11Z  demo  easypost  accepted  events  EZ1  9 events, delivered'
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from gateway.models import utc_text
from gateway.observability import printable
from gateway.store.keys import EVENT_PREFIX, STATE_PREFIX

Image = Mapping[str, Any]
_OWN_ITEMS = {("accepted", "events"), ("parked", "unparseable"), ("parked", "failed_items")}
"""Window outcomes whose deliveries left items of their own on the stream: not repeated."""
HOLD = 2.0  # seconds a shipment's events wait for its state write before they are shown


@dataclass(frozen=True)
class Seen:
    """One line of the tail: a delivery's stored events, a parking, or a counted window."""

    at: datetime
    tenant: str
    carrier: str
    outcome: str
    code: str
    tracking_numbers: tuple[str, ...] = ()
    count: int = 1
    detail: str = ""

    def line(self) -> str:
        """The text line: time (UTC), tenant, carrier, outcome, code, then what it was."""
        parts = [self.at.strftime("%H:%M:%SZ"), self.tenant, self.carrier, self.outcome, self.code]
        if self.tracking_numbers:
            what = f"{self.count} event{'s' * (self.count != 1)}"
            parts += [" ".join(self.tracking_numbers), f"{what}, {self.detail}"]
        else:
            parts.append(self.detail)
        return "  ".join(part for part in parts if part)

    def json(self) -> str:
        """The line as one JSON object (``--json``: JSON Lines)."""
        fields = asdict(self) | {"at": utc_text(self.at)}
        fields["tracking_numbers"] = list(self.tracking_numbers)
        return json.dumps(fields, ensure_ascii=False)


def _s(image: Image, name: str) -> str:
    value = image.get(name) or {}
    return str(value.get("S", value.get("N", "")))


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _tenant_of(pk: str) -> str:
    return pk.split("#")[1] if pk.count("#") >= 1 else ""


class Tail:
    """Turns stream records into lines, one per shipment of a delivery: its events wait
    for the shipment's state write, which the store makes after them (same partition, so
    the same shard, in order), or :data:`HOLD` seconds when none comes."""

    def __init__(self) -> None:
        self.pending: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        self.since: dict[tuple[str, ...], float] = {}

    def feed(self, records: Iterable[Mapping[str, Any]], now: float | None = None) -> list[Seen]:
        """The lines complete after one read, in stream order."""
        now = time.monotonic() if now is None else now
        found: list[Seen] = []
        for record in records:
            image = record.get("dynamodb", {}).get("NewImage") or {}
            pk, sk, name = _s(image, "pk"), _s(image, "sk"), record.get("eventName")
            if name == "INSERT" and pk.startswith("S#") and sk.startswith(EVENT_PREFIX):
                doc = json.loads(_s(image, "doc"))
                key = _delivery_key(doc)
                self.pending.setdefault(key, []).append(doc)
                self.since.setdefault(key, now)
            elif pk.startswith("S#") and sk.startswith(STATE_PREFIX):
                shipment = (*pk.split("#", 2)[1:], sk[len(STATE_PREFIX) :])  # its events are in
                found += self._done([k for k in self.pending if (k[0], k[2], k[1]) == shipment])
            elif name == "INSERT" and pk.startswith("P#"):
                reason = printable(_s(image, "reason"))
                at, carrier = _when(_s(image, "received_at")), _s(image, "carrier")
                found.append(Seen(at, _tenant_of(pk), carrier, "parked", "", (), 1, reason))
            elif name in ("INSERT", "MODIFY") and pk.startswith("A#") and "#w#" in sk:
                window = _window(image, pk, first=name == "INSERT")
                if (window.outcome, window.code) not in _OWN_ITEMS:
                    found.append(window)
        return found + self._done([k for k in self.pending if now - self.since[k] >= HOLD])

    def flush(self) -> list[Seen]:
        """Every line still waiting (at the end of the tail)."""
        return self._done(list(self.pending))

    def _done(self, keys: list[tuple[str, ...]]) -> list[Seen]:
        for key in keys:
            del self.since[key]
        return [_delivery(self.pending.pop(key)) for key in keys]


def _delivery_key(doc: Mapping[str, Any]) -> tuple[str, ...]:
    """Tenant, carrier, tracking number, then the delivery (when received, its id)."""
    fields = ("tenant", "carrier", "tracking_number", "received_at", "delivery_id")
    return tuple(str(doc.get(name) or "") for name in fields)


def _window(image: Image, pk: str, *, first: bool) -> Seen:
    count = int(_s(image, "count") or 1)
    start = _when(_s(image, "at"))
    detail = f"{count} so far this minute" if first else f"{count} in the minute from {start:%H:%M}"
    carrier, code = _s(image, "carrier"), _s(image, "code")
    return Seen(start, _tenant_of(pk), carrier, _s(image, "outcome"), code, (), count, detail)


def _delivery(docs: list[dict[str, Any]]) -> Seen:
    """One delivery's stored events as a line: tracking numbers, count, newest status."""
    first = docs[0]
    numbers = tuple(dict.fromkeys(str(doc["tracking_number"]) for doc in docs))
    newest = max(docs, key=lambda doc: str(doc["occurred_at"]))
    at, tenant, carrier = _when(first["received_at"]), first["tenant"], first["carrier"]
    return Seen(at, tenant, carrier, "accepted", "events", numbers, len(docs), newest["status"])


def wanted(seen: Seen, tenant: str | None, outcomes: Iterable[str] | None) -> bool:
    """Whether the line passes ``waybill tail``'s filters (tenant, outcomes)."""
    chosen = set(outcomes or ())
    return (tenant is None or seen.tenant == tenant) and (not chosen or seen.outcome in chosen)
