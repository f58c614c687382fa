"""Every console action, clicked in the browser, does what its CLI twin does (and is
audited as the console's): rotate a secret, replay parked deliveries (one, and all of a
reason), disable and enable an endpoint, recover and resend notifications, refresh one
tracker and a batch; a form with a wrong CSRF token is refused; log out.

These change ``shop``'s state, so they run after ``test_pages.py`` (pytest collects a
directory's files in name order).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select

from gateway.testkit.carrier_api import SimEvent
from tests.browser.pages import checked_page, click, open_page, submit, text, wait
from tests.browser.served import PARKED, TRACKED, TRACKED_TOO, Served, send, wait_for


def audited(served: Served) -> dict[str, Any]:
    """The audit trail's last entry."""
    lines = (served.state / "audit.jsonl").read_text().strip().splitlines()
    entry: dict[str, Any] = json.loads(lines[-1])
    return entry


def result(driver: WebDriver) -> tuple[str, str]:
    lines = driver.find_elements(By.ID, "result-lines")
    return text(driver, "#result"), (str(lines[0].text) if lines else "")


def test_rotate_a_partner_secret(console: WebDriver, served: Served) -> None:
    open_page(console, served.console("tenants/shop"))
    button = console.find_element(By.ID, "rotate-easypost")
    form = button.find_element(By.XPATH, "./ancestor::form")
    Select(form.find_element(By.TAG_NAME, "select")).select_by_visible_text("1h")
    submit(console, button)
    title, lines = result(console)
    assert title == "rotated shop/easypost", title
    assert "the old one stays valid for 1h" in lines
    entry = audited(served)
    assert (entry["actor"], entry["tenant"], entry["target"]) == ("console", "shop", "easypost")
    checked_page(console, "result")
    click(console, By.ID, "back")
    row = next(
        r
        for r in console.find_elements(By.CSS_SELECTOR, "#secrets tr")
        if r.text.startswith("easypost ")
    )
    assert " until " in row.text, row.text  # the previous secret, valid for its grace
    # the carrier signs with the new secret (what `waybill send` reads): accepted
    assert "duplicate_delivery" in send(
        served, "shop", "easypost", "event_tracker_updated_full_history"
    )


def test_replay_one_parked_delivery_and_all_of_a_reason(console: WebDriver, served: Served) -> None:
    click(console, By.ID, "nav-parked")
    group = next(
        g
        for g in console.find_elements(By.CSS_SELECTOR, "section.parked-group")
        if str(g.get_attribute("aria-label")).startswith("shop: ")
    )
    one = group.find_element(By.CSS_SELECTOR, "table button[id^='replay-']")
    submit(console, one)
    title, lines = result(console)
    assert title == "0 replayed, 1 still parked", title  # the adapter still cannot read it
    assert "tracking number may hold only" in lines
    assert audited(served)["actor"] == "console"
    click(console, By.ID, "back")
    group = next(
        g
        for g in console.find_elements(By.CSS_SELECTOR, "section.parked-group")
        if str(g.get_attribute("aria-label")).startswith("shop: ")
    )
    submit(console, group.find_element(By.CSS_SELECTOR, "button[id^='replay-reason-']"))
    assert result(console)[0] == "0 replayed, 1 still parked"
    assert PARKED not in console.page_source  # a parked body is never shown


def test_disable_and_enable_an_endpoint(console: WebDriver, served: Served) -> None:
    endpoint = served.endpoints["ok"]
    open_page(console, served.console(f"tenants/shop/endpoints/{endpoint}"))
    assert text(console, "#toggle") == "Disable endpoint"
    click(console, By.ID, "toggle")
    assert result(console)[0] == f"{endpoint} disabled"
    assert (audited(served)["target"], audited(served)["actor"]) == (endpoint, "console")
    click(console, By.ID, "back")
    assert text(console, "#endpoint-state").startswith("disabled")
    click(console, By.ID, "toggle")
    assert result(console)[0] == f"{endpoint} enabled"
    click(console, By.ID, "back")
    assert text(console, "#endpoint-state").startswith("enabled")


def test_recover_the_messages_of_an_endpoint_that_said_gone(
    console: WebDriver, served: Served
) -> None:
    endpoint, receiver = served.endpoints["gone"], served.receivers["gone"]
    open_page(console, served.console(f"tenants/shop/endpoints/{endpoint}"))
    assert text(console, "#endpoint-state") == "disabled (gone)"
    # the tenant fixed its endpoint first: enabled while it still answered 410, a waiting
    # message sent at once would disable it again, and the recovered ones would wait
    served.switches["gone"] = 200
    click(console, By.ID, "toggle")  # enable it again
    click(console, By.ID, "back")
    since = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    field = console.find_element(By.ID, "since")
    console.execute_script("arguments[0].value = arguments[1]", field, since)
    before = len(receiver.received)
    click(console, By.ID, "recover")
    title = result(console)[0]
    queued = re.fullmatch(r"queued (\d+) failed messages", title)
    assert queued and int(queued.group(1)) >= 1, title
    assert audited(served)["actor"] == "console"
    wanted = before + int(queued.group(1))  # sent by the sweeper (every second) once due
    assert len(receiver.wait_for(wanted, timeout=30)) >= wanted


def test_resend_a_message(console: WebDriver, served: Served) -> None:
    endpoint, receiver = served.endpoints["failing"], served.receivers["failing"]
    served.switches["failing"] = 200
    open_page(console, served.console(f"tenants/shop/endpoints/{endpoint}"))
    button = console.find_element(By.CSS_SELECTOR, "button[id^='resend-msg_']")
    message = str(button.get_attribute("id")).removeprefix("resend-")
    before = len(receiver.received)
    submit(console, button)
    title, lines = result(console)
    assert title == f"resent {message}"
    assert lines == "attempt: HTTP 200; message delivered", lines
    assert len(receiver.wait_for(before + 1)) > before
    assert receiver.received[-1].headers["webhook-id"] == message
    assert audited(served)["actor"] == "console"


def test_refresh_one_tracker_and_a_batch(console: WebDriver, served: Served) -> None:
    served.api.advance("ups", TRACKED, SimEvent("out_for_delivery", datetime.now(UTC)))
    open_page(console, served.console(f"tenants/shop/trackers/ups/{TRACKED}"))
    click(console, By.ID, "refresh")
    title, lines = result(console)
    assert title == f"checked {TRACKED}" and lines == "HTTP 200, +1 events", (title, lines)
    assert audited(served)["actor"] == "console"
    open_page(console, served.console(f"tenants/shop/trackers/ups/{TRACKED}"))
    assert text(console, "#tracker-state") == "active, out_for_delivery"

    click(console, By.ID, "nav-trackers")
    for number in (TRACKED, TRACKED_TOO):
        console.find_element(By.ID, f"pick-ups-{number}").send_keys(Keys.SPACE)  # the keyboard
    click(console, By.ID, "refresh-shop-ups-go")
    title, lines = result(console)
    assert title == "queued 2 trackers first", title
    checks = {n: 0 for n in (TRACKED, TRACKED_TOO)}
    with served.http("shop") as http:
        for number in checks:
            checks[number] = wait_for(
                lambda n=number: http.get(f"/v1/trackers/{n}", params={"carrier": "ups"}).json(),
                lambda tracker: tracker["checks"] >= 2,
            )["checks"]
    assert all(n >= 2 for n in checks.values()), checks  # the poller checked both again


def test_a_form_with_a_wrong_csrf_token_is_refused(console: WebDriver, served: Served) -> None:
    open_page(console, served.console(f"tenants/shop/endpoints/{served.endpoints['ok']}"))
    form = console.find_element(By.ID, "toggle-form")
    token = form.find_element(By.NAME, "csrf")
    console.execute_script("arguments[0].value = 'forged'", token)
    click(console, By.ID, "toggle")
    assert text(console, "#error") == "missing or wrong CSRF token"
    checked_page(console, "refused")
    open_page(console, served.console(f"tenants/shop/endpoints/{served.endpoints['ok']}"))
    assert text(console, "#endpoint-state").startswith("enabled")  # nothing was done


def test_log_out(console: WebDriver, served: Served) -> None:
    click(console, By.ID, "logout")
    assert console.current_url == served.console("login")
    open_page(console, served.console("trackers"))
    assert console.current_url == served.console("login")
    wait(console, lambda d: d.find_element(By.ID, "credential"), "the login form")
