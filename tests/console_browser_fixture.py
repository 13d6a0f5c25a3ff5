"""Real headless Chromium (Debian's chromium + chromium-driver) through Selenium for the console tests.

Nothing is downloaded: the driver is Service('/usr/bin/chromedriver'). Under CI a missing Chromium fails the
test; elsewhere it is skipped. Screenshots go to test-artifacts/ (gitignored)."""

import os
import shutil
import tempfile

import pytest

from tests.browser import close

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
ARTIFACTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "test-artifacts")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage")


def _need_chromium():
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    if missing:
        message = f"{' and '.join(missing)} not installed (apt-get install chromium chromium-driver)"
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)


@pytest.fixture(scope="module")
def chromium():
    """One headless Chromium per test module, with its own fresh profile; quit afterwards."""
    _need_chromium()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="console-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}", "--window-size=1280,900"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        close(driver)  # bounded: a wedged Chromium cannot hang the suite
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def browser(chromium):
    """The module's Chromium with no cookies and a desktop window, as a new visitor."""
    chromium.delete_all_cookies()
    chromium.set_window_size(1280, 900)
    return chromium


def screenshot(driver, name):
    """Keep what the browser shows as test-artifacts/<name>.png (full page height)."""
    os.makedirs(ARTIFACTS, exist_ok=True)
    width = driver.execute_script("return window.innerWidth")
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(driver.get_window_size()["width"], max(height + 140, 400))
    path = os.path.join(ARTIFACTS, f"{name}.png")
    driver.save_screenshot(path)
    assert width > 0
    return path
