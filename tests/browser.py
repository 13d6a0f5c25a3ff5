"""Headless Chromium for page tests: Debian's /usr/bin/chromium driven by selenium via /usr/bin/chromedriver.

Nothing is downloaded: the driver path is given, so Selenium Manager never runs. A missing browser skips the
page tests on a laptop and fails them under CI (env `CI` set). Screenshots go to test-artifacts/ (gitignored).
Import the fixture into a test module: `from tests.browser import browser  # noqa: F401`; serve the app
under test with `with LiveServer(app) as server:` (server.url).
"""

import os
import shutil
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
PHONE = {"width": 390, "height": 844, "pixelRatio": 2}  # an iPhone 12-15 class viewport
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage"]


def require_program(path, what):
    """The program's path; a skip when it is missing, or a failure under CI where it must be installed."""
    found = shutil.which(path)
    if found:
        return found
    message = f"{what} ({path}) is not installed"
    if os.environ.get("CI"):
        pytest.fail(f"{message}; it is required under CI")
    pytest.skip(message)


def start_chromium(profile_dir, lang="en", phone=False):
    """A fresh headless Chromium whose Accept-Language is `lang`, optionally emulating a 390 px phone."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = require_program(CHROMIUM, "Chromium")
    for flag in FLAGS + [f"--user-data-dir={profile_dir}", f"--lang={lang}", "--window-size=1280,900"]:
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"intl.accept_languages": lang})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # CSP violations land in the console
    if phone:
        options.add_experimental_option("mobileEmulation", {"deviceMetrics": PHONE})
    service = Service(require_program(CHROMEDRIVER, "chromedriver"))
    return webdriver.Chrome(options=options, service=service)


@pytest.fixture(scope="module")
def browser():
    """`open(lang, phone=False)` -> a driver with its own fresh profile, or `open([(lang, phone), ...])` ->
    several, started in parallel (start-up is most of a page test's time); all are closed after the module."""
    drivers, profiles = [], []

    def start(lang, phone):
        profiles.append(tempfile.TemporaryDirectory(prefix="chromium-profile-"))
        drivers.append(start_chromium(profiles[-1].name, lang, phone))
        return drivers[-1]

    def open_browser(lang="en", phone=False):
        if isinstance(lang, str):
            return start(lang, phone)
        with ThreadPoolExecutor(len(lang)) as pool:
            return list(pool.map(lambda wanted: start(*wanted), lang))
    yield open_browser
    for driver in drivers:
        close(driver)
    for profile in profiles:
        profile.cleanup()


def close(driver, seconds=10):
    """Quit a browser, bounded: a Chromium that stopped answering chromedriver would hang quit() forever
    (seen on a loaded machine), so after `seconds` the driver and every browser process it started are killed."""
    import signal

    quitting = threading.Thread(target=driver.quit, daemon=True)
    quitting.start()
    quitting.join(seconds)
    process = getattr(driver.service, "process", None)
    if quitting.is_alive() and process is not None:
        for pid in _descendants(process.pid) + [process.pid]:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def _descendants(pid):
    """Every process below `pid` (from /proc), deepest first."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            children = [int(child) for child in f.read().split()]
    except OSError:
        return []
    return [grandchild for child in children for grandchild in _descendants(child)] + children


def screenshot(driver, name):
    """Save a PNG of the current page as test-artifacts/<name>.png and return its path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def console_errors(driver):
    """Severe console entries since the last call (a blocked style or script shows up here), except the
    page's own HTTP status: an error page is meant to answer 400 or 429."""
    own_status = f"{driver.current_url} - Failed to load resource: the server responded with a status of"
    return [entry["message"] for entry in driver.get_log("browser")
            if entry["level"] == "SEVERE" and not entry["message"].startswith(own_status)]


def click_and_wait(driver, element, timeout=30):
    """Click something that navigates, and wait until the next page has loaded.

    Each navigation starts a new document with its own `performance.timeOrigin`, which tells the two apart.
    Between them the driver may answer about a page that is going away ("Node with given id does not belong
    to the document", a stale element): those are polled past, and the wait still fails after `timeout`."""
    from selenium.common.exceptions import WebDriverException

    before = driver.execute_script("return performance.timeOrigin")

    def next_page_loaded(d):
        origin, state = d.execute_script("return [performance.timeOrigin, document.readyState]")
        return origin != before and state == "complete"
    element.click()
    wait_for(driver, next_page_loaded, timeout, ignored=(WebDriverException,))


def wait_for(driver, condition, timeout=30, ignored=()):
    """Poll `condition(driver)` until it is true (its value is returned) or fail after `timeout` seconds;
    the `ignored` exceptions count as not yet."""
    from selenium.webdriver.support.wait import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.05, ignored_exceptions=ignored).until(condition)


class QuietHandler(WSGIRequestHandler):
    protocol_version = "HTTP/1.0"  # no keep-alive: a browser left open cannot hold the server's shutdown

    def log_request(self, *args):
        """No access log: the paths hold link tokens, which carry addresses."""


class LiveServer:
    """A Flask app served by werkzeug on a free local port in a thread."""

    def __init__(self, app):
        self._server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._thread.join(timeout=5)
