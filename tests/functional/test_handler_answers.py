"""What the handler answers on its own, as on AWS (moto DynamoDB): 405 with ``Allow`` for a
wrong method on a real route (404 for no route), the OAuth token endpoint's refusals in
RFC 6749 §5.2 shape, and one time format in every answer.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from gateway.local.proxy_event import LocalContext, build_event
from gateway.models import Status
from gateway.routes import match_route
from gateway.testkit.events import T0, make_event
from gateway.testkit.harness import Harness, moto_harness
from tests.support.notify import install_sender, replay_stream

NOW = T0 + timedelta(days=30, minutes=5, microseconds=250_000)  # a fraction of a second
JSON = {"content-type": "application/json"}
INSTANT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z$")


@pytest.fixture
def gw() -> Iterator[Harness]:
    with moto_harness(lambda: NOW) as harness:
        yield harness


def raw_call(gw: Harness, method: str, path: str, routed_as: str, **kwargs: Any) -> Any:
    """The handler called with an event the edge would not build (its path and method as
    given, its resource the one of ``routed_as``): what API Gateway may pass on AWS."""
    route = match_route(routed_as)
    assert route is not None
    event = build_event(
        route,
        method=method,
        path=path,
        headers=list(kwargs.pop("headers", {}).items()),
        query_string=b"",
        body=b"",
        source_ip="127.0.0.1",
        tenant=kwargs.pop("tenant", None),
        request_id="req-1",
    )
    event.update(kwargs)
    return gw.handler(event, LocalContext.new())


# --- 405 with Allow ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/v1/shipments/1Z999", "GET"),
        ("GET", "/v1/events", "POST"),
        ("PUT", "/v1/endpoints/ep_x", "GET, DELETE"),
        ("GET", "/webhooks/acme/easypost", "POST"),
    ],
)
def test_a_wrong_method_on_a_real_route_is_405_with_allow(
    gw: Harness, method: str, path: str, allow: str
) -> None:
    reply = gw.call(method, path, tenant="acme")
    assert reply.status == 405, reply.body
    assert reply.headers["Allow"] == allow
    assert reply.body["error"]["code"] == "method_not_allowed"


def test_a_keyed_route_asks_for_the_key_before_naming_its_methods(gw: Harness) -> None:
    reply = gw.call("DELETE", "/v1/shipments/1Z999")  # no authorizer context: no key
    assert (reply.status, reply.body["error"]["code"]) == (401, "unauthenticated")
    assert "Allow" not in reply.headers


def test_a_path_that_is_no_route_stays_404_in_the_handler(gw: Harness) -> None:
    answer = raw_call(gw, "GET", "/v1/nothing/here", "/healthz")
    assert answer["statusCode"] == 404
    assert json.loads(answer["body"])["error"]["code"] == "not_found"
    assert gw.call("GET", "/healthz").status == 200  # the right method still answers


# --- OAuth errors in RFC 6749 §5.2 shape -----------------------------------------------------


def test_token_refusals_have_the_rfc_6749_shape(gw: Harness) -> None:
    gw.secrets.values[("upsco", "ups.oauth")] = ["oauth-secret"]
    url = "/oauth/upsco/ups/token"
    form = {"content-type": "application/x-www-form-urlencoded"}
    refused = gw.call("POST", url, body=b"grant_type=client_credentials", headers=form)
    assert refused.status == 401 and refused.headers["WWW-Authenticate"].startswith("Basic")
    assert refused.body == {
        "error": "invalid_client",
        "error_description": "client authentication (HTTP Basic) is required",
    }
    basic = "Basic " + base64.b64encode(b"upsco-track-alert:oauth-secret").decode()
    headers = form | {"authorization": basic}
    wrong = gw.call("POST", url, body=b"grant_type=password", headers=headers)
    assert (wrong.status, wrong.body["error"]) == (400, "unsupported_grant_type")
    assert set(wrong.body) == {"error", "error_description"}
    # A body that is not text is a malformed token request too, in the same shape.
    answer = raw_call(gw, "POST", url, url, headers=headers, body="%%%", isBase64Encoded=True)
    assert answer["statusCode"] == 400
    assert json.loads(answer["body"]) == {
        "error": "invalid_request",
        "error_description": "body is not valid base64",
    }
    unknown = gw.call("POST", "/oauth/nobody/ups/token", headers=headers)
    assert unknown.status == 404  # not a token error: Waybill's own shape
    assert set(unknown.body["error"]) == {"code", "message"}


# --- one time format -----------------------------------------------------------------------


def instants(document: Any) -> list[str]:
    """Every string of ``document`` that starts like an ISO instant."""
    if isinstance(document, dict):
        return [text for value in document.values() for text in instants(value)]
    if isinstance(document, list):
        return [text for value in document for text in instants(value)]
    return (
        [document] if isinstance(document, str) and re.match(r"\d{4}-\d\d-\d\dT", document) else []
    )


def test_every_answer_shows_instants_one_way(gw: Harness) -> None:
    sender = install_sender(gw.services)
    created = gw.call(
        "POST",
        "/v1/endpoints",
        body=json.dumps(
            {"url": "https://hooks.example.com/a", "types": ["shipment.event_added"]}
        ).encode(),
        headers=JSON,
        tenant="acme",
    ).body
    events = [make_event(i, tenant="acme", tracking_number="EZ1000000001") for i in range(2)]
    events.append(
        make_event(3, tenant="acme", tracking_number="EZ1000000001", status=Status.DELIVERED)
    )
    gw.services.store.record(events, delivery_key="EZ1000000001", now=NOW, retention_days=30)
    replay_stream(gw.services, "acme")
    answers = [
        created,
        gw.call("GET", "/v1/shipments/EZ1000000001", tenant="acme").body,
        gw.call("GET", "/v1/shipments/EZ1000000001/events", tenant="acme").body,
        gw.call("GET", "/v1/shipments/EZ1000000001/locations", tenant="acme").body,
        gw.call("GET", "/v1/shipments?status=delivered", tenant="acme").body,
        gw.call("GET", f"/v1/endpoints/{created['id']}/messages", tenant="acme").body,
        *(json.loads(sent.body) for sent in sender.sent),
    ]
    found = [text for answer in answers for text in instants(answer)]
    assert len(found) > 20
    assert sender.sent  # the messages' bodies are checked too
    assert [text for text in found if not INSTANT.match(text) or ".000000Z" in text] == []
    assert any("." in text for text in found)  # a fraction only where there is one
    assert "+00:00" not in json.dumps(answers)
