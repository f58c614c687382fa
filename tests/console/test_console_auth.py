"""The console's door: a session from the ops credential only, throttled logins, CSRF on
every POST, security headers on every answer."""

from __future__ import annotations

import json

import pytest

from gateway.console.credential import reset_credential
from tests.console.conftest import TENANT, Served, csrf_of

pytestmark = pytest.mark.integration

HEADERS = {
    "content-security-policy": "frame-ancestors 'none'",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}


def test_a_session_is_needed_and_no_tenant_key_gives_one(served: Served) -> None:
    with served.client() as http:
        for path in ("/console/", "/console/tenants", f"/console/tenants/{TENANT}"):
            answer = http.get(path, headers={"x-api-key": served.key})
            assert (answer.status_code, answer.headers["location"]) == (303, "/console/login")
        for forged in (served.key, f"v1.9999999999.nonce.{'0' * 64}"):
            http.cookies.set("waybill_console", forged, path="/console")
            assert http.get("/console/").status_code == 303
        page = http.get("/console/login")
        refused = http.post(
            "/console/login", data={"csrf": csrf_of(page.text), "credential": served.key}
        )
        assert refused.status_code == 401 and "wrong credential" in refused.text
        post = http.post("/console/endpoints/toggle", data={"tenant": TENANT})
        assert post.status_code == 401


def test_the_credential_opens_a_session_with_a_strict_cookie(served: Served) -> None:
    with served.client() as http:
        page = http.get("/console/login")
        answer = http.post(
            "/console/login", data={"csrf": csrf_of(page.text), "credential": served.credential}
        )
        assert answer.status_code == 303
        cookie = next(
            v for v in answer.headers.get_list("set-cookie") if v.startswith("waybill_console=")
        )
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/console" in cookie
        assert "Secure" not in cookie  # loopback
        assert http.get("/console/").status_code == 200
        reset_credential(served.state)  # a reset ends every session
        assert http.get("/console/").status_code == 303


def test_wrong_credentials_are_refused_then_throttled(served: Served) -> None:
    with served.client() as http:
        csrf = csrf_of(http.get("/console/login").text)
        for _ in range(5):
            wrong = http.post("/console/login", data={"csrf": csrf, "credential": "wbops_guess"})
            assert wrong.status_code == 401
        slowed = http.post("/console/login", data={"csrf": csrf, "credential": served.credential})
        assert slowed.status_code == 429 and int(slowed.headers["retry-after"]) > 0
        assert "waybill_console=" not in "".join(slowed.headers.get_list("set-cookie"))


def test_every_post_needs_the_session_csrf_token(served: Served) -> None:
    with served.client() as http:
        plain = http.post("/console/login", data={"credential": served.credential})
        assert plain.status_code == 403  # the login form's token is missing
        csrf = served.login(http)
        form = {"tenant": TENANT, "endpoint": "ep_aaaaaaaaaaaaaaaa", "enabled": "false"}
        for token in (None, "wrong", csrf[:-1] + ("0" if csrf[-1] != "0" else "1")):
            data = form | ({"csrf": token} if token else {})
            answer = http.post("/console/endpoints/toggle", data=data)
            assert answer.status_code == 403 and "CSRF" in answer.text
        other = http.post(
            "/console/endpoints/toggle",
            data=form | {"csrf": csrf},
            headers={"origin": "http://evil.example"},
        )
        assert other.status_code == 403
        assert (
            not (served.state / "audit.jsonl").exists()
            or "endpoint." not in (served.state / "audit.jsonl").read_text()
        )
        done = http.post("/console/endpoints/toggle", data=form | {"csrf": csrf})
        assert done.status_code == 404  # past the CSRF check: the endpoint does not exist


def test_every_answer_carries_the_security_headers(served: Served) -> None:
    with served.client() as http:
        anonymous = [
            http.get("/console/login"),
            http.get("/console/"),
            http.get("/console/static/console.css"),
            http.post("/console/login"),
        ]
        served.login(http)
        signed_in = [
            http.get(p)
            for p in (
                "/console/",
                "/console/tenants",
                "/console/parked",
                "/console/notifications",
                "/console/trackers",
                "/console/nothing",
                f"/console/tenants/{TENANT}/shipments/NOPE",
            )
        ]
        signed_in.append(http.put("/console/tenants"))
    for answer in anonymous + signed_in:
        for name, value in HEADERS.items():
            assert value in answer.headers.get(name, ""), (answer.url, name)
        csp = answer.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "unsafe-inline" not in csp
    assert [a.status_code for a in signed_in[-3:]] == [404, 404, 405]


def test_the_console_is_no_part_of_the_tenant_api(served: Served) -> None:
    import httpx

    spec = httpx.get(f"{served.url}/openapi.json").json()
    assert not [p for p in spec["paths"] if p.startswith("/console")]
    assert json.dumps(spec).count("/console") == 0
