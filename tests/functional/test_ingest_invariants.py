"""DESIGN.md's seven invariants, end to end through the Lambda handler (moto DynamoDB)."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from adapters import easypost, standard_webhooks
from gateway.testkit.harness import Harness, moto_harness

NOW = datetime(2024, 6, 3, 17, 0, tzinfo=UTC)
SECRET = "whsec_" + base64.b64encode(b"acme-partner-secret-32-bytes-ok!").decode()
OTHER = "whsec_" + base64.b64encode(b"globex-partner-secret-32-bytes!!").decode()
EASYPOST_SECRET = "ep-s\u00e9cret-for-tests"
HOOK = "/webhooks/{tenant}/standard_webhooks"


@pytest.fixture
def gw() -> Iterator[Harness]:
    with moto_harness(lambda: NOW) as harness:
        harness.secrets.values[("acme", "standard_webhooks")] = [SECRET]
        harness.secrets.values[("globex", "standard_webhooks")] = [OTHER]
        harness.secrets.values[("acme", "easypost")] = [EASYPOST_SECRET]
        yield harness


def tracking_body(*events: tuple[str, str], number: str = "1Z999") -> bytes:
    """A Standard Webhooks tracking body with ``(status, occurred_at)`` events."""
    data = {
        "tracking_number": number,
        "events": [
            {"status": s, "code": s.upper(), "description": f"{s} scan", "occurred_at": at}
            for s, at in events
        ],
    }
    return json.dumps({"type": "tracking.updated", "data": data}).encode()


def post(
    gw: Harness,
    body: bytes,
    *,
    secret: str = SECRET,
    tenant: str = "acme",
    msg_id: str | None = None,
) -> Any:
    headers = standard_webhooks.ADAPTER.sign(body, secret, NOW.timestamp(), delivery_id=msg_id)
    headers["content-type"] = "application/json"
    return gw.call("POST", HOOK.format(tenant=tenant), body=body, headers=headers)


def shipment(gw: Harness, number: str = "1Z999", tenant: str = "acme") -> Any:
    return gw.call("GET", f"/v1/shipments/{number}", tenant=tenant)


# 1. Verify before parse, over the raw bytes, fail closed.


def test_unsigned_garbage_is_401_not_parked(gw: Harness) -> None:
    reply = gw.call(
        "POST",
        HOOK.format(tenant="acme"),
        body=b"not json",
        headers={"content-type": "application/json"},
    )
    assert reply.status == 401 and reply.body["error"]["code"] == "signature_missing"
    assert gw.counts.get("DeliveriesParked") is None


def test_a_reserialised_body_fails_verification(gw: Harness) -> None:
    body = tracking_body(("in_transit", "2024-06-01T10:00:00Z"))
    headers = standard_webhooks.ADAPTER.sign(body, SECRET, NOW.timestamp()) | {
        "content-type": "application/json"
    }
    pretty = json.dumps(json.loads(body), indent=2).encode()  # same JSON, other bytes
    assert gw.call("POST", HOOK.format(tenant="acme"), body=pretty, headers=headers).status == 401


def test_no_secret_configured_fails_closed(gw: Harness) -> None:
    gw.secrets.values.pop(("acme", "standard_webhooks"))
    reply = post(gw, tracking_body(("in_transit", "2024-06-01T10:00:00Z")))
    assert reply.status == 401 and reply.body["error"]["code"] == "secret_missing"


def test_secrets_backend_down_is_a_retryable_503(gw: Harness) -> None:
    gw.secrets.fail = True
    reply = post(gw, tracking_body(("in_transit", "2024-06-01T10:00:00Z")))
    assert reply.status == 503 and reply.body["error"]["code"] == "secrets_unavailable"


# 2. Several secrets valid at once.


def test_old_and_new_secret_both_verify_during_rotation(gw: Harness) -> None:
    new = "whsec_" + base64.b64encode(b"acme-partner-secret-rotated-32b!").decode()
    gw.secrets.values[("acme", "standard_webhooks")] = [new, SECRET]
    assert (
        post(gw, tracking_body(("in_transit", "2024-06-01T10:00:00Z")), secret=SECRET).status == 200
    )
    assert post(gw, tracking_body(("delivered", "2024-06-02T10:00:00Z")), secret=new).status == 200


# 3. Two-level dedupe.


def test_a_retried_delivery_is_a_duplicate(gw: Harness) -> None:
    body = tracking_body(
        ("in_transit", "2024-06-01T10:00:00Z"), ("delivered", "2024-06-02T10:00:00Z")
    )
    first = post(gw, body, msg_id="msg_1")
    again = post(gw, body, msg_id="msg_1")
    assert first.status == again.status == 200
    assert (first.body["accepted"], first.body["duplicates"]) == (2, 0)
    assert (again.body["accepted"], again.body["duplicates"]) == (0, 2)
    assert again.body["duplicate_delivery"] is True
    assert sorted(first.body["events"]) == sorted(again.body["events"])


def test_a_full_history_resend_stores_only_the_new_scan(gw: Harness) -> None:
    scans = [("in_transit", "2024-06-01T10:00:00Z"), ("out_for_delivery", "2024-06-02T08:00:00Z")]
    post(gw, tracking_body(*scans[:1]), msg_id="msg_1")
    reply = post(gw, tracking_body(*scans), msg_id="msg_2")
    assert (reply.body["accepted"], reply.body["duplicates"]) == (1, 1)
    assert reply.body["duplicate_delivery"] is False
    events = gw.call("GET", "/v1/shipments/1Z999/events", tenant="acme").body["events"]
    assert [e["status"] for e in events] == ["in_transit", "out_for_delivery"]


# 4. Status never moves backwards in time.


def test_a_late_older_event_joins_history_but_not_the_state(gw: Harness) -> None:
    post(gw, tracking_body(("delivered", "2024-06-02T10:00:00Z")))
    post(gw, tracking_body(("in_transit", "2024-06-01T10:00:00Z")))
    state = shipment(gw).body["shipments"][0]
    assert state["status"] == "delivered" and state["event_count"] == 2


# 5. Tenants are isolated.


def test_a_tenant_never_reads_another_tenants_shipment(gw: Harness) -> None:
    post(gw, tracking_body(("in_transit", "2024-06-01T10:00:00Z")))
    assert shipment(gw, tenant="acme").status == 200
    assert shipment(gw, tenant="globex").status == 404
    assert gw.call("GET", "/v1/shipments/1Z999/events", tenant="globex").status == 404


def test_a_tenants_secret_never_authenticates_another_tenants_path(gw: Harness) -> None:
    body = tracking_body(("in_transit", "2024-06-01T10:00:00Z"))
    assert post(gw, body, secret=SECRET, tenant="globex").status == 401
    assert post(gw, body, secret=OTHER, tenant="acme").status == 401


def test_v1_without_a_resolved_tenant_is_401(gw: Harness) -> None:
    reply = gw.call("GET", "/v1/shipments/1Z999")
    assert reply.status == 401 and reply.body["error"]["code"] == "unauthenticated"


# 6. Nothing accepted is lost: 2xx means stored or parked; failure to store is a 5xx.


def test_an_authentic_unparseable_delivery_is_parked_once(gw: Harness) -> None:
    body = b'{"type": "tracking.updated", "data": {"events": "not a list"}}'
    first = post(gw, body)
    again = post(gw, body)
    assert first.status == again.status == 202
    assert again.body["already_parked"] is True
    (parked,) = gw.services.pipeline.parking.list("acme")
    assert parked.body == body and parked.carrier == "standard_webhooks"
    assert not any(name.startswith("webhook-signature") for name in parked.headers)


def test_a_store_failure_is_503_so_the_carrier_retries(
    gw: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import EndpointConnectionError

    def down(*args: Any, **kwargs: Any) -> Any:
        raise EndpointConnectionError(endpoint_url="http://dynamodb")

    monkeypatch.setattr(gw.services.store.client, "put_item", down)
    reply = post(gw, tracking_body(("in_transit", "2024-06-01T10:00:00Z")))
    assert reply.status == 503 and reply.body["error"]["code"] == "store_unavailable"


def test_non_tracking_events_are_acknowledged_and_ignored(gw: Harness) -> None:
    body = json.dumps({"type": "ping", "data": {}}).encode()
    reply = post(gw, body)
    assert reply.status == 200 and reply.body["ignored"]


# 7. Secrets never appear in logs, errors or responses.


def test_secrets_never_appear_in_output(
    gw: Harness, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    body = tracking_body(("in_transit", "2024-06-01T10:00:00Z"))
    replies = [
        post(gw, body),
        post(gw, body, secret=OTHER),
        post(gw, b"{broken", secret=SECRET),
        gw.call(
            "POST",
            HOOK.format(tenant="acme"),
            body=body,
            headers={"content-type": "application/json", "webhook-signature": SECRET},
        ),
    ]
    seen = json.dumps([r.body for r in replies]) + caplog.text + "".join(capsys.readouterr())
    for secret in (SECRET, OTHER, SECRET.removeprefix("whsec_")):
        assert secret not in seen


# The HTTP edges: bad input gets a stable code, never a 500.


@pytest.mark.parametrize(
    ("url", "status", "code"),
    [
        ("/webhooks/nobody/standard_webhooks", 404, "not_found"),
        ("/webhooks/acme/fedex", 404, "not_found"),
        ("/webhooks/initech/aftership", 404, "not_found"),
        ("/webhooks/..%2Fetc/easypost", 404, "not_found"),  # decodes to another shape
        ("/webhooks/acme/easypost%2F", 404, "not_found"),
        ("/webhooks/..%2Facme/easypost", 404, "not_found"),
    ],
)
def test_unknown_tenant_or_carrier_is_404(gw: Harness, url: str, status: int, code: str) -> None:
    reply = gw.call("POST", url, body=b"{}", headers={"content-type": "application/json"})
    assert (reply.status, reply.body["error"]["code"]) == (status, code)


def test_wrong_content_type_is_415(gw: Harness) -> None:
    reply = gw.call(
        "POST", HOOK.format(tenant="acme"), body=b"{}", headers={"content-type": "text/plain"}
    )
    assert reply.status == 415


def test_a_huge_body_is_413(gw: Harness) -> None:
    reply = gw.call(
        "POST",
        HOOK.format(tenant="acme"),
        body=b"x" * 300_000,
        headers={"content-type": "application/json"},
    )
    assert reply.status == 413 and reply.body["error"]["code"] == "payload_too_large"


def test_invalid_utf8_body_is_refused_cleanly(gw: Harness) -> None:
    reply = gw.call(
        "POST",
        HOOK.format(tenant="acme"),
        body=b"\xff\xfe\x00garbage",
        headers={"content-type": "application/json"},
    )
    assert reply.status == 401


def test_repeated_signature_headers_are_refused(gw: Harness) -> None:
    body = tracking_body(("in_transit", "2024-06-01T10:00:00Z"))
    headers = standard_webhooks.ADAPTER.sign(body, SECRET, NOW.timestamp())
    valid = [*headers.items(), ("content-type", "application/json")]
    assert gw.call("POST", HOOK.format(tenant="acme"), body=body, headers=valid).status == 200
    forged = [*valid, ("webhook-signature", "v1,AAAA")]
    reply = gw.call("POST", HOOK.format(tenant="acme"), body=body, headers=forged)
    assert reply.status == 401 and reply.body["error"]["code"] == "header_repeated"


def test_healthz(gw: Harness) -> None:
    assert gw.call("GET", "/healthz").body == {"status": "ok"}


# Close the loop with a real carrier format.


def test_easypost_full_history_round_trip(gw: Harness, fixtures_dir: Any) -> None:
    body = (fixtures_dir / "easypost" / "event_tracker_updated_full_history.json").read_bytes()
    headers = easypost.ADAPTER.sign(body, EASYPOST_SECRET, NOW.timestamp()) | {
        "content-type": "application/json"
    }
    first = gw.call("POST", "/webhooks/acme/easypost", body=body, headers=headers)
    again = gw.call("POST", "/webhooks/acme/easypost", body=body, headers=headers)
    assert (first.status, first.body["accepted"], first.body["duplicates"]) == (200, 9, 0)
    assert (again.body["accepted"], again.body["duplicates"]) == (0, 9)
    assert again.body["duplicate_delivery"] is True
    number = json.loads(body)["result"]["tracking_code"]
    state = shipment(gw, number).body["shipments"][0]
    assert (state["carrier"], state["status"], state["event_count"]) == ("easypost", "delivered", 9)
    history = gw.call("GET", f"/v1/shipments/{number}/events?limit=1", tenant="acme").body
    assert len(history["events"]) == 1 and history["next_cursor"]
    rest = gw.call(
        "GET", f"/v1/shipments/{number}/events?cursor={history['next_cursor']}", tenant="acme"
    ).body
    assert len(rest["events"]) == 8 and rest["next_cursor"] is None
    listed = [e["event_id"] for e in history["events"] + rest["events"]]
    assert sorted(listed) == sorted(first.body["events"])
