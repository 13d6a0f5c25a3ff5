"""What a newcomer sees, in headless Chromium: the branded pages (a phone, in Russian), the front page while a
breaker is open, and the console's replay confirmation (plural, Cancel beside the red button, not on it).
Screenshots: test-artifacts/firsthour-*.png (gitignored)."""

import pytest
from selenium.webdriver.common.by import By

from links.make import make_link
from links.tokens import LinkSigner
from tests.browser import LiveServer, browser, console_errors, screenshot  # noqa: F401 (browser: a fixture)
from tests.helpers import post
from tests.test_console_browser import CONSOLE, log_in

pytestmark = [pytest.mark.slow]
SECRET = "l" * 40
BRAND = {"BRAND_NAME": "Acme Newsletter", "BRAND_CONTACT": "privacy@acme.example", "LINK_SECRETS": SECRET}


@pytest.fixture
def served(make_app, justclick):
    """A branded app whose JustClick breaker is open (a rate limit) and with one failed delivery."""
    app = make_app(**BRAND, **CONSOLE)
    client = app.test_client()
    justclick.groups.clear()  # the group is gone: this one fails for good
    post(client, {"email": "gone@example.com"}, route="justclick")
    justclick.script["busy@example.com"] = 8  # JustClick's rate limit: the breaker opens at once
    post(client, {"email": "busy@example.com"}, route="justclick")
    with LiveServer(app) as server:
        yield server


def test_a_subscriber_sees_who_sends_the_mails(served, browser):  # noqa: F811 (the fixture)
    driver = browser("ru", phone=True)
    driver.get(make_link(LinkSigner(SECRET), served.url, "jane.doe@example.com")["url"])
    assert driver.find_element(By.CSS_SELECTOR, "header.brand").text == "Acme Newsletter"
    contact = driver.find_element(By.CSS_SELECTOR, "footer.contact")
    assert contact.text == "Есть вопросы? Напишите нам: privacy@acme.example."
    assert contact.find_element(By.TAG_NAME, "a").get_attribute("href") == "mailto:privacy@acme.example"
    assert driver.title.endswith("· Acme Newsletter") and console_errors(driver) == []
    screenshot(driver, "firsthour-confirm-branded-ru")


def test_the_front_page_says_which_breaker_is_open(served, browser):  # noqa: F811 (the fixture)
    driver = browser("en")
    driver.get(served.url + "/")
    status = driver.find_element(By.XPATH, "//p[strong[text()='Status:']]").text
    assert status == "Status: ready, but deliveries to justclick are held back"
    held = driver.find_element(By.CSS_SELECTOR, "p.held").text
    assert held.startswith("justclick's circuit breaker is open since ") and "The worker tries one" in held
    assert "Acme Newsletter" in driver.find_element(By.CSS_SELECTOR, "p.brand").text
    assert [e for e in console_errors(driver) if "favicon.ico" not in e] == []  # no favicon: no CSP error
    screenshot(driver, "firsthour-front-breaker-open")


def test_the_replay_confirmation_reads_right(served, browser):  # noqa: F811 (the fixture)
    driver = browser("en")
    log_in(driver, served.url, CONSOLE["CONSOLE_PASSWORD"])
    driver.execute_script("document.querySelector('caption').scrollIntoView()")
    zero = driver.find_element(By.CSS_SELECTOR, "td.zero")
    assert zero.text == "0" and zero.value_of_css_property("color") == "rgba(91, 100, 114, 1)"  # --muted
    screenshot(driver, "firsthour-console-outcomes")
    driver.find_element(By.CSS_SELECTOR, "a[href*='/console/destinations/justclick/replay']")
    driver.get(served.url + "/console/search")
    driver.get(driver.find_element(By.CSS_SELECTOR, "table.results tbody a").get_attribute("href"))
    driver.execute_script("document.querySelector('dl.fields').scrollIntoView()")
    assert "Last vendor code" in driver.find_element(By.CSS_SELECTOR, "dl.fields").text
    screenshot(driver, "firsthour-console-every-field")
    driver.get(served.url + "/console/destinations/justclick/replay")
    button = driver.find_element(By.CSS_SELECTOR, "button.danger")
    cancel = driver.find_element(By.LINK_TEXT, "Cancel")
    assert button.text == "Replay 1 delivery"
    gap = cancel.rect["x"] - (button.rect["x"] + button.rect["width"])
    assert gap >= 12, gap  # spaced from the red button, not flush against it
    middle = [element.rect["y"] + element.rect["height"] / 2 for element in (cancel, button)]
    assert abs(middle[0] - middle[1]) < 4  # on one line with the button
    screenshot(driver, "firsthour-console-replay-confirm")
