"""The real app's link pages in headless Chromium, in each language: read, press the button, read the result;
the vendor fake sees exactly one unsubscribe per person. Screenshots: test-artifacts/app-link-<lang>-*.png."""

import pytest
from selenium.webdriver.common.by import By

from links.make import make_link
from links.tokens import LinkSigner
from tests.browser import LiveServer, browser, click_and_wait, console_errors, screenshot  # noqa: F401
from tests.conftest import relay_of
from tests.test_pages_i18n import TEXT

SECRET = "link-secret-for-the-browser-tests-0123456789"



@pytest.fixture(scope="module")
def live(tmp_path_factory, justclick):
    from app import create_app
    folder = tmp_path_factory.mktemp("live")
    app = create_app({"JUSTCLICK_LOGIN": justclick.login, "JUSTCLICK_SECRET": justclick.secret,
                      "JUSTCLICK_GROUP": "Main", "JUSTCLICK_API_URL": f"{justclick.base}/{{login}}/api/",
                      "WEBHOOK_TOKENS": "browser-token", "LINK_SECRETS": SECRET, "TRUSTED_PROXY_HOPS": "0",
                      "PUBLIC_RATE_LIMIT": "1000 per minute",  # favicons must not meet the limit
                      "DATABASE_URL": f"sqlite:///{folder / 'ledger.sqlite3'}", "JUSTCLICK_MAX_RATE": "0"})
    with LiveServer(app) as server:
        yield server
    relay_of(app).service.store.close()


@pytest.mark.parametrize("lang", ["en", "ru", "cs"])
def test_a_subscriber_unsubscribes_in_their_language(live, browser, justclick, lang):  # noqa: F811
    email = f"reader-{lang}@example.com"
    justclick.subscribe(email, "Main")
    url = make_link(LinkSigner([SECRET]), live.url, email, to="justclick")["url"]
    driver = browser(lang, phone=True)
    driver.set_page_load_timeout(30)
    driver.get(url)
    heading, button = TEXT["confirm"][lang]
    assert driver.find_element(By.TAG_NAME, "h1").text == heading
    assert email not in driver.page_source and "r***@e***.com" in driver.page_source
    assert justclick.requests == []  # opening the link unsubscribes nobody
    screenshot(driver, f"app-link-{lang}-confirm")
    pressed = driver.find_element(By.TAG_NAME, "button")
    assert pressed.text == button
    click_and_wait(driver, pressed)
    assert driver.find_element(By.TAG_NAME, "h1").text == TEXT["result"][lang]
    assert console_errors(driver) == []
    screenshot(driver, f"app-link-{lang}-result")
    assert len(justclick.requests) == 1 and email not in justclick.groups["Main"]
