"""The receiver of ``waybill listen`` over a real loopback socket: 200 and a verified line
for a message signed with its secret, 401 otherwise, retries counted by ``webhook-id``."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest

from gateway.cli.listen_cmd import line
from gateway.local.listener import Heard, Listener
from gateway.notify.delivery import signed_headers
from gateway.notify.endpoints import new_secret

SECRET = new_secret()
MESSAGE = "msg_01KDXFKR00VNE07P2FTDYW5BNT"
BODY = json.dumps(
    {
        "type": "shipment.status_changed",
        "timestamp": "2026-06-01T12:00:00.000Z",
        "data": {
            "tracking_number": "EZ1000000001",
            "status": "delivered",
            "previous_status": "out_for_delivery",
            "event": {"status": "delivered"},
        },
    }
).encode()


@pytest.fixture
def heard() -> Iterator[tuple[Listener, list[Heard]]]:
    found: list[Heard] = []
    with Listener(found.append, secret=SECRET) as listener:
        yield listener, found


def post(listener: Listener, headers: dict[str, str], body: bytes = BODY) -> int:
    return httpx.post(listener.url, content=body, headers=headers, timeout=5).status_code


def signed(*secrets: str, message: str = MESSAGE, body: bytes = BODY) -> dict[str, str]:
    return signed_headers(message, int(time.time()), body, list(secrets))


def test_a_signed_message_is_verified_and_its_retries_counted(
    heard: tuple[Listener, list[Heard]],
) -> None:
    listener, found = heard
    assert post(listener, signed(SECRET)) == 200
    assert post(listener, signed(new_secret(), SECRET)) == 200  # during a rotation
    first, retry = found
    assert (first.verified, first.attempt, retry.attempt) == (True, 1, 2)
    assert line(first).endswith(
        "  shipment.status_changed  EZ1000000001  out_for_delivery → delivered  verified"
    )
    assert line(retry).endswith("verified  retry 1")


def test_a_bad_signature_is_refused_401(heard: tuple[Listener, list[Heard]]) -> None:
    listener, found = heard
    tampered = signed(SECRET, body=BODY)
    assert post(listener, tampered, BODY.replace(b"delivered", b"returned")) == 401
    assert post(listener, signed(new_secret())) == 401
    assert post(listener, {"content-type": "application/json"}) == 401
    stale = signed_headers(MESSAGE, int(time.time()) - 3600, BODY, [SECRET])
    assert post(listener, stale) == 401
    assert [h.verified for h in found] == [False] * 4
    assert [h.refusal.split(":")[0] for h in found if h.refusal] == [
        "signature_mismatch",
        "signature_mismatch",
        "signature_missing",
        "timestamp_stale",
    ]
    assert line(found[0]).endswith(f"  refused {MESSAGE}: {found[0].refusal}")
    assert MESSAGE not in listener.seen  # a refused message is not counted as an attempt


def test_without_its_secret_yet_it_answers_503() -> None:
    found: list[Heard] = []
    with Listener(found.append) as listener:
        assert post(listener, signed(SECRET)) == 503
    assert [h.verified for h in found] == [False]
