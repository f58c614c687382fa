"""Which stream records notify, read from new images as Lambda and DynamoDB Local give them."""

from __future__ import annotations

from typing import Any

from gateway.notify.endpoints import EVENT_ADDED, STATUS_CHANGED
from gateway.notify.stream import read_records, snapshot
from gateway.testkit.events import make_event


def record(name: str, pk: str, sk: str, **attributes: Any) -> dict[str, Any]:
    image = {"pk": {"S": pk}, "sk": {"S": sk}} | {k: {"S": v} for k, v in attributes.items()}
    return {"eventName": name, "dynamodb": {"NewImage": image}}


STATE = "C#easypost"
EVENT = "E#2026-01-02T03:04:05.000000Z#ev_1"


def test_only_new_events_and_status_moves_notify() -> None:
    records = [
        record("INSERT", "S#acme#EZ1", EVENT, carrier="easypost", doc="{}"),
        record("MODIFY", "S#acme#EZ1", STATE, status="in_transit"),  # status kept
        record("MODIFY", "S#acme#EZ1", STATE, status="delivered", moved="ev_2"),
        record("MODIFY", "S#acme#EZ1", EVENT, carrier="easypost"),  # an event rewritten
        record("REMOVE", "S#acme#EZ1", EVENT),  # erased
        record("INSERT", "S#acme#EZ1", "D#easypost#00001"),  # a fingerprint page
        record("INSERT", "M#acme#ep_1#3", "msg_01"),  # our own messages
        record("INSERT", "A#acme#2026-01-02#0", "x"),
        {"eventName": "INSERT", "dynamodb": {}},  # no image at all
    ]
    changes, states = read_records(records)
    assert [(c.type, c.shipment, c.event_id) for c in changes] == [
        (EVENT_ADDED, ("acme", "EZ1", "easypost"), "ev_1"),
        (STATUS_CHANGED, ("acme", "EZ1", "easypost"), "ev_2"),
    ]
    assert states[("acme", "EZ1", "easypost")]["status"] == {"S": "delivered"}  # the newest


def test_a_tenant_id_with_dashes_and_a_number_with_dots_are_read_whole() -> None:
    (change,), _ = read_records([record("INSERT", "S#acme-eu#1Z.9_X", EVENT, carrier="ups")])
    assert change.shipment == ("acme-eu", "1Z.9_X", "ups")


def test_the_previous_status_belongs_only_to_the_event_that_moved_it() -> None:
    state = {
        "status": {"S": "delivered"},
        "prev_status": {"S": "out_for_delivery"},
        "moved": {"S": "ev_2"},
        "gsi1sk": {"S": "2026-01-02T03:04:05.000000Z#1234abcd"},
        "eta": {"S": "2026-01-03"},
    }
    mover = make_event(2)
    assert snapshot(state, mover.model_copy(update={"event_id": "ev_2"})) == {
        "status": "delivered",
        "previous_status": "out_for_delivery",
        "status_changed_at": "2026-01-02T03:04:05Z",
        "estimated_delivery": "2026-01-03",
    }
    assert snapshot(state, make_event(1))["previous_status"] is None
    first = snapshot(None, make_event(0))  # the state is not written yet
    assert first["status"] == "in_transit" and first["status_changed_at"] is None
