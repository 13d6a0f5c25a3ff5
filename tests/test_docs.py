"""The documentation site: docs/ builds offline and strictly with MkDocs, the service serves the build at
/docs as static files (and never a file outside it), the front page's links land on its pages, and the pages
work in headless Chromium on a desktop and a phone. Screenshots: test-artifacts/docs-*.png (gitignored)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from app import create_app
from docsite.files import resolve
from tests.browser import LiveServer, browser, console_errors, screenshot, wait_for  # noqa: F401 (a fixture)
from tests.conftest import store_of

ROOT = Path(__file__).resolve().parent.parent
# Any fetch during the build goes to a port where nothing listens: a plugin that needs the network fails it.
OFFLINE = {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "NO_PROXY": "",
           "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9", "no_proxy": ""}
OUTSIDE = "OUTSIDE-THE-SITE-0b7d"  # the content of a file beside the site, which no answer may carry


def require_mkdocs():
    import importlib.util
    if importlib.util.find_spec("mkdocs") is None:
        if os.environ.get("CI"):
            pytest.fail("MkDocs is required under CI (requirements-dev.txt)")
        pytest.skip("MkDocs is not installed (pip install -r requirements-dev.txt)")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site built from docs/ as a deploy builds it (python -m docsite.build), offline; beside it a file
    and two symlinks that lead out of it, for the path tests."""
    require_mkdocs()
    base = tmp_path_factory.mktemp("docs")
    built = subprocess.run([sys.executable, "-m", "docsite.build", str(base / "site")], cwd=ROOT,
                           env={**os.environ, **OFFLINE}, capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    (base / "outside.txt").write_text(OUTSIDE)
    (base / "site" / "escape.txt").symlink_to(base / "outside.txt")
    (base / "site" / "escape-dir").symlink_to(base)
    return base / "site"


@pytest.fixture
def docs_app(env, site):
    """The service serving this build at /docs."""
    app = create_app(env, docs_site=site)
    store_of(app).upgrade()
    yield app
    store_of(app).close()


def fetch(client, path, **kwargs):
    """A response read whole and closed (a served file stays open until its response is closed)."""
    with client.get(path, **kwargs) as response:
        response.get_data()
        return response


def pages(site):
    """The URL path of every page the build made (a folder with an index.html)."""
    return sorted("" if index.parent == site else index.parent.relative_to(site).as_posix() + "/"
                  for index in site.rglob("index.html") if "escape-dir" not in index.parts)


def test_the_site_loads_nothing_from_another_site(site):
    outside = re.compile(r"<(?:script|link|img|iframe|source)\b[^>]*\b(?:src|href)=\"(?:https?:)?//", re.I)
    offenders = [str(page.relative_to(site)) for page in site.rglob("*.html")
                 if "escape-dir" not in page.parts and outside.search(page.read_text())]
    assert offenders == []


def test_every_page_is_served_with_its_headers(docs_app, site):
    client = docs_app.test_client()
    assert len(pages(site)) >= 25
    for path in pages(site):
        response = fetch(client, f"/docs/{path}")
        assert (response.status_code, response.content_type) == (200, "text/html; charset=utf-8"), path
        assert "<title>" in response.get_data(as_text=True)
        assert "default-src 'self'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("pattern, content_type", [
    ("index.html", "text/html; charset=utf-8"),
    ("assets/stylesheets/main.*.min.css", "text/css; charset=utf-8"),
    ("assets/javascripts/bundle.*.min.js", "text/javascript; charset=utf-8"),
    ("search/search_index.json", "application/json"),
    ("sitemap.xml", "application/xml; charset=utf-8"),
    ("assets/images/favicon.png", "image/png"),
], ids=["html", "css", "js", "json", "xml", "png"])
def test_content_types(docs_app, site, pattern, content_type):
    [path] = site.glob(pattern)
    response = fetch(docs_app.test_client(), f"/docs/{path.relative_to(site).as_posix()}")
    assert (response.status_code, response.content_type) == (200, content_type)
    assert response.get_data() == path.read_bytes()


@pytest.mark.parametrize("path, status", [
    ("/docs/../outside.txt", 400),
    ("/docs/..%2foutside.txt", 400),
    ("/docs/%2e%2e/outside.txt", 400),
    ("/docs/assets/..%2F..%2F..%2Foutside.txt", 400),
    ("/docs/..%5coutside.txt", 400),
    ("/docs/index.html%00.png", 400),
    ("/docs/%00", 400),
    ("/docs/.hidden", 400),
    ("/docs/escape.txt", 404),
    ("/docs/escape-dir/outside.txt", 404),
    ("/docs//etc/passwd", 404),
    ("/docs/%2Fetc%2Fpasswd", 404),
    ("/docs/index.html/", 404),
    ("/docs/no-such-page/", 404),
    ("/docs/" + "a" * 300, 404),
    ("/docs/" + "/".join(["b" * 250] * 20), 404),
], ids=["dotdot", "encoded-slash", "encoded-dots", "deep-encoded", "backslash", "nul-in-name", "nul",
        "hidden", "symlink-file", "symlink-folder", "double-slash", "encoded-root", "file-as-folder",
        "missing", "name-too-long", "path-too-long"])
def test_no_path_leads_out_of_the_site(docs_app, path, status):
    response = fetch(docs_app.test_client(), path, follow_redirects=True)
    assert response.status_code == status
    body = response.get_data(as_text=True)
    assert OUTSIDE not in body and "root:x:0" not in body


@pytest.mark.parametrize("subpath, kind, target", [
    ("", "file", "index.html"),
    ("setup", "redirect", "setup/"),
    ("setup/zapier", "redirect", "zapier/"),
    ("setup/zapier/", "file", "setup/zapier/index.html"),
    ("sitemap.xml", "file", "sitemap.xml"),
    ("sitemap.xml/", "missing", None),
    ("nothing-here", "missing", None),
    ("setup/../index.html", "bad", None),
    ("a\\b", "bad", None),
    ("a\x00b", "bad", None),
    (".git/config", "bad", None),
    ("escape.txt", "missing", None),
], ids=["home", "folder", "subfolder", "page", "file", "file-as-folder", "missing", "dotdot", "backslash",
        "nul", "hidden", "symlink-out"])
def test_resolve(site, subpath, kind, target):
    found = resolve(site, subpath)
    assert found.kind == kind
    assert (found.path == (site / target).resolve()) if kind == "file" else (found.to or None) == target


def test_the_readme_links_to_pages_that_exist():
    targets = re.findall(r"\]\(((?!https?:)[^)#]+)(?:#[^)]*)?\)", (ROOT / "README.md").read_text())
    assert len(targets) >= 10
    assert [target for target in targets if not (ROOT / target).is_file()] == []


def test_docs_without_a_slash_goes_to_the_home_page(docs_app):
    response = docs_app.test_client().get("/docs")
    assert response.status_code == 308 and response.headers["Location"].endswith("/docs/")


def test_an_unbuilt_site_says_how_to_build_it(env, tmp_path):
    app = create_app(env, docs_site=tmp_path / "never-built")
    for path in ("/docs/", "/docs/configuration/"):
        response = app.test_client().get(path)
        page = response.get_data(as_text=True)
        assert response.status_code == 404 and "flask --app app docs build" in page, path
        assert str(tmp_path) not in page  # the server's folders are nobody's business


def test_the_front_page_links_land_on_built_pages(docs_app):
    client = docs_app.test_client()
    links = re.findall(r'href="(/docs/[^"]*)"', fetch(client, "/").get_data(as_text=True))
    assert len(links) >= 5
    for link in links:
        path, _, anchor = link.partition("#")
        page = fetch(client, path)
        assert page.status_code == 200, link
        assert not anchor or f'id="{anchor}"' in page.get_data(as_text=True), link


def test_flask_docs_build_replaces_the_old_site(docs_app, tmp_path):
    target = tmp_path / "built" / "site"
    target.mkdir(parents=True)
    (target / "stale.html").write_text("from an older build")
    result = docs_app.test_cli_runner().invoke(args=["docs", "build", "--site-dir", str(target)])
    assert result.exit_code == 0, result.output
    assert (target / "index.html").is_file() and not (target / "stale.html").exists()
    assert sorted(p.name for p in target.parent.iterdir()) == ["site"]  # no half-built or old copy left


@pytest.fixture(scope="module")
def live_docs(site, tmp_path_factory):
    instance = tmp_path_factory.mktemp("docs-instance")
    app = create_app({"DATABASE_URL": f"sqlite:///{instance / 'ledger.sqlite3'}", "AUTO_MIGRATE": "1"},
                     docs_site=site)
    with LiveServer(app) as server:
        yield server
    store_of(app).close()


def no_sideways_scroll(driver):
    return driver.execute_script("return document.documentElement.scrollWidth <= innerWidth")


def test_desktop_reads_and_searches_the_site(browser, live_docs):  # noqa: F811 (the fixture imported above)
    driver = browser("en")
    driver.get(f"{live_docs.url}/docs/")
    assert "unsub-relay" in driver.title
    assert driver.find_element(By.CSS_SELECTOR, "article h1").text == "unsub-relay"
    screenshot(driver, "docs-home-desktop")
    driver.find_element(By.CSS_SELECTOR, "label.md-search__icon, .md-search__input").click()
    field = driver.find_element(By.CSS_SELECTOR, "input.md-search__input")
    field.send_keys("LINK_SECRETS")
    wait_for(driver, lambda d: "configuration" in " ".join(
        a.get_attribute("href") for a in d.find_elements(By.CSS_SELECTOR, ".md-search-result__link")))
    screenshot(driver, "docs-search-desktop")
    field.send_keys(Keys.ESCAPE)
    driver.get(f"{live_docs.url}/docs/configuration/")
    assert "LINK_SECRETS" in driver.find_element(By.CSS_SELECTOR, "article").text
    assert console_errors(driver) == []  # nothing blocked by the CSP, no asset missing


@pytest.fixture(scope="module")
def phone(browser):  # noqa: F811
    return browser("en", phone=True)


@pytest.mark.parametrize("page", ["", "setup/zapier/", "configuration/"],
                         ids=["home", "zapier", "configuration"])
def test_phone_reads_the_site_without_sideways_scrolling(phone, live_docs, page):
    driver = phone
    driver.get(f"{live_docs.url}/docs/{page}")
    wait_for(driver, lambda d: d.execute_script("return document.readyState") == "complete")
    assert driver.find_element(By.CSS_SELECTOR, "article h1").is_displayed()
    assert no_sideways_scroll(driver)
    assert console_errors(driver) == []
    screenshot(driver, f"docs-{page.strip('/').replace('/', '-') or 'home'}-phone")
