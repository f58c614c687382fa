"""``waybill tail``'s lines from stream records: one per shipment of a delivery (however
its events are split across reads), parkings with their reason, and counted windows only
for outcomes that leave no item of their own."""

from __future__ import annotations

import json
from typing import Any

from gateway.local.tail import HOLD, Tail, wanted

RECEIVED = "2026-06-01T14:02:11.250000Z"


def record(name: str, **image: str) -> dict[str, Any]:
    return {"eventName": name, "dynamodb": {"NewImage": {k: {"S": v} for k, v in image.items()}}}


def event(number: str, status: str, occurred: str) -> dict[str, Any]:
    doc = {"tenant": "demo", "carrier": "ups", "tracking_number": number, "status": status,
           "occurred_at": occurred, "received_at": RECEIVED, "delivery_id": "d1"}  # fmt: skip
    return record("INSERT", pk=f"S#demo#{number}", sk=f"E#{occurred}#ev", doc=json.dumps(doc))


def state(number: str) -> dict[str, Any]:
    return record("MODIFY", pk=f"S#demo#{number}", sk="C#ups")


def window(name: str, outcome: str, code: str, count: str) -> dict[str, Any]:
    at = "2026-06-01T14:02:00.000000Z"
    image = {"pk": {"S": "A#demo#2026-06-01#3"}, "sk": {"S": f"{at}#w#{outcome}#{code}#ups#p1"}}
    image |= {"outcome": {"S": outcome}, "code": {"S": code}, "carrier": {"S": "ups"}}
    image |= {"count": {"N": count}, "at": {"S": at}}
    return {"eventName": name, "dynamodb": {"NewImage": image}}


def test_a_shipments_events_split_across_reads_are_one_line_once_its_state_is_written() -> None:
    tail = Tail()
    assert tail.feed([event("1Z1", "in_transit", "2026-05-30T10:00:00Z")], now=0) == []
    assert tail.feed([], now=0.5) == []  # an idle read between the writes: still waiting
    (seen,) = tail.feed([event("1Z1", "delivered", "2026-05-31T10:00:00Z"), state("1Z1")], now=1)
    assert seen.line() == "14:02:11Z  demo  ups  accepted  events  1Z1  2 events, delivered"
    assert tail.flush() == []


def test_events_whose_state_never_comes_are_shown_after_the_hold() -> None:
    tail = Tail()
    assert tail.feed([event("1Z2", "in_transit", "2026-05-30T10:00:00Z")], now=0) == []
    (seen,) = tail.feed([], now=HOLD)
    assert (seen.tracking_numbers, seen.count) == (("1Z2",), 1)


def test_parked_and_counted_outcomes() -> None:
    parked = record("INSERT", pk="P#demo#6", sk="ab#ups", carrier="ups",
                    received_at=RECEIVED, reason="ParseError: bad\x1b[2J")  # fmt: skip
    lines = Tail().feed([
        parked,
        window("INSERT", "accepted", "events", "1"),  # its events are shown instead
        window("INSERT", "rejected", "signature_mismatch", "1"),
        window("MODIFY", "duplicate", "delivery", "4"),
    ], now=0)  # fmt: skip
    assert [seen.line() for seen in lines] == [
        "14:02:11Z  demo  ups  parked  ParseError: bad\\x1b[2J",
        "14:02:00Z  demo  ups  rejected  signature_mismatch  1 so far this minute",
        "14:02:00Z  demo  ups  duplicate  delivery  4 in the minute from 14:02",
    ]
    assert [s.outcome for s in lines if wanted(s, "demo", ["rejected", "parked"])] == [
        "parked", "rejected",
    ]  # fmt: skip
    assert [s for s in lines if wanted(s, "acme", None)] == []
