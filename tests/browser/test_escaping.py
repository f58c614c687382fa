"""What a carrier or tenant sent renders inert in a real browser: ``<script>``,
``"><img onerror>``, ``javascript:`` URLs and bidi control characters, brought by a
signed delivery (carrier text, code and place), a parked delivery and an endpoint
registration (URL and description) of tenant ``mallory``: shown as text, never as markup
(no script ran, no element was injected, no ``javascript:`` link, no dialog), and no
bidi control left to reorder what ops read."""

from __future__ import annotations

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.browser.pages import (
    checked_page,
    injected,
    loose_bidi,
    no_dialog,
    no_script_errors,
    open_page,
    settle,
    submit,
    text,
)
from tests.browser.served import HOSTILE_NUMBER, IMG, IMG_IN_URL, JS_URL, SCRIPT, Served

SHOWN_BIDI = "\\u202egnp.exe\\u202c"  # the controls, as the console shows them


def inert(driver: WebDriver) -> None:
    settle()  # an injected image's onerror would have fired by now
    assert no_dialog(driver)
    assert injected(driver) == []
    assert loose_bidi(driver) == []
    refused = [m for m in no_script_errors(driver) if "Content Security Policy" in m]
    assert refused == []  # markup from data that only the CSP stopped is still a failure


def test_a_hostile_delivery_renders_as_text(console: WebDriver, served: Served) -> None:
    open_page(console, served.console(f"tenants/mallory/shipments/{HOSTILE_NUMBER}"))
    inert(console)
    (row,) = console.find_elements(By.CSS_SELECTOR, "#history tr")[1:]
    cells = [str(c.text) for c in row.find_elements(By.TAG_NAME, "td")]
    assert SCRIPT in cells[3] and JS_URL in cells[3], cells  # carrier code and text
    assert SHOWN_BIDI in cells[3], cells
    assert IMG in cells[4], cells  # the place
    checked_page(console, "escaping-shipment")


def test_a_hostile_endpoint_renders_as_text(console: WebDriver, served: Served) -> None:
    endpoint = served.endpoints["hostile"]
    for page in ("notifications", "tenants/mallory", f"tenants/mallory/endpoints/{endpoint}"):
        open_page(console, served.console(page))
        inert(console)
        assert IMG_IN_URL in console.find_element(By.TAG_NAME, "main").text, page
    assert JS_URL in text(console, "#endpoint-url")
    description = text(console, "#endpoint-description")
    assert SCRIPT in description and IMG in description and SHOWN_BIDI in description
    checked_page(console, "escaping-endpoint")


def test_a_hostile_parked_delivery_and_lookup_render_as_text(
    console: WebDriver, served: Served
) -> None:
    open_page(console, served.console("parked"))
    inert(console)
    assert any(
        str(g.get_attribute("aria-label")).startswith("mallory: ")
        for g in console.find_elements(By.CSS_SELECTOR, "section.parked-group")
    )
    open_page(console, served.console())
    console.find_element(By.ID, "lookup-tenant").send_keys("mallory")
    console.find_element(By.ID, "lookup-number").send_keys(IMG)
    submit(console, console.find_element(By.ID, "lookup"))
    inert(console)
    assert text(console, "#error") == "no such shipment"
