"""``/v1/endpoints`` end to end through the Lambda handler (moto DynamoDB): registration
and its secret, validation codes, rotation with grace, disable and enable, removal,
messages and their pages, resend, recovery; and the messages we send match the
``webhooks`` schemas of the OpenAPI document.

Messages come from the real stream handler fed with the table's items
(:func:`tests.support.notify.replay_stream`); a fake sender records what would be posted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from gateway.api.notify_models import EndpointCreated, EndpointList, MessagesPage
from gateway.api.openapi import document
from gateway.models import Status
from gateway.notify.endpoints import EVENT_ADDED, STATUS_CHANGED
from gateway.signing.standard import verify_standard
from gateway.testkit.events import T0, make_event
from gateway.testkit.harness import Harness, Reply, moto_harness
from tests.support.notify import FakeSender, Sent, install_sender, replay_stream

NOW = T0 + timedelta(days=30, minutes=5)  # just after the events' received_at
URL = "https://hooks.example.com/acme"
JSON = {"content-type": "application/json"}
BOTH = [STATUS_CHANGED, EVENT_ADDED]


@pytest.fixture
def gw() -> Iterator[Harness]:
    with moto_harness(lambda: NOW) as harness:
        yield harness


@pytest.fixture
def sender(gw: Harness) -> FakeSender:
    return install_sender(gw.services)


def call(gw: Harness, method: str, url: str, body: Any = None, tenant: str = "acme") -> Reply:
    raw = body if isinstance(body, bytes) else b"" if body is None else json.dumps(body).encode()
    return gw.call(method, url, body=raw, headers=JSON if raw else {}, tenant=tenant)


def create(gw: Harness, tenant: str = "acme", **fields: Any) -> dict[str, Any]:
    reply = call(gw, "POST", "/v1/endpoints", {"url": URL, **fields}, tenant)
    assert reply.status == 201, reply.body
    return dict(reply.body)


def code(reply: Reply) -> tuple[int, str]:
    return reply.status, reply.body["error"]["code"]


def ship(gw: Harness, count: int = 3, tenant: str = "acme", number: str = "EZ1000000001") -> None:
    """``count`` events of one shipment stored, then the stream handled (messages sent)."""
    events = [make_event(i, tenant=tenant, tracking_number=number) for i in range(count - 1)]
    events.append(make_event(count, tenant=tenant, tracking_number=number, status=Status.DELIVERED))
    gw.services.store.record(events, delivery_key=number, now=NOW, retention_days=30)
    replay_stream(gw.services, tenant)


def verify(secret: str, sent: Sent) -> None:
    """Standard Webhooks verification at the harness's time (the official package checks
    the timestamp against the real clock: tests/integration/test_notifications_… use it)."""
    verify_standard(
        msg_id=sent.headers["webhook-id"],
        timestamp=sent.headers["webhook-timestamp"],
        signature=sent.headers["webhook-signature"],
        body=sent.body,
        secrets=[secret],
        now=NOW.timestamp(),
    )


# -- registration ----------------------------------------------------------------------


def test_create_answers_the_secret_once_and_never_again(gw: Harness) -> None:
    reply = call(gw, "POST", "/v1/endpoints", {"url": URL, "description": "shop"})
    assert reply.status == 201 and reply.headers["Cache-Control"] == "no-store"
    created = EndpointCreated.model_validate(reply.body)
    assert created.secret.startswith("whsec_") and created.id.startswith("ep_")
    assert (created.types, created.statuses, created.carriers) == ([STATUS_CHANGED], [], [])
    assert (created.enabled, created.disabled_reason, created.description) == (True, None, "shop")
    listed = call(gw, "GET", "/v1/endpoints")
    one = call(gw, "GET", f"/v1/endpoints/{created.id}")
    assert EndpointList.model_validate(listed.body).endpoints[0].id == created.id
    assert one.body == {k: v for k, v in reply.body.items() if k != "secret"}
    for answer in (listed, one):
        assert created.secret not in json.dumps(answer.body) and "secret" not in str(answer.body)
    secrets = gw.services.notifications.notifier.endpoints
    stored = secrets.get("acme", created.id)
    assert secrets.signing_secrets(stored, NOW) == [created.secret]
    assert created.secret.encode() not in json.dumps(str(stored.secrets)).encode()  # sealed


def test_filters_are_kept(gw: Harness) -> None:
    made = create(gw, types=BOTH, statuses=["delivered", "exception"], carriers=["ups"])
    assert (made["types"], made["statuses"], made["carriers"]) == (
        BOTH,
        ["delivered", "exception"],
        ["ups"],
    )


BAD_REGISTRATIONS: list[tuple[Any, str]] = [
    (b"{", "malformed_body"),
    (b"[]", "malformed_body"),
    (b"\xff", "malformed_body"),
    ({"url": URL, "colour": "red"}, "unknown_field"),
    ({}, "endpoint_url_invalid"),
    ({"url": 7}, "endpoint_url_invalid"),
    ({"url": "ftp://hooks.example.com/"}, "endpoint_url_invalid"),
    ({"url": "https://user:pw@hooks.example.com/"}, "endpoint_url_invalid"),
    ({"url": "https://2130706433/"}, "endpoint_url_invalid"),
    ({"url": "http://hooks.example.com/"}, "endpoint_url_forbidden"),  # https only here
    ({"url": "https://169.254.169.254/latest"}, "endpoint_url_forbidden"),
    ({"url": "https://10.0.0.8/"}, "endpoint_url_forbidden"),
    ({"url": URL, "types": ["shipment.deleted"]}, "invalid_endpoint"),
    ({"url": URL, "types": []}, "invalid_endpoint"),
    ({"url": URL, "statuses": ["lost"]}, "invalid_endpoint"),
    ({"url": URL, "carriers": ["../ups"]}, "invalid_endpoint"),
    ({"url": URL, "description": "x" * 257}, "invalid_endpoint"),
]


def test_bad_registrations_are_refused_with_a_code(gw: Harness) -> None:
    for body, expected in BAD_REGISTRATIONS:
        assert code(call(gw, "POST", "/v1/endpoints", body)) == (400, expected), body
    assert call(gw, "GET", "/v1/endpoints").body == {"endpoints": []}


def test_body_type_size_and_presence(gw: Harness) -> None:
    plain = gw.call(
        "POST", "/v1/endpoints", body=b'{"url": "x"}', headers={"content-type": "text/plain"},
        tenant="acme",
    )  # fmt: skip
    assert code(plain) == (415, "unsupported_media_type")
    huge = {"url": URL, "description": "x" * 300_000}
    assert code(call(gw, "POST", "/v1/endpoints", huge)) == (413, "payload_too_large")
    assert code(call(gw, "POST", "/v1/endpoints")) == (400, "malformed_body")


def test_a_tenant_has_at_most_twenty_endpoints(gw: Harness) -> None:
    for _ in range(20):
        create(gw)
    assert code(call(gw, "POST", "/v1/endpoints", {"url": URL})) == (409, "endpoint_limit")


# -- rotation, disable and enable, removal --------------------------------------------


def test_rotate_returns_a_new_secret_and_the_old_one_signs_during_the_grace(gw: Harness) -> None:
    made = create(gw)
    reply = call(gw, "POST", f"/v1/endpoints/{made['id']}/rotate-secret", {"grace_seconds": 3600})
    assert reply.status == 200 and reply.headers["Cache-Control"] == "no-store"
    new = reply.body["secret"]
    assert new.startswith("whsec_") and new != made["secret"]
    assert {k: v for k, v in reply.body.items() if k != "secret"} == {
        k: v for k, v in made.items() if k != "secret"
    }
    store = gw.services.notifications.notifier.endpoints
    endpoint = store.get("acme", made["id"])
    assert store.signing_secrets(endpoint, NOW) == [new, made["secret"]]
    assert store.signing_secrets(endpoint, NOW + timedelta(seconds=3601)) == [new]
    again = call(gw, "POST", f"/v1/endpoints/{made['id']}/rotate-secret")  # no body: a day
    endpoint = store.get("acme", made["id"])
    assert store.signing_secrets(endpoint, NOW + timedelta(hours=23)) == [
        again.body["secret"],
        new,
    ]


BAD_GRACES: list[tuple[Any, str]] = [
    ({"grace_seconds": -1}, "invalid_grace"),
    ({"grace_seconds": 604_801}, "invalid_grace"),
    ({"grace_seconds": "60"}, "invalid_grace"),
    ({"grace_seconds": 1.5}, "invalid_grace"),
    ({"grace_seconds": True}, "invalid_grace"),
    ({"grace": 60}, "unknown_field"),
    (b"[1]", "malformed_body"),
]


def test_a_bad_grace_is_refused(gw: Harness) -> None:
    made = create(gw)
    for body, expected in BAD_GRACES:
        reply = call(gw, "POST", f"/v1/endpoints/{made['id']}/rotate-secret", body)
        assert code(reply) == (400, expected), body
    store = gw.services.notifications.notifier.endpoints
    assert store.signing_secrets(store.get("acme", made["id"]), NOW) == [made["secret"]]


def test_disabled_messages_wait_and_go_out_on_enable(gw: Harness, sender: FakeSender) -> None:
    made = create(gw)
    off = call(gw, "POST", f"/v1/endpoints/{made['id']}/disable")
    assert off.status == 200 and (off.body["enabled"], off.body["disabled_reason"]) == (
        False,
        "by request",
    )
    ship(gw)
    assert sender.sent == []
    (paused,) = call(gw, "GET", f"/v1/endpoints/{made['id']}/messages").body["messages"]
    assert (paused["state"], paused["attempts"]) == ("paused", [])
    on = call(gw, "POST", f"/v1/endpoints/{made['id']}/enable")
    assert on.status == 200 and (on.body["enabled"], on.body["disabled_reason"]) == (True, None)
    assert gw.services.notifications.sweep() == 1
    (delivered,) = call(gw, "GET", f"/v1/endpoints/{made['id']}/messages").body["messages"]
    assert delivered["state"] == "delivered" and len(sender.sent) == 1


def test_delete_answers_204_then_404(gw: Harness) -> None:
    made = create(gw)
    path = f"/v1/endpoints/{made['id']}"
    deleted = call(gw, "DELETE", path)
    assert (deleted.status, deleted.body) == (204, None)
    for method, url in [("GET", path), ("DELETE", path), ("POST", f"{path}/enable")]:
        assert code(call(gw, method, url)) == (404, "not_found")
    assert call(gw, "GET", "/v1/endpoints").body == {"endpoints": []}


def test_unknown_or_malformed_ids_are_not_found(gw: Harness) -> None:
    create(gw)
    # ``%23``: a ``#`` reaches the handler (a bare one starts the URL's fragment, never sent)
    malformed = ("nope", "ep_AAAAAAAAAAAAAAAA", "N%23ep_aaaaaaaaaaaaaaaa", "ep_" + "a" * 1100)
    for endpoint in ("ep_aaaaaaaaaaaaaaaa", *malformed):  # the last: longer than a key may be
        path = f"/v1/endpoints/{endpoint}"
        for method, url, body in [
            ("GET", path, None),
            ("DELETE", path, None),
            ("POST", f"{path}/rotate-secret", None),
            ("POST", f"{path}/disable", None),
            ("GET", f"{path}/messages", None),
            ("POST", f"{path}/messages/msg_01KDXFKR00VNE07P2FTDYW5BNT/resend", None),
            ("POST", f"{path}/recover", {"since": "2025-05-10T09:00:00Z"}),
        ]:
            assert code(call(gw, method, url, body)) == (404, "not_found"), (method, url)


# -- messages, resend, recovery ---------------------------------------------------------


def test_messages_are_listed_newest_first_in_signed_pages(gw: Harness, sender: FakeSender) -> None:
    made = create(gw, types=BOTH)
    ship(gw, 5)
    assert len(sender.sent) == 6  # five events added, one status change (the first event)
    path = f"/v1/endpoints/{made['id']}/messages"
    everything = MessagesPage.model_validate(call(gw, "GET", f"{path}?limit=100").body)
    ids = [m.id for m in everything.messages]
    assert ids == sorted(ids, reverse=True) and everything.next_cursor is None
    assert {m.id for m in everything.messages} == {s.headers["webhook-id"] for s in sender.sent}
    assert all(m.state == "delivered" and len(m.attempts) == 1 for m in everything.messages)
    paged: list[str] = []
    url = f"{path}?limit=2"
    for _ in range(5):
        page = call(gw, "GET", url).body
        paged += [m["id"] for m in page["messages"]]
        if page["next_cursor"] is None:
            break
        url = f"{path}?limit=2&cursor={page['next_cursor']}"
    assert paged == ids
    assert call(gw, "GET", f"{path}?status=failed").body == {"messages": [], "next_cursor": None}
    assert len(call(gw, "GET", f"{path}?status=delivered").body["messages"]) == 6


def test_bad_message_queries_are_refused(gw: Harness, sender: FakeSender) -> None:
    made, other = create(gw), create(gw)
    ship(gw, 3)
    path = f"/v1/endpoints/{made['id']}/messages"
    cursor = call(gw, "GET", f"{path}?limit=1").body["next_cursor"]
    assert cursor is not None
    other_path = f"/v1/endpoints/{other['id']}/messages"
    for url, expected in [
        (f"{path}?status=lost", "invalid_status"),
        (f"{path}?limit=0", "invalid_limit"),
        (f"{path}?limit=101", "invalid_limit"),
        (f"{path}?limit=x", "invalid_limit"),
        (f"{path}?cursor=abc", "invalid_cursor"),
        (f"{path}?cursor={cursor[:-2]}AA", "invalid_cursor"),
        (f"{path}?limit=1&status=failed&cursor={cursor}", "invalid_cursor"),  # another query
        (f"{other_path}?cursor={cursor}", "invalid_cursor"),  # another endpoint
    ]:
        assert code(call(gw, "GET", url)) == (400, expected), url


def test_resend_makes_one_more_attempt_with_the_same_webhook_id(
    gw: Harness, sender: FakeSender
) -> None:
    made = create(gw)
    ship(gw)
    (message,) = call(gw, "GET", f"/v1/endpoints/{made['id']}/messages").body["messages"]
    reply = call(gw, "POST", f"/v1/endpoints/{made['id']}/messages/{message['id']}/resend")
    assert reply.status == 200
    assert [(a["trigger"], a["status"]) for a in reply.body["attempts"]] == [
        ("stream", 200),
        ("resend", 200),
    ]
    first, again = sender.sent
    assert first.body == again.body and first.headers["webhook-id"] == message["id"]
    assert again.headers["webhook-id"] == message["id"]
    verify(made["secret"], again)
    for wrong in ("msg_01KDXFKR00VNE07P2FTDYW5BNT", "msg_x", message["id"].lower()):
        url = f"/v1/endpoints/{made['id']}/messages/{wrong}/resend"
        assert code(call(gw, "POST", url)) == (404, "not_found")


def test_recover_queues_the_failed_messages_since_a_time(gw: Harness) -> None:
    made = create(gw, types=BOTH)
    install_sender(gw.services, FakeSender(status=410))  # gone: failed, endpoint disabled
    ship(gw, 2)
    path = f"/v1/endpoints/{made['id']}"
    failed = call(gw, "GET", f"{path}/messages?status=failed").body["messages"]
    assert len(failed) == 3
    assert call(gw, "GET", path).body["disabled_reason"] == "gone"
    call(gw, "POST", f"{path}/enable")
    future = (NOW + timedelta(minutes=1)).isoformat()
    assert call(gw, "POST", f"{path}/recover", {"since": future}).status == 400
    since = (T0 + timedelta(days=30)).isoformat().replace("+00:00", "Z")
    reply = call(gw, "POST", f"{path}/recover", {"since": since})
    assert (reply.status, reply.body) == (202, {"queued": 3})
    assert call(gw, "GET", f"{path}/messages?status=pending").body["messages"] != []
    sender = install_sender(gw.services)
    assert gw.services.notifications.sweep() == 3 and len(sender.sent) == 3
    assert call(gw, "POST", f"{path}/recover", {"since": since}).body == {"queued": 0}


BAD_RECOVERIES: list[tuple[Any, str]] = [
    ({}, "invalid_since"),
    ({"since": 1717236000}, "invalid_since"),
    ({"since": "yesterday"}, "invalid_since"),
    ({"since": "2025-05-10"}, "invalid_since"),
    ({"since": "2025-05-10T09:00:00"}, "invalid_since"),  # no offset
    ({"since": "2025-05-10T09:00:00+25:00"}, "invalid_since"),
    ({"since": "2099-01-01T00:00:00Z"}, "invalid_since"),  # in the future
    ({"since": "2025-04-01T00:00:00Z"}, "invalid_since"),  # beyond acme's 30 days
    ({"since": "2025-05-10T09:00:00Z", "until": "x"}, "unknown_field"),
    (b"", "malformed_body"),
]


def test_recover_refuses_a_bad_since(gw: Harness) -> None:
    made = create(gw)
    for body, expected in BAD_RECOVERIES:
        reply = call(gw, "POST", f"/v1/endpoints/{made['id']}/recover", body)
        assert code(reply) == (400, expected), body


# -- what a tenant's endpoint receives ----------------------------------------------------


def _webhook_validator(message_type: str) -> Draft202012Validator:
    doc = document()
    operation = doc["webhooks"][message_type]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    schema = {**body, "components": doc["components"]}
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def test_every_message_sent_matches_its_webhook_schema_and_verifies(
    gw: Harness, sender: FakeSender
) -> None:
    made = create(gw, types=BOTH)
    ship(gw, 3)
    ship(gw, 1, number="EZ2000000002")
    types = [json.loads(s.body)["type"] for s in sender.sent]
    assert sorted(types) == [EVENT_ADDED] * 4 + [STATUS_CHANGED] * 2
    for sent in sender.sent:
        message = json.loads(sent.body)
        _webhook_validator(message["type"]).validate(message)
        assert set(message["data"]) == {
            "tracking_number",
            "carrier",
            "status",
            "previous_status",
            "status_changed_at",
            "estimated_delivery",
            "event",
        }
        verify(made["secret"], sent)
    wrong = {"type": STATUS_CHANGED, "timestamp": "2025-01-01T00:00:00Z", "data": {}}
    assert list(_webhook_validator(STATUS_CHANGED).iter_errors(wrong))  # the schema bites
