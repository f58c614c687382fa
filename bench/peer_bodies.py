"""Signed EasyPost deliveries for ``bench/peer_throughput.py``, built from one real fixture.

From ``tests/fixtures/easypost/event_tracker_updated_full_history.json`` (read as data; its
history has 9 tracking details), each body a new ``Event.id`` and, per shipment, its own
tracking code, signed by the EasyPost adapter's own ``sign``:

* :func:`single_events`: a new shipment per body, with one tracking detail (the last);
* :func:`histories`: per shipment, a seed (the 9 details) and its resend, the seed's
  details plus one new one (9 known + 1 new), the way EasyPost resends a full history.

Example:
    >>> seeds, resends = histories("s3cret", "T", 2)
    >>> [len(_details(body)) for body, _ in seeds + resends]
    [9, 9, 10, 10]
    >>> single_events("s3cret", "T", 1)[0][1]["X-Hmac-Signature"][:16]
    'hmac-sha256-hex='
"""

from __future__ import annotations

import copy
import json
import time
import uuid
from functools import cache
from typing import Any

from gateway.testkit.fixtures import FIXTURES

FIXTURE = FIXTURES / "easypost" / "event_tracker_updated_full_history.json"
#: The detail a resend adds after the fixture's last one (delivered at 17:02).
NEW_DETAIL = {"message": "Proof of Delivery Available", "datetime": "2025-04-15T17:30:00Z"}

#: A body and its headers (signature and content type).
Delivery = tuple[bytes, dict[str, str]]


@cache
def _template() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(FIXTURE.read_bytes())
    return document


def _sign(document: dict[str, Any], secret: str) -> Delivery:
    from adapters.easypost import ADAPTER

    document["id"] = f"evt_{uuid.uuid4().hex}"
    body = json.dumps(document, separators=(",", ":")).encode()
    headers = dict(ADAPTER.sign(body, secret, time.time()))
    headers["Content-Type"] = "application/json"
    return body, headers


def _shipment(tag: str, index: int, details: list[dict[str, Any]]) -> dict[str, Any]:
    document = copy.deepcopy(_template())
    document["result"]["tracking_code"] = f"BENCH{tag}{index:06d}"
    document["result"]["tracking_details"] = details
    return document


def single_events(secret: str, tag: str, count: int) -> list[Delivery]:
    """``count`` deliveries, each a new tracking code (``BENCH{tag}…``) with one detail."""
    last = _template()["result"]["tracking_details"][-1:]
    return [_sign(_shipment(tag, i, copy.deepcopy(last)), secret) for i in range(count)]


def histories(secret: str, tag: str, count: int) -> tuple[list[Delivery], list[Delivery]]:
    """``count`` seeds (9 details each) and their resends (the same 9 + 1 new detail)."""
    seeds, resends = [], []
    known = _template()["result"]["tracking_details"]
    for index in range(count):
        document = _shipment(tag, index, copy.deepcopy(known))
        seeds.append(_sign(document, secret))
        document["result"]["tracking_details"].append(known[-1] | NEW_DETAIL)
        resends.append(_sign(document, secret))
    return seeds, resends


def _details(body: bytes) -> list[Any]:
    details: list[Any] = json.loads(body)["result"]["tracking_details"]
    return details
