"""Every page in every language in headless Chromium on a 390 px phone: read, click, read the result.

The browser's language comes from its own preferences (intl.accept_languages), as a subscriber's would.
Screenshots: test-artifacts/pages-<page>-<lang>.png (gitignored).
"""

import pytest
from selenium.webdriver.common.by import By

from links.make import make_link
from tests.browser import LiveServer, browser, click_and_wait, console_errors, screenshot, wait_for  # noqa: F401 (browser: a fixture)
from tests.pages_app import make_pages_app

LANGUAGES = ["en", "ru", "cs"]
TEXT = {
    "confirm": {"en": ("Unsubscribe from our emails?", "Unsubscribe"),
                "ru": ("Отписаться от нашей рассылки?", "Отписаться"),
                "cs": ("Odhlásit odběr našich e-mailů?", "Odhlásit odběr")},
    "result": {"en": "You are unsubscribed", "ru": "Вы отписались от рассылки", "cs": "Odběr byl zrušen"},
    "failed": {"en": "Your unsubscribe did not go through", "ru": "Не удалось отписаться",
               "cs": "Odhlášení se nezdařilo"},
    "invalid_link": {"en": "This link is not valid", "ru": "Ссылка недействительна",
                     "cs": "Tento odkaz není platný"},
    "bot_check": {"en": "We could not confirm that you are not a robot",
                  "ru": "Не удалось подтвердить, что вы не робот",
                  "cs": "Nepodařilo se ověřit, že nejste robot"},
    "rate_limited": {"en": "Too many requests", "ru": "Слишком много запросов",
                     "cs": "Příliš mnoho požadavků"},
    "generic": {"en": "Something went wrong", "ru": "Что-то пошло не так", "cs": "Něco se pokazilo"},
}
ERROR_PATHS = {"failed": "/failed", "bot_check": "/error/bot_check", "rate_limited": "/error/rate_limited",
               "generic": "/error/unavailable"}
BUTTON_BLUE = "rgba(11, 87, 208, 1)"  # from pages.css: proves the inline style passed the CSP



@pytest.fixture(scope="module")
def site(tmp_path_factory):
    app, signer = make_pages_app(tmp_path_factory.mktemp("pages-instance"), default_locale="en")
    with LiveServer(app) as server:
        server.app, server.signer = app, signer
        yield server


@pytest.fixture(scope="module")
def phones(browser):  # noqa: F811 (the fixture imported above)
    """A phone-sized Chromium per language, all started at once on first use."""
    opened = {}

    def phone(lang):
        if not opened:
            opened.update(zip(LANGUAGES, browser([(each, True) for each in LANGUAGES]), strict=True))
        return opened[lang]
    return phone


def link(site, target="jane.doe@example.com"):
    return make_link(site.signer, site.url, target)["url"]


def check_page(driver, name, lang, heading):
    """Language, heading, layout fit for a phone, style applied, nothing blocked; then a screenshot."""
    assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == lang
    assert driver.find_element(By.TAG_NAME, "h1").text == heading
    assert driver.title == heading or name == "confirm"
    layout = driver.execute_script(
        "const d = document.documentElement, m = document.querySelector('main').getBoundingClientRect();"
        "return {view: innerWidth, scroll: d.scrollWidth, left: m.left, right: m.right,"
        " font: parseFloat(getComputedStyle(document.body).fontSize)};")
    assert layout["view"] == 390 and layout["scroll"] <= layout["view"], layout  # no sideways scrolling
    assert layout["left"] >= 8 and layout["right"] <= layout["view"] - 8, layout
    assert layout["font"] >= 16, layout
    assert console_errors(driver) == []
    screenshot(driver, f"pages-{name}-{lang}")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_confirm_then_click_then_result(site, phones, lang):
    driver = phones(lang)
    driver.get(link(site))
    heading, label = TEXT["confirm"][lang]
    check_page(driver, "confirm", lang, heading)
    assert "j***@e***.com" in driver.find_element(By.CLASS_NAME, "target").text
    assert "jane.doe" not in driver.page_source
    button = driver.find_element(By.TAG_NAME, "button")
    assert button.text == label and button.value_of_css_property("background-color") == BUTTON_BLUE
    assert button.size["width"] >= 300 and button.size["height"] >= 44  # a thumb-sized target
    click_and_wait(driver, button)
    check_page(driver, "result", lang, TEXT["result"][lang])
    assert site.app.extensions["seen_languages"][-1] == lang  # the browser itself asked for the language


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("name", ["invalid_link", *ERROR_PATHS])
def test_error_and_failure_pages(site, phones, lang, name):
    driver = phones(lang)
    driver.get(link(site)[:-2] + "xx" if name == "invalid_link" else site.url + ERROR_PATHS[name])
    check_page(driver, name, lang, TEXT[name][lang])


def test_desktop_layout(site, browser):  # noqa: F811 (the fixture imported above)
    """The same page on a wide screen: the column stays narrow enough to read."""
    driver = browser("cs")
    driver.get(link(site, "+420777123456"))
    width = driver.execute_script("return document.querySelector('main').getBoundingClientRect().width")
    assert 400 < width <= 32 * 18 + 1, width  # max-width: 32rem at 18 px
    assert "+420******456" in driver.find_element(By.CLASS_NAME, "target").text
    assert console_errors(driver) == []
    screenshot(driver, "pages-confirm-cs-desktop")


@pytest.mark.parametrize("listed", [True, False], ids=["redirect-origin-listed", "not-listed"])
def test_the_button_is_redirected_only_to_a_listed_origin(tmp_path, site, phones, listed):
    """Browsers check form-action on the redirect too: UNSUBSCRIBE_SUCCESS_URL's origin must be listed."""
    target = site.url.replace("127.0.0.1", "localhost") + "/error/generic"  # another origin
    app, signer = make_pages_app(tmp_path, redirect_to=target, list_redirect=listed)
    driver = phones("en")
    with LiveServer(app) as server:
        driver.get(make_link(signer, server.url, "a@example.com")["url"])
        button = driver.find_element(By.TAG_NAME, "button")
        if listed:
            click_and_wait(driver, button)
            assert driver.current_url == target
            assert driver.find_element(By.TAG_NAME, "h1").text == TEXT["generic"]["en"]
        else:
            button.click()
            seen = []

            def refused_by_form_action(driver):
                seen.extend(console_errors(driver))
                return any("form-action" in message for message in seen)
            wait_for(driver, refused_by_form_action)
            assert not driver.current_url.startswith(target)
