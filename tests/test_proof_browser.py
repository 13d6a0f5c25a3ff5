"""The Proof page in a real headless Chromium: reached from a search, every opt-out shown, the JSON download
linked, and printed (print media emulated) without the menu, black on white, one opt-out to a page.
Screenshots: test-artifacts/proof-*.png."""

import base64
import os
import re

import pytest
from selenium.webdriver.common.by import By

from tests.browser import LiveServer
from tests.console_browser_fixture import ARTIFACTS, browser, chromium, screenshot  # noqa: F401 - fixtures
from tests.helpers import post
from tests.test_console_browser import PASSWORD, follow, log_in, text

pytestmark = [pytest.mark.slow]
ANNA = "anna@example.com"


@pytest.fixture
def served(make_app, justclick, mailkit):
    """A console app where Anna opted out twice (everywhere, then JustClick again), served over HTTP."""
    app = make_app(CONSOLE_PASSWORD=PASSWORD, SECRET_KEY="s" * 48, DEDUP_WINDOW_SECONDS="0")
    client = app.test_client()
    justclick.subscribe(ANNA, "Main")
    mailkit.subscribe(ANNA)
    post(client, {"email": ANNA}, route="unsubscribe")
    post(client, {"email": ANNA.upper()}, route="justclick")
    post(client, {"email": "bob@example.com"}, route="justclick")
    with LiveServer(app) as server:
        yield server


def style(driver, selector, prop):
    return driver.execute_script(
        "return getComputedStyle(document.querySelector(arguments[0]))[arguments[1]]", selector, prop)


def test_operator_opens_and_prints_a_proof_from_a_search(browser, served):
    log_in(browser, served.url, PASSWORD)
    follow(browser, By.LINK_TEXT, "Search")
    browser.find_element(By.ID, "address").send_keys(ANNA)
    follow(browser, By.CSS_SELECTOR, "form.search button")
    follow(browser, By.LINK_TEXT, "Proof for this address")
    assert "anna@" not in browser.current_url.lower()
    page = text(browser)
    assert ANNA in page and "Opt-out 1 of 2" in page and "Opt-out 2 of 2" in page and "bob@" not in page
    assert page.count("JustClick: unsubscribed at JustClick on") == 1  # the second: already unsubscribed
    assert "Mailkit: unsubscribed at Mailkit on" in page
    download = browser.find_element(By.LINK_TEXT, "Download JSON").get_attribute("href")
    assert "/console/proof.json?address=1" in download
    screenshot(browser, "proof-screen")

    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        assert style(browser, "header.top", "display") == "none"
        assert style(browser, ".no-print", "display") == "none"
        assert style(browser, "body", "backgroundColor") == "rgb(255, 255, 255)"
        assert style(browser, "body", "color") == "rgb(0, 0, 0)"
        assert style(browser, ".opt-out .summary", "color") == "rgb(0, 0, 0)"
        assert style(browser, ".opt-out + .opt-out", "breakBefore") == "page"
        screenshot(browser, "proof-print")
    finally:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
    # On paper tall enough for everything, only the page break makes a second page: the heading with
    # opt-out 1, then opt-out 2 on its own; without the break (the control) it is one page.
    assert pdf_pages(browser, "proof") == 2
    browser.execute_script("document.querySelectorAll('.opt-out').forEach(e => e.style.breakBefore = 'auto')")
    assert pdf_pages(browser, "proof-without-breaks") == 1


def pdf_pages(driver, name):
    """Print the page to test-artifacts/<name>.pdf as Chromium prints it (A4 wide, 100 inches tall); how
    many pages it took."""
    pdf = base64.b64decode(driver.execute_cdp_cmd("Page.printToPDF", {"paperWidth": 8.27, "paperHeight": 100,
                                                                       "printBackground": True})["data"])
    with open(os.path.join(ARTIFACTS, f"{name}.pdf"), "wb") as f:
        f.write(pdf)
    return len(re.findall(rb"/Type\s*/Page(?![a-z])", pdf))


def test_the_proof_fits_a_phone(browser, served):
    browser.set_window_size(390, 844)
    log_in(browser, served.url, PASSWORD)
    browser.get(f"{served.url}/console/proof?address=anna%40example.com")
    assert "Opt-out 2 of 2" in text(browser)
    overflow = browser.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the proof scrolls sideways by {overflow} px"
    screenshot(browser, "proof-phone")
