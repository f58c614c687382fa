"""The login throttle in DynamoDB (``gateway/console/login_limits.py``) on DynamoDB Local:
caps per client and overall, shared by two throttles as by two Lambda containers, the
sliding windows under an injected clock, a success clearing the client only, a table that
does not answer, and bounded client ids."""

from __future__ import annotations

import logging
import socket
from typing import Any

import pytest
from botocore.stub import Stubber

from gateway.console.login_limits import (
    STORE_DOWN_WAIT,
    TableLoginThrottle,
    client_id,
    limit_key,
)
from gateway.local.wiring import local_dynamodb
from gateway.store.capacity import CapacityMeter

pytestmark = pytest.mark.integration

T0 = 1_800_000_000  # the start of a 300 s window
WINDOW = 300


class Clock:
    """Epoch seconds that a test moves."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def recorded(client: Any, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The operations ``client`` sends from now on."""
    calls: list[str] = []
    real = client._make_api_call

    def record(operation: str, params: dict[str, Any]) -> Any:
        calls.append(operation)
        return real(operation, params)

    monkeypatch.setattr(client, "_make_api_call", record)
    return calls


def throttle_items(client: Any, table: str) -> list[dict[str, Any]]:
    """Every throttle item (a Scan: fine in a test, never in the throttle)."""
    items = client.scan(TableName=table, ConsistentRead=True)["Items"]
    return [item for item in items if item["pk"]["S"].startswith("CL#")]


def test_a_client_is_held_after_its_cap_and_others_are_not(
    client: Any, table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    meter = CapacityMeter()
    throttle = TableLoginThrottle(client, table, clock=Clock(T0 + 10), meter=meter)
    calls = recorded(client, monkeypatch)
    for _ in range(4):
        throttle.failed("198.51.100.7")
    assert throttle.wait("198.51.100.7") is None
    throttle.failed("198.51.100.7")
    assert throttle.wait("198.51.100.7") == 291  # 5 fade out just past the next window's start
    assert throttle.wait("198.51.100.8") is None
    updates = ["UpdateItem"] * 2  # the client's counter, the overall one
    assert calls == updates * 4 + ["BatchGetItem"] + updates + ["BatchGetItem"] * 2
    assert meter.write_units == 10.0
    assert 0 < meter.read_units <= 3 * 2.0  # four small items, eventually consistent
    items = {(i["pk"]["S"], i["sk"]["S"]): i for i in throttle_items(client, table)}
    assert set(items) == {("CL#198.51.100.7", str(T0)), ("CL#all", str(T0))}
    for item in items.values():
        assert item["failures"] == {"N": "5"}
        assert int(item["expires_at"]["N"]) == T0 + 2 * WINDOW + 60  # read by the next window


def test_the_overall_cap_is_shared_by_two_throttles_on_the_table(
    dynamodb_local_endpoint: str, table: str
) -> None:
    clock = Clock(T0 + 100)
    first, second = (  # two containers: two clients, two throttles, one table
        TableLoginThrottle(local_dynamodb(dynamodb_local_endpoint), table, clock=clock)
        for _ in range(2)
    )
    for n in range(29):
        (first if n % 2 else second).failed(f"198.51.100.{n}")  # 1 each: no client is held
    assert first.wait("203.0.113.1") is None and second.wait("203.0.113.1") is None
    second.failed("198.51.100.99")
    assert first.wait("203.0.113.1") == 201 and second.wait("203.0.113.1") == 201


def test_windows_slide_with_the_clock(client: Any, table: str) -> None:
    clock = Clock(T0 + 10)
    throttle = TableLoginThrottle(client, table, clock=clock)
    for _ in range(5):
        throttle.failed("198.51.100.7")
    wait = throttle.wait("198.51.100.7")
    assert wait == 291
    clock.now = T0 + 10 + wait - 2  # 1 s before the window ends
    assert throttle.wait("198.51.100.7") == 2
    clock.now = T0 + 10 + wait  # 1 s into the next: the previous 5 weigh 5 x 299/300
    assert throttle.wait("198.51.100.7") is None
    throttle.failed("198.51.100.7")  # 5 x 299/300 + 1: held until 5 x (1 - e) < 4
    assert throttle.wait("198.51.100.7") == 60
    clock.now += 59
    assert throttle.wait("198.51.100.7") == 1
    clock.now += 1
    assert throttle.wait("198.51.100.7") is None
    clock.now = T0 + 3 * WINDOW  # two windows on: nothing of it is read any more
    for _ in range(4):
        throttle.failed("198.51.100.7")
    assert throttle.wait("198.51.100.7") is None


def test_a_success_clears_the_client_but_not_the_overall_count(client: Any, table: str) -> None:
    clock = Clock(T0 + 250)
    throttle = TableLoginThrottle(client, table, per_client=5, overall=16, clock=clock)
    for client in ("198.51.100.7", "198.51.100.8"):
        for _ in range(4):
            throttle.failed(client)
    clock.now = T0 + WINDOW + 10  # the next window: the previous 4 weigh 4 x 290/300
    throttle.succeeded("198.51.100.7")  # .8 does not log in
    for client in ("198.51.100.7", "198.51.100.8"):
        throttle.failed(client)
        throttle.failed(client)
    assert throttle.wait("198.51.100.8") is not None  # 3.87 + 2 >= 5
    assert throttle.wait("198.51.100.7") is None  # its typos before the success are gone
    throttle.failed("198.51.100.7")
    throttle.failed("198.51.100.7")
    assert throttle.wait("198.51.100.7") is None  # 4 since the success; overall 7.73 + 6
    for _ in range(3):
        throttle.failed("198.51.100.9")
    assert throttle.wait("203.0.113.1") is not None  # overall 7.73 + 9 >= 16
    throttle.succeeded("198.51.100.7")
    assert throttle.wait("198.51.100.7") is not None  # a success never resets "all"
    assert throttle.wait("203.0.113.1") is not None


def test_a_table_that_does_not_answer_holds_logins_and_drops_counts(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    throttle = TableLoginThrottle(local_dynamodb(f"http://127.0.0.1:{port}"), "waybill")
    with caplog.at_level(logging.WARNING, "waybill.console"):
        assert throttle.wait("198.51.100.7") == STORE_DOWN_WAIT
        throttle.failed("198.51.100.7")
        throttle.succeeded("198.51.100.7")
    assert [r.getMessage() for r in caplog.records] == [
        "login throttle not read (EndpointConnectionError): held",
        *["login throttle not written (EndpointConnectionError): dropped"] * 3,
    ]


def test_throttling_and_unprocessed_keys_hold_logins(client: Any, table: str) -> None:
    throttle = TableLoginThrottle(client, table, clock=Clock(T0))
    unprocessed = {"Responses": {}, "UnprocessedKeys": {table: {"Keys": [limit_key("all", T0)]}}}
    with Stubber(client) as stub:
        stub.add_client_error("batch_get_item", "ProvisionedThroughputExceededException")
        for _ in range(2):
            stub.add_client_error("update_item", "InternalServerError", http_status_code=500)
        for _ in range(3):
            stub.add_response("batch_get_item", unprocessed)
        assert throttle.wait("198.51.100.7") == STORE_DOWN_WAIT
        throttle.failed("198.51.100.7")  # both counts dropped, nothing raised
        assert throttle.wait("198.51.100.7") == STORE_DOWN_WAIT
        stub.assert_no_pending_responses()
    assert throttle_items(client, table) == []
    assert throttle.wait("198.51.100.7") is None  # the table answers again: logins resume


def test_client_ids_are_bounded_and_one_client_makes_one_item_per_window(
    client: Any, table: str
) -> None:
    throttle = TableLoginThrottle(client, table, clock=Clock(T0 + 5))
    huge = "x" * 100_000
    for _ in range(5):
        throttle.failed(huge)
    assert throttle.wait(huge) is not None
    assert throttle.wait("x" * 99_999) is None
    items = throttle_items(client, table)
    assert sorted(len(i["pk"]["S"]) for i in items) == [6, 3 + 33]
    for near in ("2001:db8::1", "2001:DB8:0:0:ffff::2", "2001:db8::3"):  # one /64
        throttle.failed(near)
    throttle.failed("::ffff:198.51.100.7")
    throttle.failed("198.51.100.7")
    assert throttle.wait("2001:db8::9") is None
    throttle.failed("2001:db8::abcd")
    throttle.failed("2001:db8::abcd")
    assert throttle.wait("2001:db8::9") is not None
    assert throttle.wait("2001:db8:0:1::9") is None
    pks = sorted(i["pk"]["S"] for i in throttle_items(client, table))
    assert pks == sorted(["CL#all", "CL#198.51.100.7", "CL#2001:db8::/64", "CL#" + client_id(huge)])
