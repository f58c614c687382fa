"""What every console page is checked for in the browser: it loads without a script error,
its screenshot is saved, axe-core finds no label or contrast violation, the keyboard
reaches every control, and nothing a carrier or tenant sent became markup.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

REPO = Path(__file__).resolve().parents[2]
SHOTS = REPO / "build" / "console"
AXE_JS = REPO / ".cache" / "axe-core" / "node_modules" / "axe-core" / "axe.min.js"
WAIT_SECONDS = 10.0

# axe-core rules about names, labels and contrast (https://dequeuniversity.com/rules/axe/).
AXE_RULES = (
    "label",
    "label-title-only",
    "form-field-multiple-labels",
    "select-name",
    "input-button-name",
    "button-name",
    "link-name",
    "image-alt",
    "svg-img-alt",
    "role-img-alt",
    "aria-input-field-name",
    "aria-command-name",
    "empty-heading",
    "empty-table-header",
    "frame-title",
    "document-title",
    "html-has-lang",
    "color-contrast",
    "link-in-text-block",
)

# Whatever can take the keyboard's focus and act: links, buttons, fields.
_FOCUSABLE = (
    "a[href], button, input:not([type=hidden]), select, textarea, summary, "
    "[tabindex]:not([tabindex='-1'])"
)


def wait(driver: WebDriver, condition: Callable[[WebDriver], Any], what: str) -> Any:
    """A bounded wait: ``condition``'s first truthy value, or a timeout naming ``what``."""
    return WebDriverWait(driver, WAIT_SECONDS, poll_frequency=0.05).until(condition, what)


def open_page(driver: WebDriver, url: str) -> None:
    """Go to ``url``; the browser log starts afresh for it."""
    driver.get_log("browser")
    driver.get(url)
    wait(driver, lambda d: d.execute_script("return document.readyState") == "complete", url)


def submit(driver: WebDriver, button: WebElement) -> None:
    """Click a form's button and wait for the page it leads to."""
    old = driver.find_element(By.TAG_NAME, "html")
    driver.get_log("browser")
    button.click()
    wait(driver, lambda d: _stale(old), "the form's answer page")
    wait(driver, lambda d: d.execute_script("return document.readyState") == "complete", "load")


def _stale(element: WebElement) -> bool:
    try:
        element.is_enabled()
    except Exception:  # StaleElementReferenceException: the page was replaced
        return True
    return False


def screenshot(driver: WebDriver, name: str) -> Path:
    """The whole page (not only the window) as ``build/console/<name>.png``."""
    width, height = driver.get_window_size()["width"], driver.get_window_size()["height"]
    full = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, max(height, min(int(full) + 120, 6000)))
    path = SHOTS / f"{name}.png"
    try:
        assert driver.save_screenshot(str(path)), path
    finally:
        driver.set_window_size(width, height)
    return path


def no_script_errors(driver: WebDriver) -> list[str]:
    """The browser console's errors since the last call (CSP refusals, script errors),
    less the status of the page itself (a refusal page is a 4xx by design)."""
    page = f"{driver.current_url} - Failed to load resource: the server responded with"
    return [
        entry["message"]
        for entry in driver.get_log("browser")
        if entry["level"] == "SEVERE"
        and "favicon.ico" not in entry["message"]
        and not entry["message"].startswith(page)
    ]


def accessibility_violations(driver: WebDriver) -> list[str]:
    """axe-core's label, name and contrast violations on the current page, one line each."""
    driver.execute_script(AXE_JS.read_text(encoding="utf-8"))
    result = driver.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        axe.run(document, {runOnly: {type: "rule", values: arguments[0]},
                           resultTypes: ["violations"]})
          .then(r => done(r.violations.map(v => ({
              id: v.id, help: v.help,
              nodes: v.nodes.map(n => n.target.join(" ") + ": " + n.failureSummary)}))))
          .catch(e => done([{id: "axe-error", help: String(e), nodes: []}]));
        """,
        list(AXE_RULES),
    )
    return [f"{v['id']} ({v['help']}): {node}" for v in result for node in (v["nodes"] or ["-"])]


def keyboard_misses(driver: WebDriver, limit: int = 400) -> list[str]:
    """The visible, enabled controls that pressing Tab from the top never focuses.

    Real key presses (one batch), the focus recorded by a ``focusin`` listener."""
    count = driver.execute_script(
        """
        let n = 0;
        for (const el of document.querySelectorAll(arguments[0])) {
          const style = getComputedStyle(el);
          const shown = el.getClientRects().length > 0 && style.visibility !== "hidden";
          if (shown && !el.disabled) el.dataset.kbd = String(n++);
          else delete el.dataset.kbd;
        }
        window.__focused = new Set();
        document.addEventListener("focusin", e => {
          if (e.target.dataset && e.target.dataset.kbd) window.__focused.add(e.target.dataset.kbd);
        });
        if (document.activeElement) document.activeElement.blur();
        window.scrollTo(0, 0);
        return n;
        """,
        _FOCUSABLE,
    )
    # a date-time field takes one Tab per part (month, day, year, hour…): room for those
    presses = min(2 * int(count) + 20, limit)
    ActionChains(driver, duration=0).send_keys(Keys.TAB * presses).perform()
    missed: list[str] = driver.execute_script(
        """
        return [...document.querySelectorAll("[data-kbd]")]
          .filter(el => !window.__focused.has(el.dataset.kbd))
          .map(el => el.outerHTML.slice(0, 160));
        """
    )
    driver.execute_script("document.activeElement && document.activeElement.blur()")
    return missed


def injected(driver: WebDriver) -> list[str]:
    """Markup that must never come from data: script elements other than the page's own
    (``src`` on this origin), event-handler attributes, ``javascript:`` URLs, and
    ``window.__pwned`` set by any of them."""
    return driver.execute_script(
        """
        const found = [];
        for (const s of document.scripts) {
          if (!s.src || new URL(s.src).origin !== location.origin)
            found.push("script: " + s.outerHTML.slice(0, 120));
        }
        for (const el of document.querySelectorAll("*")) {
          for (const a of el.attributes) {
            const value = a.value.trim().toLowerCase();
            if (a.name.startsWith("on")) found.push("handler: " + el.outerHTML.slice(0, 120));
            if (["href", "src", "action", "formaction", "xlink:href"].includes(a.name)
                && value.replace(/[\\s\\u0000-\\u001f]/g, "").startsWith("javascript:"))
              found.push("javascript URL: " + el.outerHTML.slice(0, 120));
          }
          if (el.tagName === "IMG" && el.getAttribute("src") === "x")
            found.push("injected img: " + el.outerHTML.slice(0, 120));
        }
        if (window.__pwned !== undefined) found.push("ran: " + window.__pwned);
        return found;
        """
    )


_BIDI = "[\\u202a-\\u202e\\u2066-\\u2069\\u200e\\u200f\\u061c]"


def loose_bidi(driver: WebDriver) -> list[str]:
    """Shown text holding a bidi control character. Even inside an isolating element
    (a table cell isolates) it reorders its own field: ``invoice\u202egnp.exe`` reads as
    ``invoiceexe.png``. Such data must be shown as visible escapes."""
    return driver.execute_script(
        f"""
        const bidi = /{_BIDI}/;
        const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
        const loose = [];
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {{
          if (bidi.test(node.data)) loose.push(JSON.stringify(node.data.slice(0, 80)));
        }}
        return loose;
        """
    )


def no_dialog(driver: WebDriver) -> bool:
    """No alert, confirm or prompt is open."""
    try:
        text = driver.switch_to.alert.text
    except NoAlertPresentException:
        return True
    raise AssertionError(f"a dialog opened: {text!r}")


def settle(seconds: float = 0.3) -> None:
    """Let a late handler (an image's onerror) run before the DOM is checked."""
    time.sleep(seconds)


def report(title: str, lines: list[str]) -> str:
    return f"{title}:\n  " + "\n  ".join(lines) if lines else ""


def dump(value: Any) -> str:
    return json.dumps(value, indent=1, default=str)


def log_in(driver: WebDriver, console_url: str, credential: str) -> None:
    """Type the ops credential into the login form and submit it (with the keyboard)."""
    open_page(driver, f"{console_url}login")
    field = driver.find_element(By.ID, "credential")
    field.clear()
    field.send_keys(credential)
    old = driver.find_element(By.TAG_NAME, "html")
    field.send_keys(Keys.ENTER)
    wait(driver, lambda d: _stale(old), "the page after the login form")
    wait(driver, lambda d: d.execute_script("return document.readyState") == "complete", "load")


def click(driver: WebDriver, by: str, value: str) -> None:
    """Click a link or button and wait for the page it leads to."""
    submit(driver, driver.find_element(by, value))


def text(driver: WebDriver, css: str) -> str:
    return str(driver.find_element(By.CSS_SELECTOR, css).text)


def checked_page(driver: WebDriver, name: str) -> Path:
    """What every page must pass: no script error, a screenshot, axe, the keyboard, no
    markup from data. Fails with every finding printed."""
    path = screenshot(driver, name)
    problems = [
        report("browser console errors", no_script_errors(driver)),
        report("accessibility (axe-core) violations", accessibility_violations(driver)),
        report("controls the Tab key never reaches", keyboard_misses(driver)),
        report("markup from data", injected(driver)),
        report("loose bidi controls", loose_bidi(driver)),
    ]
    found = [p for p in problems if p]
    assert not found, f"{name} ({driver.current_url}, screenshot {path}):\n" + "\n".join(found)
    return path
