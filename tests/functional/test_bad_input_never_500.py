"""Bad input gets a stable error code, never a 5xx; authentic garbage is parked (hypothesis)."""

from __future__ import annotations

import base64
import json
import string
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters import aftership, easypost, standard_webhooks
from gateway.local.proxy_event import LocalContext
from tests.support.gateway import Harness, moto_harness

NOW = datetime(2026, 1, 1, tzinfo=UTC)
SECRETS = {
    "standard_webhooks": "whsec_" + base64.b64encode(b"fuzz-secret-for-standard-hooks!!").decode(),
    "easypost": "fuzz-easypost-secret",
    "aftership": "fuzz-aftership-secret",
}
SIGNERS = {"standard_webhooks": standard_webhooks, "easypost": easypost, "aftership": aftership}
HEADER_NAMES = [
    "content-type",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "x-hmac-signature",
    "aftership-hmac-sha256",
    "x-api-key",
]
SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)
bodies = st.one_of(
    st.binary(max_size=600),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.builds(
        lambda events: json.dumps(
            {"type": "tracking.updated", "data": {"tracking_number": "1Z", "events": events}}
        ).encode(),
        json_values,
    ),
    st.just(b"[" * 5000 + b"]" * 5000),  # deep nesting
)


@pytest.fixture
def gw() -> Iterator[Harness]:
    with moto_harness(lambda: NOW) as harness:
        for carrier, secret in SECRETS.items():
            harness.secrets.values[("acme", carrier)] = [secret]
        yield harness


def raw_event(
    path: str, body: Any, base64_flag: bool, headers: dict[str, str], tenant: str | None
) -> dict[str, Any]:
    context: dict[str, Any] = {"requestId": "fuzz", "stage": "local", "path": path}
    if tenant is not None:
        context["authorizer"] = {"tenant": tenant}
    return {
        "resource": path,
        "path": path,
        "httpMethod": "POST" if path.startswith("/webhooks") else "GET",
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "pathParameters": None,
        "requestContext": context,
        "body": body,
        "isBase64Encoded": base64_flag,
    }


def assert_clean(response: dict[str, Any]) -> dict[str, Any]:
    assert response["statusCode"] < 500, response
    reply: dict[str, Any] = json.loads(response["body"])
    if response["statusCode"] >= 400:
        assert set(reply) == {"error"} and reply["error"]["code"]
    return reply


@SETTINGS
@given(
    path=st.sampled_from(
        ["/webhooks/acme/standard_webhooks", "/webhooks/acme/easypost", "/webhooks/acme/aftership"]
    )
    | st.text(alphabet=string.printable, max_size=40).map(lambda s: "/webhooks/" + s),
    body=st.none()
    | st.text(max_size=300)
    | st.binary(max_size=300).map(lambda b: base64.b64encode(b).decode()),
    base64_flag=st.booleans(),
    headers=st.dictionaries(st.sampled_from(HEADER_NAMES), st.text(max_size=80), max_size=6),
)
def test_unauthenticated_noise_never_500s(
    gw: Harness, path: str, body: str | None, base64_flag: bool, headers: dict[str, str]
) -> None:
    assert_clean(gw.handler(raw_event(path, body, base64_flag, headers, None), LocalContext.new()))


@SETTINGS
@given(carrier=st.sampled_from(sorted(SECRETS)), body=bodies)
def test_authentic_garbage_is_stored_ignored_or_parked_never_500(
    gw: Harness, carrier: str, body: bytes
) -> None:
    headers = SIGNERS[carrier].ADAPTER.sign(body, SECRETS[carrier], NOW.timestamp())
    headers["content-type"] = "application/json"
    text = base64.b64encode(body).decode()
    response = gw.handler(
        raw_event(f"/webhooks/acme/{carrier}", text, True, headers, None), LocalContext.new()
    )
    reply = assert_clean(response)
    if len(body) <= 256 * 1024:
        assert response["statusCode"] in (200, 202), reply


@SETTINGS
@given(
    number=st.text(max_size=80),
    query=st.dictionaries(
        st.sampled_from(["limit", "cursor", "carrier"]), st.text(max_size=40), max_size=3
    ),
)
def test_queries_never_500(gw: Harness, number: str, query: dict[str, str]) -> None:
    path = "/v1/shipments/" + number
    for suffix in ("", "/events"):
        event = raw_event(path + suffix, None, False, {}, "acme")
        event["queryStringParameters"] = query or None
        assert_clean(gw.handler(event, LocalContext.new()))
