"""The table's stream → messages: what changed, for which endpoints, sent once each.

Two kinds of record notify (the AWS event source mapping filters the others out; here
they are skipped):

- an event item inserted (``S#…`` / ``E#…``): ``shipment.event_added``;
- a state item whose write moved the status (``C#…`` carrying ``moved``, which
  ``gateway/store/state.py`` sets only then): ``shipment.status_changed``.

Whatever stored the event (a webhook, ``POST /v1/events``, a poll, a replay) notifies the
same way, and a crash after the write still notifies: the stream keeps the record until
the handler succeeds. A message's id is derived from (endpoint, event, type), so a record
read twice finds its message, and a message that has an outcome is not sent again. The
first attempts of a batch go out in parallel; a failed attempt is scheduled, not raised:
only storage failures fail the batch (and the stream retries it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gateway.models import CanonicalEvent, EventSummary, Status, utc_text
from gateway.notify.delivery import Notifier
from gateway.notify.endpoints import EVENT_ADDED, STATUS_CHANGED, Endpoint
from gateway.notify.messages import SNAPSHOT_FIELDS, Message, message_id
from gateway.store.index import INDEX_SK, changed_at
from gateway.store.keys import EVENT_PREFIX, STATE_PREFIX, event_sk
from gateway.store.state import MOVED, PREV_STATUS

PARALLEL_SENDS = 8
MESSAGE_RETENTION_SECONDS = 30 * 86400
"""Messages and their attempts are kept 30 days (or the tenant's retention, if shorter):
long enough to recover after an outage, short enough that storing them stays cheap."""
Image = Mapping[str, Any]
ShipmentKey = tuple[str, str, str]  # tenant, tracking number, carrier
ReadState = Callable[[str, str, str], Image | None]
ReadEvent = Callable[[str, str, str], Image | None]  # tenant, tracking number, event sk


def text(image: Image, name: str) -> str | None:
    """A string or number attribute of a stream image (low-level form)."""
    value = image.get(name)
    if value is None:
        return None
    return str(value["S"]) if "S" in value else str(value.get("N"))


@dataclass(frozen=True)
class Change:
    """One record that notifies: an event added, or a status moved (by ``event_id``)."""

    type: str
    shipment: ShipmentKey
    event_id: str
    image: Image
    written_at: datetime | None = None  # when the stream says the item was written


def _written_at(record: Mapping[str, Any]) -> datetime | None:
    """The record's ``ApproximateCreationDateTime``: epoch seconds in Lambda's JSON, a
    datetime from the SDK."""
    value = record.get("dynamodb", {}).get("ApproximateCreationDateTime")
    if isinstance(value, datetime):
        return value
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    return None


def read_records(
    records: Iterable[Mapping[str, Any]],
) -> tuple[list[Change], dict[ShipmentKey, Image]]:
    """The changes that notify, in stream order, and the newest state image per shipment."""
    found: list[Change] = []
    states: dict[ShipmentKey, Image] = {}
    for record in records:
        if record.get("eventName") not in ("INSERT", "MODIFY"):
            continue
        image = record.get("dynamodb", {}).get("NewImage") or {}
        pk, sk = text(image, "pk") or "", text(image, "sk") or ""
        if not pk.startswith("S#"):
            continue
        tenant, _, number = pk[2:].rpartition("#")
        if sk.startswith(EVENT_PREFIX) and record["eventName"] == "INSERT":
            shipment = (tenant, number, text(image, "carrier") or "")
            event_id = sk.rsplit("#", 1)[1]
            found.append(Change(EVENT_ADDED, shipment, event_id, image, _written_at(record)))
        elif sk.startswith(STATE_PREFIX):
            shipment = (tenant, number, sk.removeprefix(STATE_PREFIX))
            states[shipment] = image
            if MOVED in image:
                moved = text(image, MOVED) or ""
                found.append(Change(STATUS_CHANGED, shipment, moved, image, _written_at(record)))
    return found, states


def snapshot(state: Image | None, event: CanonicalEvent) -> dict[str, Any]:
    """The shipment's part of a message's data, from a state image (or, for the first
    event of a shipment whose state is not written yet, from the event)."""
    if state is None:
        return dict.fromkeys(SNAPSHOT_FIELDS) | {
            "status": event.status.value,
            "estimated_delivery": event.estimated_delivery,
        }
    event_id = event.event_id
    index_sk = text(state, INDEX_SK)
    return {
        "status": text(state, "status"),
        "previous_status": text(state, PREV_STATUS) if text(state, MOVED) == event_id else None,
        "status_changed_at": utc_text(changed_at(index_sk)) if index_sk else None,
        "estimated_delivery": text(state, "eta"),
    }


class StreamNotifier:
    """Turns a batch of stream records into messages and their first attempts."""

    def __init__(self, notifier: Notifier, read_state: ReadState, read_event: ReadEvent) -> None:
        self.notifier = notifier
        self.read_state = read_state
        self.read_event = read_event

    def handle(self, records: Iterable[Mapping[str, Any]], deadline: float | None = None) -> int:
        """Notify for one batch; the number of messages attempted.

        ``deadline`` (``time.monotonic()``): an attempt that could not finish before it is
        not started; its message goes on the due index for the sweeper instead.
        """
        found, states = read_records(records)
        tenants = {change.shipment[0] for change in found}
        endpoints = {tenant: self.notifier.endpoints.for_tenant(tenant) for tenant in tenants}
        docs = {c.event_id: text(c.image, "doc") or "" for c in found if c.type == EVENT_ADDED}
        work: list[tuple[Message, Endpoint, str, datetime | None]] = []
        for change in found:
            candidates = [e for e in endpoints[change.shipment[0]] if change.type in e.types]
            if not candidates:
                continue
            doc = docs.get(change.event_id) or self._event_doc(change)
            if doc is None:
                continue  # erased meanwhile
            docs[change.event_id] = doc
            event = CanonicalEvent.model_validate_json(doc)
            moved_to = Status(text(change.image, "status") or Status.UNKNOWN.value)
            status = event.status if change.type == EVENT_ADDED else moved_to
            wanting = [e for e in candidates if e.wants(change.type, status, event.carrier)]
            if not wanting:
                continue
            state = change.image if change.type == STATUS_CHANGED else states.get(change.shipment)
            state = state or self.read_state(*change.shipment)
            for endpoint in wanting:
                message = self._message(change, endpoint, event, state)
                stored, created = self.notifier.messages.create(message)
                if created or (stored.state == "sending" and stored.attempt_count == 0):
                    work.append((stored, endpoint, doc, change.written_at))
        if work:
            with ThreadPoolExecutor(max_workers=min(PARALLEL_SENDS, len(work))) as pool:
                list(pool.map(lambda job: self._attempt(job, deadline), work))
        return len(work)

    def _attempt(
        self, job: tuple[Message, Endpoint, str, datetime | None], deadline: float | None
    ) -> Message:
        message, endpoint, doc, written_at = job
        if not self.notifier.has_time(deadline):
            return self.notifier.defer(message)
        return self.notifier.attempt(
            message, endpoint, trigger="stream", event_doc=doc, written_at=written_at
        )

    def _event_doc(self, change: Change) -> str | None:
        """The document of the event that moved a status (not in this batch)."""
        summary = text(change.image, "le")
        if summary is None:
            return None
        occurred = EventSummary.model_validate_json(summary).occurred_at
        tenant, number, _ = change.shipment
        item = self.read_event(tenant, number, event_sk(occurred, change.event_id))
        return None if item is None else text(item, "doc")

    def _message(
        self, change: Change, endpoint: Endpoint, event: CanonicalEvent, state: Image | None
    ) -> Message:
        tenant, number, carrier = change.shipment
        now = self.notifier.clock()
        expires = text(change.image, "expires_at")
        horizon = int(now.timestamp()) + MESSAGE_RETENTION_SECONDS
        return Message(
            tenant=tenant,
            endpoint_id=endpoint.id,
            id=message_id(endpoint.id, event.event_id, change.type, event.received_at),
            type=change.type,
            tracking_number=number,
            carrier=carrier,
            event_sk=event_sk(event.occurred_at, event.event_id),
            snapshot=snapshot(state, event),
            timestamp=event.received_at,
            expires_at=min(int(expires), horizon) if expires else horizon,
        )
