"""The console in a real headless Chromium: log in, search an address, open the delivery, see its attempts,
replay it and see the new attempt; a wrong password and a missing CSRF token are refused; a phone's width."""

import pytest
from selenium.webdriver.common.by import By
from tests.browser import LiveServer, click_and_wait
from tests.console_browser_fixture import browser, chromium, screenshot  # noqa: F401 - fixtures
from tests.helpers import post

PASSWORD = "correct horse battery staple"
CONSOLE = {"CONSOLE_PASSWORD": PASSWORD, "SECRET_KEY": "s" * 48}
pytestmark = [pytest.mark.slow]


@pytest.fixture
def served(make_app, justclick):
    """A console app with a few deliveries (one failed), served over HTTP."""
    app = make_app(**CONSOLE)
    client = app.test_client()
    for email in ("alice@example.com", "alina@example.com", "bob@example.com"):
        post(client, {"email": email}, route="justclick")
    justclick.groups.clear()
    post(client, {"email": "gone@example.com"}, route="justclick")
    justclick.groups["Main"] = set()
    with LiveServer(app) as server:
        yield server


def follow(driver, by, selector):
    """Click what navigates, and wait until the next page has loaded (a loaded CI machine)."""
    click_and_wait(driver, driver.find_element(by, selector))


def log_in(driver, base, password):
    driver.get(f"{base}/console/login")
    driver.find_element(By.ID, "password").send_keys(password)
    follow(driver, By.CSS_SELECTOR, "form button[type=submit]")


def text(driver):
    return driver.find_element(By.TAG_NAME, "body").text


def test_operator_finds_and_replays_a_delivery(browser, served):
    log_in(browser, served.url, PASSWORD)
    assert browser.current_url == f"{served.url}/console/" and "Backlog" in text(browser)
    screenshot(browser, "console-overview")
    follow(browser, By.LINK_TEXT, "Search")
    browser.find_element(By.ID, "address").send_keys("ALICE@example.com")
    follow(browser, By.CSS_SELECTOR, "form.search button")
    assert "alice@" not in browser.current_url
    rows = browser.find_elements(By.CSS_SELECTOR, "table.results tbody tr")
    assert len(rows) == 1 and "alice@example.com" in rows[0].text
    screenshot(browser, "console-search")
    follow(browser, By.CSS_SELECTOR, "table.results tbody a")
    attempts = browser.find_elements(By.CSS_SELECTOR, "table.attempts tbody tr")
    assert [row.find_elements(By.TAG_NAME, "td")[3].text for row in attempts] == ["web"]
    follow(browser, By.XPATH, "//button[text()='Replay now']")
    assert "Replayed: delivered, not subscribed (code 801)." in text(browser)  # the fake: not in its group
    attempts = browser.find_elements(By.CSS_SELECTOR, "table.attempts tbody tr")
    assert [row.find_elements(By.TAG_NAME, "td")[3].text for row in attempts] == ["web", "replay"]
    screenshot(browser, "console-delivery-replayed")
    follow(browser, By.LINK_TEXT, "Operator log")
    assert "replay" in text(browser)


def test_wrong_password_is_refused(browser, served):
    log_in(browser, served.url, "not the password")
    assert "Wrong password." in text(browser) and browser.current_url.endswith("/console/login")
    screenshot(browser, "console-wrong-password")
    browser.get(f"{served.url}/console/")
    assert browser.current_url.startswith(f"{served.url}/console/login")


def test_a_form_without_its_csrf_token_is_refused(browser, served):
    log_in(browser, served.url, PASSWORD)
    follow(browser, By.LINK_TEXT, "Search")
    browser.execute_script("document.querySelector('form.search input[name=csrf_token]').remove()")
    browser.find_element(By.ID, "address").send_keys("bob@example.com")
    follow(browser, By.CSS_SELECTOR, "form.search button")
    assert "400 Bad Request" in text(browser) and "CSRF" in text(browser)
    screenshot(browser, "console-csrf-refused")


def test_pages_fit_a_phone(browser, served):
    browser.set_window_size(390, 844)
    log_in(browser, served.url, PASSWORD)
    for path, name in (("/console/", "phone-overview"), ("/console/log", "phone-log")):
        browser.get(served.url + path)
        overflow = browser.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{path} scrolls sideways by {overflow} px"
        screenshot(browser, name)
    follow(browser, By.LINK_TEXT, "Search")
    browser.find_element(By.ID, "address").send_keys("ali")
    browser.find_element(By.ID, "match").send_keys("starts with")
    follow(browser, By.CSS_SELECTOR, "form.search button")
    assert len(browser.find_elements(By.CSS_SELECTOR, "table.results tbody tr")) == 2
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 390
    screenshot(browser, "phone-search")
    follow(browser, By.CSS_SELECTOR, "table.results a")
    screenshot(browser, "phone-delivery")
