"""Bad input gets a stable error code, never a 5xx; authentic garbage is parked (hypothesis).

Over every discovered webhook adapter, as tenant ``hooli`` (every carrier enabled): its
path, the headers its scheme reads, and garbage signed with its scheme.
"""

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

from gateway.local.proxy_event import LocalContext
from gateway.signing.spec import split_signed
from gateway.testkit.harness import Harness, moto_harness
from tests.support.carriers import TENANT, secret_for, webhook_adapters

NOW = datetime(2026, 1, 1, tzinfo=UTC)
ADAPTERS = {a.id: a for a in webhook_adapters()}
SECRETS = {c: secret_for(a.scheme.secret_form, f"fuzz-{c}") for c, a in ADAPTERS.items()}
HEADER_NAMES = sorted(
    {"content-type", "x-api-key"} | {h.lower() for a in ADAPTERS.values() for h in a.scheme.headers}
)
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
            harness.secrets.values[(TENANT, carrier)] = [secret]
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
    path=st.sampled_from([f"/webhooks/{TENANT}/{carrier}" for carrier in sorted(ADAPTERS)])
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
    adapter = ADAPTERS[carrier]
    headers, query = split_signed(adapter.sign(body, SECRETS[carrier], NOW.timestamp()))
    headers["content-type"] = adapter.content_types[0]
    text = base64.b64encode(body).decode()
    event = raw_event(f"/webhooks/{TENANT}/{carrier}", text, True, headers, None)
    event["queryStringParameters"] = query or None
    event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} or None
    response = gw.handler(event, LocalContext.new())
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
        event = raw_event(path + suffix, None, False, {}, TENANT)
        event["queryStringParameters"] = query or None
        assert_clean(gw.handler(event, LocalContext.new()))
