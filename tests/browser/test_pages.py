"""Every console page, reached the way ops reach it (by clicking), shows what the traffic
of ``served.py`` produced; each passes ``checked_page`` and leaves a screenshot under
``build/console/``."""

from __future__ import annotations

import json

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver

from gateway.tenancy.local_secrets import LocalSecretStore
from tests.browser.pages import checked_page, click, open_page, submit, text, wait
from tests.browser.served import (
    EZ_NUMBER,
    FIXTURES,
    TRACKED,
    TRACKED_TOO,
    Served,
)


def rows(driver: WebDriver, css: str) -> list[str]:
    return [str(row.text) for row in driver.find_elements(By.CSS_SELECTOR, f"{css} tr")[1:]]


def test_the_login_page_refuses_a_wrong_credential_and_anything_without_a_session(
    driver: WebDriver, served: Served
) -> None:
    driver.delete_all_cookies()
    open_page(driver, served.console("tenants"))
    assert driver.current_url == served.console("login")  # no session: the login form
    checked_page(driver, "login")
    field = driver.find_element(By.ID, "credential")
    field.send_keys(served.keys["shop"])  # a tenant's API key never opens the console
    submit(driver, driver.find_element(By.ID, "login"))
    assert "wrong credential" in text(driver, "#login-error")
    assert not driver.find_elements(By.ID, "nav-overview")
    checked_page(driver, "login-refused")
    assert served.keys["shop"] not in driver.page_source  # the password field is not refilled


def test_overview(console: WebDriver, served: Served) -> None:
    assert text(console, "h1") == "Overview"
    hour = json.loads(console.execute_script(_TOTALS, "totals-hour"))
    assert hour["accepted"] >= 4 and hour["duplicate"] >= 1 and hour["parked"] >= 2, hour
    assert "shop: 1" in text(console, "#parked-counts")
    assert "mallory: 1" in text(console, "#parked-counts")
    assert "Endpoints failing: 1" in text(console, "#endpoints-failing")
    disabled = text(console, "#endpoints-disabled")
    assert disabled.startswith("Endpoints disabled: 1") and "(gone)" in disabled, disabled
    budgets = rows(console, "#budgets")
    assert any(row.startswith("shop ups") and row.endswith(" 100") for row in budgets), budgets
    charts = console.find_elements(By.CSS_SELECTOR, "svg.chart rect[class^='s-']")
    assert charts, "the charts have bars"
    assert "read units" in text(console, "#read-cost")
    checked_page(console, "overview")


_TOTALS = """
    const table = document.getElementById(arguments[0]);
    const names = [...table.rows[0].cells].map(c => c.textContent.trim());
    const counts = [...table.rows[1].cells].map(c => Number(c.textContent));
    return JSON.stringify(Object.fromEntries(names.map((n, i) => [n, counts[i]])));
"""


def test_tenants_and_a_tenant(console: WebDriver, served: Served) -> None:
    click(console, By.ID, "nav-tenants")
    assert {"tenant-shop", "tenant-mallory"} <= {
        row.get_attribute("id") for row in console.find_elements(By.CSS_SELECTOR, "#tenants tr")
    }
    assert "standard" in text(console, "#tenant-shop")
    checked_page(console, "tenants")

    click(console, By.LINK_TEXT, "shop")
    assert text(console, "h1") == "Tenant shop: Shop & Co."
    secrets = rows(console, "#secrets")
    assert any(row.startswith("easypost ") for row in secrets), secrets
    current = LocalSecretStore(served.state).get("shop", "easypost")
    assert current is not None
    assert current.current.value not in console.page_source  # masked, never the value
    prefix = served.keys["shop"][:8]
    assert prefix in text(console, "#key-prefixes")
    assert served.keys["shop"] not in console.page_source
    endpoints = text(console, "#endpoint-list")
    assert served.endpoints["ok"] in endpoints and served.endpoints["failing"] in endpoints
    checked_page(console, "tenant")


def test_a_shipment_found_from_the_overview(console: WebDriver, served: Served) -> None:
    console.find_element(By.ID, "lookup-tenant").send_keys("shop")
    number = console.find_element(By.ID, "lookup-number")
    number.send_keys(EZ_NUMBER.lower())  # normalised as the API does
    old = console.find_element(By.TAG_NAME, "html")
    number.send_keys(Keys.ENTER)
    wait(console, lambda d: old != d.find_element(By.TAG_NAME, "html"), "the shipment page")
    assert text(console, "h1") == f"Shipment {EZ_NUMBER} of shop"
    body = json.loads((FIXTURES / "easypost/event_tracker_updated_full_history.json").read_text())
    history = rows(console, "#history")
    assert len(history) == len(body["result"]["tracking_details"])
    assert rows(console, "#states")[0].startswith("easypost ")
    messages = rows(console, "#messages")
    assert any(served.endpoints["ok"] in row for row in messages), messages
    checked_page(console, "shipment")


def test_parked(console: WebDriver, served: Served) -> None:
    click(console, By.ID, "nav-parked")
    groups = console.find_elements(By.CSS_SELECTOR, "section.parked-group")
    reasons = {g.get_attribute("aria-label"): g.text for g in groups}
    assert any(
        label.startswith("shop: ") and "tracking number may hold only" in label for label in reasons
    ), reasons
    assert console.find_elements(By.CSS_SELECTOR, "button[id^='replay-reason-']")
    checked_page(console, "parked")


def test_notifications_and_an_endpoint(console: WebDriver, served: Served) -> None:
    click(console, By.ID, "nav-notifications")
    failing = served.endpoints["failing"]
    row = text(console, f"#endpoint-{failing}")
    assert "failing since" in row and " 500 " in row, row
    assert "enabled" in text(console, f"#endpoint-{served.endpoints['ok']}")
    checked_page(console, "notifications")

    click(console, By.LINK_TEXT, failing)
    assert text(console, "h1") == f"Endpoint {failing} of shop"
    assert served.receivers["failing"].url in text(console, "#endpoint-url")
    assert not console.find_elements(By.CSS_SELECTOR, "#endpoint-url a")  # not a link
    assert console.find_elements(By.CSS_SELECTOR, "button[id^='resend-msg_']")
    checked_page(console, "endpoint")


def test_trackers_and_a_tracker(console: WebDriver, served: Served) -> None:
    click(console, By.ID, "nav-trackers")
    for number in (TRACKED, TRACKED_TOO):
        assert console.find_element(By.ID, f"pick-ups-{number}").is_enabled()
    log = rows(console, "#log-shop-ups")
    assert any(TRACKED in row and " 200 " in row for row in log), log
    checked_page(console, "trackers")

    link = console.find_element(
        By.CSS_SELECTOR, f"a[href='/console/tenants/shop/trackers/ups/{TRACKED}']"
    )
    submit(console, link)
    assert text(console, "h1") == f"Tracker {TRACKED} (ups) of shop"
    assert text(console, "#tracker-state").startswith("active, in_transit")
    assert rows(console, "#checks")
    checked_page(console, "tracker")
