"""The ops console in a real browser: one `waybill serve` with real traffic, one headless
Chromium driven by selenium through Debian's chromedriver, for the whole suite.

Nothing is downloaded at run time: `make test` installs Debian's ``chromium`` and
``chromium-driver`` (as root, when missing) and fetches axe-core once into ``.cache``.
Without them these tests fail and say how to get them: a browser suite that skips
silently would pass on every machine that cannot run it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from gateway.testkit.carrier_api import CarrierApi
from gateway.testkit.receiver import Receiver
from tests.browser.pages import AXE_JS, SHOTS, log_in, open_page
from tests.browser.served import (
    Served,
    drive_traffic,
    prepare,
    switchable,
    tenant_files,
    waybill_serve,
)

CHROMIUM = Path(os.environ.get("WAYBILL_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("WAYBILL_CHROMEDRIVER", "/usr/bin/chromedriver"))
# The flags headless Chromium needs on a closed network: no background connections,
# no component updates, no sync; a fresh profile per run.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,900",
)
PAGE_LOAD_SECONDS = 20


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test here runs on DynamoDB Local in a browser."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.integration)
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser_tools() -> None:
    """Fail (not skip) with the way to install what is missing."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if missing:
        pytest.fail(
            f"the console's browser tests need {' and '.join(missing)}: install Debian's "
            "chromium and chromium-driver (`make chromium` as root, or `make test`); "
            "WAYBILL_CHROMIUM / WAYBILL_CHROMEDRIVER point elsewhere",
            pytrace=False,
        )
    if not AXE_JS.is_file():
        pytest.fail(
            f"the accessibility check needs {AXE_JS}: `make axe-core` fetches it once (npm)",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`waybill serve` on its own DynamoDB Local, after real traffic (see served.py)."""
    root = tmp_path_factory.mktemp("console")
    switches = {"ok": 200, "failing": 500, "gone": 410}
    with (
        CarrierApi() as api,
        Receiver(switchable(switches, "ok")) as ok,
        Receiver(switchable(switches, "failing")) as failing,
        Receiver(switchable(switches, "gone")) as gone,
    ):
        state, tenants = root / "state", root / "tenants"
        tenant_files(tenants, api)
        keys = prepare(state, tenants, api)
        with waybill_serve(state, tenants) as (url, credential, log):
            receivers = {"ok": ok, "failing": failing, "gone": gone}
            served = Served(url, state, tenants, credential, keys, api, receivers, log=log)
            served.switches = switches
            drive_traffic(served, root)
            yield served


@pytest.fixture(scope="session")
def driver(
    browser_tools: None, served: Served, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[webdriver.Chrome]:
    """One headless Chromium for the suite, with a fresh profile; screenshots go to SHOTS."""
    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # An alert left open must fail the next command, never be dismissed silently.
    options.set_capability("unhandledPromptBehavior", "ignore")
    browser = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    browser.set_page_load_timeout(PAGE_LOAD_SECONDS)
    browser.set_script_timeout(PAGE_LOAD_SECONDS)
    try:
        yield browser
    finally:
        browser.quit()


@pytest.fixture
def console(driver: webdriver.Chrome, served: Served) -> webdriver.Chrome:
    """The browser, logged in to the console (through its login form when needed)."""
    open_page(driver, served.console())
    if driver.current_url.endswith("/console/login"):
        log_in(driver, served.console(), served.credential)
    if driver.current_url != served.console():
        errors = driver.find_elements(By.ID, "error") + driver.find_elements(By.ID, "login-error")
        shown = errors[0].text if errors else driver.page_source[:500]
        pytest.fail(f"logging in with the browser failed at {driver.current_url}: {shown}")
    return driver
