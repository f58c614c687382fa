"""The console's Lambda entry point on moto: REST proxy events through the real console
(a login page, a login with its cookie, a page behind the session, an action audited in
the stack's table), with the credential's digest in the stack's secret, put there by the
CLI's ``--stack``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest
from moto import mock_aws

from gateway.aws import console as aws_console
from gateway.aws.handler import shared_services
from gateway.cli import main
from gateway.store.table import ensure_table
from gateway.testkit.rest_console import through_rest_api
from tests.console.conftest import csrf_of

STACK = "t1"
TENANTS = Path(__file__).resolve().parents[1] / "fixtures" / "tenants"
TABLE = "waybill-t1"


def event(
    method: str, path: str, *, cookies: tuple[str, ...] = (), form: dict[str, str] | None = None
) -> dict[str, Any]:
    """A REST proxy event for ``path`` on stage ``api``."""
    headers = {"host": "abc.execute-api.us-west-2.amazonaws.com"}
    if form is not None:
        headers["content-type"] = "application/x-www-form-urlencoded"
    multi = {k: [v] for k, v in headers.items()} | ({"cookie": list(cookies)} if cookies else {})
    return {
        "httpMethod": method,
        "path": path,
        "resource": "/console/{proxy+}",
        "headers": headers,
        "multiValueHeaders": multi,
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "body": urlencode(form) if form is not None else None,
        "isBase64Encoded": False,
        "requestContext": {"path": f"/api{path}", "identity": {"sourceIp": "203.0.113.9"}},
    }


def cookie(answer: dict[str, Any], name: str) -> str:
    """``name=value`` of one Set-Cookie, checked Secure and scoped to the stage's path."""
    for header in answer["multiValueHeaders"].get("set-cookie", []):
        if header.startswith(f"{name}="):
            assert "; Secure" in header and "Path=/api/console;" in header, header
            return str(header).split(";", 1)[0]
    raise AssertionError(f"no {name} cookie in {answer['multiValueHeaders']}")


@pytest.fixture
def function(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The console function itself (its proxy and authorizer entry point), on moto."""
    with mock_aws():
        monkeypatch.setenv("TABLE_NAME", TABLE)
        monkeypatch.setenv("SECRETS_PREFIX", f"waybill/{STACK}/")
        monkeypatch.setenv("CURSOR_KEY", "k" * 32)
        monkeypatch.setenv("TENANTS_DIR", str(TENANTS))
        monkeypatch.delenv("DYNAMODB_ENDPOINT_URL", raising=False)
        ensure_table(boto3.client("dynamodb"), TABLE)
        shared_services.cache_clear()
        yield aws_console.make_console_handler(aws_console.console_from_environment)
        shared_services.cache_clear()


@pytest.fixture
def handler(function: Any) -> Any:
    """The function as the stage hands it requests (the guarded route's authorizer first)."""
    return lambda event, _: through_rest_api(function, event)


def test_login_and_a_page_through_proxy_events(
    handler: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    login = handler(event("GET", "/console/login"), None)
    assert login["statusCode"] == 200
    assert 'action="/api/console/login"' in login["body"]
    assert "DENY" in login["multiValueHeaders"]["x-frame-options"]
    pre = cookie(login, "waybill_console_login")
    form = {"csrf": csrf_of(login["body"]), "credential": "wbops_not-set-yet"}
    refused = handler(event("POST", "/console/login", cookies=(pre,), form=form), None)
    assert refused["statusCode"] == 401  # the stack's secret has no value yet

    state = ["--state-dir", str(tmp_path)]
    assert main(["console", "credential", "--reset", "--stack", STACK, *state]) == 0
    plaintext = capsys.readouterr().out.strip()
    stored = boto3.client("secretsmanager").get_secret_value(
        SecretId=f"waybill/{STACK}/ops_console/credential"
    )["SecretString"]
    assert plaintext.startswith("wbops_") and plaintext not in stored and '"sha256"' in stored
    assert main(["console", "credential", "--stack", STACK, *state]) == 0

    # each build of the fixture's handler reads the secret afresh (no per-container cache)
    form["credential"] = plaintext
    answer = handler(event("POST", "/console/login", cookies=(pre, "other=1"), form=form), None)
    assert answer["statusCode"] == 303, answer["body"]
    assert answer["multiValueHeaders"]["location"] == ["/api/console/"]
    session = cookie(answer, "waybill_console")

    page = handler(event("GET", "/console/tenants", cookies=(session,)), None)
    assert page["statusCode"] == 200, page["body"][:300]
    assert 'href="/api/console/parked"' in page["body"]
    assert handler(event("GET", "/console/tenants"), None)["statusCode"] == 303

    # an action on AWS: the stack's secret rotated, the change audited in the stack's table
    tenants = ["--tenants-dir", str(TENANTS)]
    secret = ["secrets", "set", "acme", "easypost", "--generate", "--stack", STACK]
    assert main([*secret, *state, *tenants]) == 0
    tenant = handler(event("GET", "/console/tenants/acme", cookies=(session,)), None)
    assert tenant["statusCode"] == 200 and "easypost" in tenant["body"]
    form = {"csrf": csrf_of(tenant["body"]), "tenant": "acme", "target": "easypost", "grace": "1h"}
    rotated = handler(event("POST", "/console/secrets/rotate", cookies=(session,), form=form), None)
    assert rotated["statusCode"] == 200 and "rotated acme/easypost" in rotated["body"]
    capsys.readouterr()
    audit = ["audit", "acme", "--stack", STACK, "--outcome", "secret", *state, *tenants]
    assert main(audit) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[2:4] + line.split()[-1:] for line in lines] == [
        ["secret.rotate", "easypost", "previous_valid=1"],
        ["secret.set", "easypost", "stack=t1"],
    ], lines
    assert "by console" in lines[0] and not (tmp_path / "audit.jsonl").exists()
    assert main(["audit", "-", "--stack", STACK, *state, *tenants]) == 0  # no tenant's
    (reset,) = capsys.readouterr().out.splitlines()
    assert reset.split()[2:4] == ["console.credential.reset", "ops"], reset

    # a secret with no value yet: refused with how to set one (the role may not create it)
    form |= {"target": "aftership"}
    refused = handler(event("POST", "/console/secrets/rotate", cookies=(session,), form=form), None)
    assert refused["statusCode"] == 400 and "has no value yet" in refused["body"]


def test_session_key_is_not_the_cursor_key() -> None:
    assert aws_console.session_key(b"k" * 32) != b"k" * 32
    assert re.fullmatch(rb".{32}", aws_console.session_key(b"k" * 32), re.S)


def test_the_console_authorizer_guards_every_page_and_action(
    function: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A page needs the authorizer's check and the console's own: a session cookie the
    authorizer did not check (a forged one, or a request that reached the function without
    the authorizer) is no session; an action without a session is refused at the edge."""
    called: list[dict[str, Any]] = []

    def counted(event: dict[str, Any], context: Any) -> Any:
        called.append(event)
        return function(event, context)

    assert (
        main(["console", "credential", "--reset", "--stack", STACK, "--state-dir", str(tmp_path)])
        == 0
    )
    credential = capsys.readouterr().out.strip()
    login = through_rest_api(counted, event("GET", "/console/login"))
    assert [e.get("type") for e in called] == [None]  # the login form: no authorizer
    form = {"csrf": csrf_of(login["body"]), "credential": credential}
    pre = cookie(login, "waybill_console_login")
    logged = through_rest_api(counted, event("POST", "/console/login", cookies=(pre,), form=form))
    session = cookie(logged, "waybill_console")

    called.clear()
    page = through_rest_api(counted, event("GET", "/console/tenants", cookies=(session,)))
    assert page["statusCode"] == 200
    assert [e.get("type") for e in called] == ["REQUEST", None]
    assert called[1]["requestContext"]["authorizer"]["session"] == "valid"

    for cookies in ((), ("waybill_console=v1.9999999999.forged.mac",)):
        called.clear()
        page = through_rest_api(counted, event("GET", "/console/tenants", cookies=cookies))
        assert page["statusCode"] == 303  # to the login form, nothing read
        assert called[1]["requestContext"]["authorizer"]["session"] == "none"
        called.clear()
        post = event("POST", "/console/parked/replay", cookies=cookies, form={"tenant": "acme"})
        refused = through_rest_api(counted, post)
        assert refused["statusCode"] == 403 and [e.get("type") for e in called] == ["REQUEST"]

    # a request that reached the function without the authorizer: its session is not seen
    bypass = function(event("GET", "/console/tenants", cookies=(session,)), None)
    assert bypass["statusCode"] == 303
    assert bypass["multiValueHeaders"]["location"] == ["/api/console/login"]
