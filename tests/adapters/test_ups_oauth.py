"""UPS Track Alert v2: our OAuth2 client-credentials token endpoint and the bearer check.

Unit cases drive ``gateway.api.oauth`` and ``adapters.ups.verify`` directly; the flow cases
go through the Lambda handler (moto) with the ``upsco`` test tenant, whose
``[carriers.ups.options] oauth_client_id`` enables the endpoint.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest.mock import ANY

import pytest

from adapters import ups
from gateway.carriers.adapter import Delivery, Secrets
from gateway.errors import SignatureError
from gateway.local.proxy_event import LocalContext, build_event
from gateway.routes import match_route
from gateway.signing import bearer
from gateway.testkit.harness import Harness, Reply, moto_harness

TENANT = "upsco"
CLIENT_ID = "upsco-track-alert"
CLIENT_SECRET = "upsco-oauth-client-secret-0001"
NEW_SECRET = "upsco-oauth-client-secret-0002"
CREDENTIAL = "upsco-v1-credential-0001"
T0 = datetime(2024, 4, 23, 13, 20, tzinfo=UTC)
NOW = T0.timestamp()
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ups"
BODY = (FIXTURES / "v2_out_for_delivery_OT.json").read_bytes()
TOKEN_URL = f"/oauth/{TENANT}/ups/token"
HOOK = f"/webhooks/{TENANT}/ups"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
GRANT = b"grant_type=client_credentials"


def basic(client_id: str = CLIENT_ID, secret: str = CLIENT_SECRET) -> dict[str, str]:
    encoded = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {encoded}"}


def delivery(headers: dict[str, str], *, tenant: str = TENANT, body: bytes = BODY) -> Delivery:
    folded = {k.lower(): (v,) for k, v in headers.items()}
    return Delivery(tenant=tenant, carrier="ups", body=body, headers=folded, received_at=T0)


def secrets_of(default: list[str], oauth_slot: list[str]) -> Secrets:
    return Secrets(default, slots=lambda name: oauth_slot if name == "oauth" else [])


def token(secret: str = CLIENT_SECRET, *, tenant: str = TENANT, now: float = NOW, **kw: Any) -> str:
    claims = {"carrier": "ups", "client_id": CLIENT_ID, **kw}
    return bearer.issue_token(tenant=tenant, secret=secret, now=now, **claims)


def tamper(value: str, index: int) -> str:
    """``value`` with one character changed (still URL-safe base64)."""
    index %= len(value)
    return value[:index] + ("A" if value[index] != "A" else "B") + value[index + 1 :]


def v2_headers(bearer: str, client_id: str = CLIENT_ID) -> dict[str, str]:
    return {"Authorization": f"Bearer {bearer}", "x-api-key": client_id}


# --- the bearer check (pure) -------------------------------------------------------


def test_sign_v2_headers_are_accepted() -> None:
    headers = ups.sign_v2(CLIENT_ID, CLIENT_SECRET, NOW, tenant=TENANT)
    assert headers["x-api-key"] == CLIENT_ID and headers["Authorization"].startswith("Bearer ")
    ups.ADAPTER.verify(delivery(headers), secrets_of([], [CLIENT_SECRET]), NOW + 60)


@pytest.mark.parametrize(
    ("bearer", "client_id", "at", "code"),
    [
        (token(), CLIENT_ID, NOW + 3600, "token_expired"),
        (token(tenant="globex"), CLIENT_ID, NOW, "token_scope"),
        (token(carrier="fedex"), CLIENT_ID, NOW, "token_scope"),
        (token(), "someone-else", NOW, "client_mismatch"),
        (token(NEW_SECRET), CLIENT_ID, NOW, "signature_mismatch"),
        (tamper(token(), -10), CLIENT_ID, NOW, "signature_mismatch"),
        (tamper(token(), -1), CLIENT_ID, NOW, "signature_mismatch"),
        ("e30" + token()[3:], CLIENT_ID, NOW, "signature_mismatch"),
        ("no-dot-at-all", CLIENT_ID, NOW, "signature_malformed"),
        ("abc.!!!", CLIENT_ID, NOW, "signature_malformed"),
        ("", CLIENT_ID, NOW, "signature_missing"),
    ],
    ids=[
        "expired",
        "other-tenant",
        "other-carrier",
        "wrong-x-api-key",
        "unknown-secret",
        "tampered-mac",
        "tampered-mac-last-char",
        "tampered-claims",
        "no-dot",
        "bad-base64",
        "empty",
    ],
)
def test_bad_bearers_are_refused(bearer: str, client_id: str, at: float, code: str) -> None:
    with pytest.raises(SignatureError) as caught:
        ups.ADAPTER.verify(
            delivery(v2_headers(bearer, client_id)), secrets_of([], [CLIENT_SECRET]), at
        )
    assert caught.value.status == 401
    assert caught.value.code == code
    assert CLIENT_SECRET not in caught.value.message and (not bearer or bearer not in str(caught))


def test_expiry_edge_is_exclusive() -> None:
    headers = v2_headers(token())
    ups.ADAPTER.verify(delivery(headers), secrets_of([], [CLIENT_SECRET]), NOW + 3599)
    with pytest.raises(SignatureError, match="expired"):
        ups.ADAPTER.verify(delivery(headers), secrets_of([], [CLIENT_SECRET]), NOW + 3600)


def test_missing_x_api_key_is_refused() -> None:
    headers = {"Authorization": f"Bearer {token()}"}
    with pytest.raises(SignatureError, match="x-api-key"):
        ups.ADAPTER.verify(delivery(headers), secrets_of([], [CLIENT_SECRET]), NOW)


def test_bearer_never_falls_back_to_the_v1_credential() -> None:
    headers = v2_headers("forged") | {"credential": CREDENTIAL}
    with pytest.raises(SignatureError):
        ups.ADAPTER.verify(delivery(headers), secrets_of([CREDENTIAL], [CLIENT_SECRET]), NOW)


def test_v2_fails_closed_without_an_oauth_slot() -> None:
    headers = v2_headers(token())
    for secrets in (secrets_of([CLIENT_SECRET], []), [CLIENT_SECRET]):  # plain list: no slots
        with pytest.raises(SignatureError) as caught:
            ups.ADAPTER.verify(delivery(headers), secrets, NOW)
        assert caught.value.code == "secret_missing"


def test_oauth_secret_rotation_keeps_old_tokens_for_the_grace() -> None:
    old, new = v2_headers(token(CLIENT_SECRET)), v2_headers(token(NEW_SECRET))
    both = secrets_of([], [NEW_SECRET, CLIENT_SECRET])
    ups.ADAPTER.verify(delivery(old), both, NOW)
    ups.ADAPTER.verify(delivery(new), both, NOW)
    with pytest.raises(SignatureError):
        ups.ADAPTER.verify(delivery(old), secrets_of([], [NEW_SECRET]), NOW)


def test_v1_credential_still_works_and_other_auth_schemes_are_v1() -> None:
    ups.ADAPTER.verify(delivery({"credential": CREDENTIAL}), secrets_of([CREDENTIAL], []), NOW)
    headers = basic() | {"credential": CREDENTIAL}
    ups.ADAPTER.verify(delivery(headers), secrets_of([CREDENTIAL], []), NOW)
    with pytest.raises(SignatureError):
        ups.ADAPTER.verify(delivery(basic()), secrets_of([CREDENTIAL], [CLIENT_SECRET]), NOW)


def test_issue_token_refuses_long_lives() -> None:
    with pytest.raises(ValueError, match="one hour"):
        token(ttl=3601)


# --- the token endpoint and the whole flow, through the handler --------------------


@dataclass
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def gw(clock: Clock) -> Iterator[Harness]:
    with moto_harness(clock) as harness:
        harness.secrets.values[(TENANT, "ups.oauth")] = [CLIENT_SECRET]
        harness.secrets.values[(TENANT, "ups")] = [CREDENTIAL]
        yield harness


def fetch(gw: Harness, headers: dict[str, str], body: bytes = GRANT, url: str = TOKEN_URL) -> Reply:
    return gw.call("POST", url, body=body, headers=headers)


def post(gw: Harness, headers: dict[str, str], body: bytes = BODY) -> Reply:
    return gw.call("POST", HOOK, body=body, headers=headers | {"Content-Type": "application/json"})


def test_good_basic_auth_gets_a_short_lived_bearer(gw: Harness) -> None:
    reply = fetch(gw, basic() | FORM)
    assert reply.status == 200, reply.body
    assert reply.body["token_type"] == "Bearer" and reply.body["expires_in"] == 3600
    claims = json.loads(base64.urlsafe_b64decode(reply.body["access_token"].split(".")[0] + "=="))
    assert claims == {
        "carrier": "ups",
        "client_id": CLIENT_ID,
        "exp": int(NOW) + 3600,
        "tenant": TENANT,
    }


def test_token_responses_are_not_cached(gw: Harness) -> None:
    # Reply drops multiValueHeaders, so read the proxy response itself.
    route = match_route(TOKEN_URL)
    assert route is not None
    event = build_event(
        route,
        method="POST",
        path=TOKEN_URL,
        headers=list((basic() | FORM).items()),
        query_string=b"",
        body=GRANT,
        source_ip="127.0.0.1",
        tenant=None,
        request_id="req-1",
    )
    response = gw.handler(event, LocalContext.new())
    assert response["statusCode"] == 200
    assert response["multiValueHeaders"]["Cache-Control"] == ["no-store"]


def test_form_encoded_basic_credentials_are_accepted(gw: Harness) -> None:
    gw.secrets.values[(TENANT, "ups.oauth")] = ["with space:and+plus"]
    reply = fetch(gw, basic(secret="with+space%3Aand%2Bplus") | FORM)
    assert reply.status == 200, reply.body


@pytest.mark.parametrize(
    "headers",
    [
        basic(secret="wrong-secret"),
        basic(client_id="unknown-client"),
        basic(secret=CREDENTIAL),  # the v1 credential is not the OAuth client secret
        {},
        {"Authorization": "Bearer something"},
        {"Authorization": "Basic not-base64!"},
        {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()},
    ],
    ids=[
        "wrong-secret",
        "unknown-client",
        "v1-credential",
        "none",
        "bearer",
        "garbage",
        "no-colon",
    ],
)
def test_failed_client_authentication_is_401(gw: Harness, headers: dict[str, str]) -> None:
    reply = fetch(gw, headers | FORM)
    assert reply.status == 401
    assert reply.body == {"error": "invalid_client", "error_description": ANY}  # RFC 6749 5.2
    assert reply.headers["WWW-Authenticate"] == 'Basic realm="waybill"'  # RFC 6749 5.2
    assert CLIENT_SECRET not in json.dumps(reply.body)


def test_no_oauth_secret_fails_closed(gw: Harness) -> None:
    del gw.secrets.values[(TENANT, "ups.oauth")]
    reply = fetch(gw, basic() | FORM)
    assert (reply.status, reply.body["error"]) == (401, "invalid_client")


@pytest.mark.parametrize(
    ("headers", "body", "code"),
    [
        (FORM, b"grant_type=password", "unsupported_grant_type"),
        (FORM, b"grant_type=authorization_code&code=x", "unsupported_grant_type"),
        (FORM, b"", "invalid_request"),
        (FORM, b"scope=track", "invalid_request"),
        (FORM, b"grant_type=client_credentials&grant_type=password", "invalid_request"),
        (FORM, GRANT + b"&client_secret=" + CLIENT_SECRET.encode(), "invalid_request"),
        (FORM, b"not a form", "invalid_request"),
        ({"Content-Type": "application/json"}, b'{"grant_type":"client_credentials"}', ""),
    ],
    ids=["password", "code", "empty", "no-grant", "repeated", "secret-in-body", "junk", "json"],
)
def test_bad_token_requests_are_400(
    gw: Harness, headers: dict[str, str], body: bytes, code: str
) -> None:
    reply = fetch(gw, basic() | headers, body)
    assert reply.status == 400
    assert reply.body == {"error": code or "invalid_request", "error_description": ANY}


@pytest.mark.parametrize(
    "url",
    ["/oauth/nobody/ups/token", "/oauth/acme/ups/token", "/oauth/upsco/easypost/token"],
    ids=["unknown-tenant", "ups-not-enabled", "oauth-not-enabled"],
)
def test_unknown_or_disabled_oauth_is_404(gw: Harness, url: str) -> None:
    assert fetch(gw, basic() | FORM, url=url).status == 404


def test_secret_store_down_is_503(gw: Harness) -> None:
    gw.secrets.fail = True
    assert fetch(gw, basic() | FORM).status == 503


def test_whole_v2_flow_token_then_delivery(gw: Harness, clock: Clock) -> None:
    issued = fetch(gw, basic() | FORM).body["access_token"]
    reply = post(gw, v2_headers(issued) | {"User-Agent": ups.USER_AGENT})
    assert reply.status == 200, reply.body
    assert reply.body["accepted"] == 1
    state = gw.call("GET", "/v1/shipments/1Z204W4R0308071865", tenant=TENANT)
    assert state.status == 200 and "out_for_delivery" in json.dumps(state.body)
    for refused in (v2_headers(issued, "someone-else"), v2_headers(issued + "x")):
        assert post(gw, refused).status == 401
    clock.now = T0 + timedelta(seconds=3600)
    assert post(gw, v2_headers(issued)).status == 401


def test_whole_flow_survives_an_oauth_rotation(gw: Harness) -> None:
    issued = fetch(gw, basic() | FORM).body["access_token"]
    gw.secrets.values[(TENANT, "ups.oauth")] = [NEW_SECRET, CLIENT_SECRET]  # in the grace
    assert post(gw, v2_headers(issued)).status == 200
    assert fetch(gw, basic(secret=NEW_SECRET) | FORM).status == 200
    gw.secrets.values[(TENANT, "ups.oauth")] = [NEW_SECRET]  # grace over
    body = (FIXTURES / "v2_delivered_FS_docs.json").read_bytes()
    assert post(gw, v2_headers(issued), body).status == 401


def test_token_of_one_tenant_does_not_open_another(gw: Harness) -> None:
    foreign = token(tenant="acme")  # same client id and secret, another tenant
    assert post(gw, v2_headers(foreign)).status == 401


def test_v1_flow_through_the_handler(gw: Harness) -> None:
    body = (FIXTURES / "v1_manifest_MP.json").read_bytes()
    assert post(gw, ups.ADAPTER.sign(body, CREDENTIAL, NOW), body).status == 200
    assert post(gw, {"credential": "wrong"}, body).status == 401
