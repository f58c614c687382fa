"""The console as AWS serves it, in a real browser: ``gateway.aws.console``'s Lambda entry
point (``make_console_handler(console_from_environment)``, one container) on moto, behind
:class:`~tests.browser.rest_proxy.RestProxy` (API Gateway's stage ``api``, which cannot run
here), driven by the suite's headless Chromium.

The browser's URLs are ``/api/console/...``; the handler sees ``path`` ``/console/...``
and ``requestContext.path`` ``/api/console/...``, and must put the stage back in every
link, form, redirect and cookie path. The console's cookies are ``Secure``: Chromium keeps
them on ``http://127.0.0.1`` (loopback is a secure context), which is checked here too.

Driven: the login page (reached by a redirect), a wrong credential (its error shown), the
credential ``waybill console credential --reset --stack`` put in the stack's secret, the
overview, the tenants page, ``acme``'s page (its easypost secret, set with ``waybill
secrets set --generate --stack``, listed masked), a rotation clicked there (audited as the
console's in the stack's table: ``waybill audit --stack``), and the logout. Screenshots
go to ``build/console/aws-*.png``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from moto import mock_aws
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select

from gateway.aws.console import console_from_environment, make_console_handler
from gateway.aws.handler import shared_services
from gateway.cli import main
from gateway.store.table import ensure_table
from gateway.tenancy.keysets import KeySet, mask
from tests.browser.pages import checked_page, click, log_in, open_page, submit, text
from tests.browser.rest_proxy import RestProxy

STACK = "browser"
TABLE = f"waybill-{STACK}"
PREFIX = f"waybill/{STACK}/"
TENANTS = Path(__file__).resolve().parents[1] / "fixtures" / "tenants"
COOKIES = ("waybill_console", "waybill_console_login")


@pytest.fixture(scope="session")
def served() -> None:
    """Nothing: the suite's ``driver`` fixture asks for ``waybill serve`` (on DynamoDB
    Local, after real traffic) only to have it up first; this module's console is the
    Lambda's on moto, so the browser starts without it (seconds, not a minute). The other
    modules still get conftest's ``served``."""


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[tuple[RestProxy, Path]]:
    """One console container of stack ``browser`` on moto (its environment as
    :mod:`infra.functions` sets it), behind the stand-in for API Gateway; and a state dir
    for the CLI (which must write nothing there: ``--stack`` goes to the stack)."""
    with mock_aws():
        monkeypatch.setenv("TABLE_NAME", TABLE)
        monkeypatch.setenv("SECRETS_PREFIX", PREFIX)
        monkeypatch.setenv("CURSOR_KEY_SECRET", f"{PREFIX}cursor_key")
        monkeypatch.delenv("CURSOR_KEY", raising=False)
        monkeypatch.setenv("TENANTS_DIR", str(TENANTS))
        monkeypatch.setenv("NOTIFY_ALLOW_INSECURE", "false")
        monkeypatch.delenv("DYNAMODB_ENDPOINT_URL", raising=False)
        ensure_table(boto3.client("dynamodb"), TABLE)
        boto3.client("secretsmanager").create_secret(
            Name=f"{PREFIX}cursor_key", SecretString="c" * 64
        )
        shared_services.cache_clear()
        # what gateway.aws.console.console_handler is, for a container of its own
        handler = make_console_handler(functools.cache(console_from_environment))
        try:
            with RestProxy(handler, stage="api") as proxy:
                yield proxy, tmp_path
        finally:
            shared_services.cache_clear()


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """``waybill ARGV`` in this process (on moto): its stdout; it must succeed."""
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert code == 0, (argv, out, err)
    return out


def cookie(driver: WebDriver, name: str) -> dict[str, Any] | None:
    """The browser's cookie ``name`` for the current page, as the browser stored it."""
    return next((c for c in driver.get_cookies() if c["name"] == name), None)


def stack_secret(client: Any, name: str) -> KeySet:
    """The key set of the stack's secret ``name`` (``AWSCURRENT``, named as the gateway
    names it: moto answers a read without a stage with the secret's first version)."""
    answer = client.get_secret_value(SecretId=f"{PREFIX}{name}", VersionStage="AWSCURRENT")
    return KeySet.model_validate_json(answer["SecretString"])


def last_post(proxy: RestProxy) -> dict[str, Any]:
    """The last POST event the handler got (the stylesheet's GET follows every page)."""
    return next(e for e in reversed(proxy.events) if e["httpMethod"] == "POST")


def stylesheet_applied(driver: WebDriver) -> bool:
    """The page's one stylesheet (linked under the stage) loaded and has rules."""
    return bool(
        driver.execute_script(
            "const s = document.styleSheets;"
            "return s.length === 1 && s[0].href.endsWith('/api/console/static/console.css')"
            " && s[0].cssRules.length > 0;"
        )
    )


def test_the_console_through_the_aws_adapter(
    driver: WebDriver,
    stack: tuple[RestProxy, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    proxy, state = stack
    local = ("--state-dir", str(state), "--tenants-dir", str(TENANTS))
    reset = ("console", "credential", "--reset", "--stack", STACK, "--state-dir", str(state))
    plaintext = cli(capsys, *reset).strip()
    assert plaintext.startswith("wbops_"), plaintext
    cli(capsys, "secrets", "set", "acme", "easypost", "--generate", "--stack", STACK, *local)
    secrets = boto3.client("secretsmanager")
    current = stack_secret(secrets, "acme/easypost").current.value

    try:
        # the console's root redirects to its login page, under the stage
        open_page(driver, proxy.url("/console/"))
        assert driver.current_url == proxy.url("/console/login")
        login = cookie(driver, "waybill_console_login")
        assert login is not None, "Chromium dropped the Secure login cookie on http://127.0.0.1"
        assert (login["secure"], login["httpOnly"], login["path"]) == (True, True, "/api/console")
        assert stylesheet_applied(driver)
        checked_page(driver, "aws-login")

        # a wrong credential: the form again, with its error
        log_in(driver, proxy.url("/console/"), "wbops_not-the-credential")
        assert driver.current_url == proxy.url("/console/login")
        assert "wrong credential" in text(driver, "#login-error")
        assert last_post(proxy)["path"] == "/console/login"
        checked_page(driver, "aws-login-refused")

        # the credential of the stack's secret: the overview, with a Secure session cookie
        log_in(driver, proxy.url("/console/"), plaintext)
        assert driver.current_url == proxy.url("/console/"), driver.page_source[:500]
        session = cookie(driver, "waybill_console")
        assert session is not None, "Chromium dropped the Secure session cookie"
        assert (session["secure"], session["httpOnly"], session["path"]) == (
            True,
            True,
            "/api/console",
        )
        assert session["sameSite"] == "Strict"
        assert cookie(driver, "waybill_console_login") is None  # cleared by the login
        assert driver.find_element(By.ID, "logout").is_displayed()
        assert stylesheet_applied(driver)
        checked_page(driver, "aws-overview")

        click(driver, By.ID, "nav-tenants")
        assert driver.current_url == proxy.url("/console/tenants")
        checked_page(driver, "aws-tenants")

        click(driver, By.LINK_TEXT, "acme")
        assert driver.current_url == proxy.url("/console/tenants/acme")
        row = next(
            r.text
            for r in driver.find_elements(By.CSS_SELECTOR, "#secrets tr")
            if r.text.startswith("easypost ")
        )
        assert row.startswith(f"easypost {mask(current)}, set "), row
        assert current not in driver.page_source, "the secret is shown unmasked"
        checked_page(driver, "aws-tenant")

        # an action: rotate the easypost secret with a grace of 1h, by its button
        button = driver.find_element(By.ID, "rotate-easypost")
        form = button.find_element(By.XPATH, "./ancestor::form")
        assert form.get_attribute("action") == proxy.url("/console/secrets/rotate")
        Select(form.find_element(By.TAG_NAME, "select")).select_by_visible_text("1h")
        submit(driver, button)
        assert driver.current_url == proxy.url("/console/secrets/rotate")
        assert text(driver, "#result") == "rotated acme/easypost", driver.page_source[:500]
        assert "the old one stays valid for 1h" in text(driver, "#result-lines")
        checked_page(driver, "aws-rotated")
        posted = last_post(proxy)
        assert posted["path"] == "/console/secrets/rotate"
        assert posted["requestContext"]["path"] == "/api/console/secrets/rotate"
        sent = [
            v for k, vs in posted["multiValueHeaders"].items() if k.lower() == "cookie" for v in vs
        ]
        assert any("waybill_console=" in v for v in sent), posted["multiValueHeaders"]

        rotated = stack_secret(secrets, "acme/easypost")
        assert rotated.current.value != current  # the stack's secret rotated in place
        assert [p.value for p in rotated.previous] == [current]
        audit = cli(capsys, "audit", "acme", "--stack", STACK, "--outcome", "secret", *local)
        lines = audit.splitlines()
        assert any("secret.rotate" in line and "by console" in line for line in lines), audit
        assert not (state / "audit.jsonl").exists()  # audited in the stack's table only

        click(driver, By.ID, "back")
        assert driver.current_url == proxy.url("/console/tenants/acme")
        row = next(
            r.text
            for r in driver.find_elements(By.CSS_SELECTOR, "#secrets tr")
            if r.text.startswith("easypost ")
        )
        assert " until " in row, row  # the previous secret, valid for its grace

        # log out: back to the login page, the session cookie gone for good
        click(driver, By.ID, "logout")
        assert driver.current_url == proxy.url("/console/login")
        assert cookie(driver, "waybill_console") is None
        checked_page(driver, "aws-logged-out")
        open_page(driver, proxy.url("/console/tenants"))
        assert driver.current_url == proxy.url("/console/login")
    finally:
        for name in COOKIES:  # leave nothing for the other modules' console on 127.0.0.1
            driver.delete_cookie(name)

    # every event as API Gateway's stage sends it; nothing failed in the handler
    assert not proxy.errors, proxy.errors
    for event in proxy.events:
        assert event["requestContext"]["path"] == "/api" + event["path"], event
        assert event["requestContext"]["identity"]["sourceIp"] == "127.0.0.1"
    # a path no console route takes never reaches the function
    seen = len(proxy.events)
    for path in ("/v1/shipments", "/consoles"):
        assert httpx.get(proxy.url(path), timeout=5).status_code == 404
    assert len(proxy.events) == seen
