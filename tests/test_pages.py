"""The public pages without a browser: language choice, statuses, security headers, catalogues."""

import base64
import hashlib
import re

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

import i18n
from links.make import make_link
from pages import page_headers, render_page
from tests.helpers import post
from tests.pages_app import make_pages_app

A = "person@example.com"
HEADINGS = {"en": "This link is not valid", "ru": "Ссылка недействительна", "cs": "Tento odkaz není platný"}


@pytest.fixture
def pages_app(tmp_path):
    app, signer = make_pages_app(tmp_path)
    app.extensions["signer"] = signer
    return app


def token_for(app, target=A):
    return make_link(app.extensions["signer"], "http://localhost", target)["url"].rsplit("/", 1)[1]


def heading(response):
    return re.search(r"<h1>(.*?)</h1>", response.get_data(as_text=True)).group(1)


@pytest.mark.parametrize("accept, default, locale", [
    ("ru-RU,ru;q=0.9,en-US;q=0.8,en;q=0.7", "en", "ru"),
    ("cs", "en", "cs"),
    ("cs-CZ", "en", "cs"),
    ("de-DE, cs;q=0.5", "en", "cs"),
    ("en;q=0.1, ru;q=0.9", "en", "ru"),
    ("ru;q=0, cs;q=0.2", "en", "cs"),
    ("de", "en", "en"),
    ("de", "cs", "cs"),
    ("", "ru", "ru"),
    (None, "cs", "cs"),
    ("*", "ru", "en"),
    (";;q=x,,ř-💥", "ru", "ru"),
    ("x" * 5000, "en", "en"),
], ids=["russian-browser", "czech", "czech-region", "second-choice", "by-quality", "zero-quality-refused",
        "unknown-language", "unknown-with-default", "empty", "absent", "star-is-english", "garbage", "huge"])
def test_language_from_accept_language_with_default_fallback(tmp_path, accept, default, locale):
    app, _ = make_pages_app(tmp_path, default_locale=default)
    headers = {"Accept-Language": accept} if accept is not None else {}
    response = app.test_client().get("/error/invalid_link", headers=headers)
    assert response.status_code == 400 and response.headers["Content-Language"] == locale
    assert heading(response) == HEADINGS[locale]
    assert f'<html lang="{locale}">' in response.get_data(as_text=True)


def test_default_locale_is_read_from_the_environment_in_the_test_app(tmp_path, monkeypatch):
    monkeypatch.setenv("DEFAULT_LOCALE", "cs")
    app, _ = make_pages_app(tmp_path)
    response = app.test_client().get("/error/invalid_link", headers={"Accept-Language": "fr"})
    assert heading(response) == HEADINGS["cs"]


@pytest.mark.parametrize("value", ["de", "EN", "ru_RU", " "],
                         ids=["unsupported", "upper-case", "region", "blank"])
def test_an_unsupported_default_locale_is_refused_at_start(tmp_path, value):
    with pytest.raises(ValueError, match="DEFAULT_LOCALE must be one of en, ru, cs"):
        make_pages_app(tmp_path, default_locale=value)


@pytest.mark.parametrize("method, path, status", [
    ("get", "/u/{token}", 200), ("post", "/u/{token}", 200), ("get", "/u/{token}x", 400),
    ("post", "/u/{token}x", 400), ("get", "/u/", 404), ("get", "/failed", 422),
    ("get", "/error/invalid_link", 400), ("get", "/error/bot_check", 403),
    ("get", "/error/rate_limited", 429),
    ("get", "/error/anything", 503),
], ids=["confirm", "unsubscribe", "tampered-get", "tampered-post", "no-token", "failed-result",
        "invalid-link",
        "bot-check", "rate-limited", "generic"])
def test_every_page_has_its_status_and_the_security_headers(pages_app, method, path, status):
    response = getattr(pages_app.test_client(), method)(path.format(token=token_for(pages_app)))
    assert response.status_code == status
    if status == 404:
        return  # Flask's own 404, not one of our pages
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src" not in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy and "form-action 'self'" in policy
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Accept-Language" in response.headers["Vary"]
    html = response.get_data(as_text=True)
    assert "<script" not in html.lower() and not re.search(r"\son\w+=", html)  # no script, no handlers
    style = re.search(r"<style>(.*?)</style>", html, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in policy  # the inline style is the one the policy allows


def test_rate_limited_page_keeps_the_callers_headers(pages_app):
    assert pages_app.test_client().get("/error/rate_limited").headers["Retry-After"] == "60"


def test_the_confirm_page_shows_only_the_masked_address_and_a_post_form_without_action(pages_app):
    html = pages_app.test_client().get(f"/u/{token_for(pages_app, A)}").get_data(as_text=True)
    assert '<span class="target">p***@e***.com</span>' in html and A not in html
    assert re.search(r'<form method="post">\s*<button type="submit">Unsubscribe</button>\s*</form>', html)


def test_the_masked_address_is_escaped(pages_app):
    with pages_app.test_request_context():
        html = render_page("confirm.html", masked="<b>x</b>").get_data(as_text=True)
    assert '<span class="target">&lt;b&gt;x&lt;/b&gt;</span>' in html


@pytest.mark.parametrize("urls, form_action", [
    ((), "form-action 'self';"),
    ((None, ""), "form-action 'self';"),
    (("https://shop.example.com/bye?x=1",), "form-action 'self' https://shop.example.com;"),
    (("https://b.example/x", "http://a.example:8080/y", "https://b.example/z"),
     "form-action 'self' http://a.example:8080 https://b.example;"),
    (("javascript:alert(1)", "/relative", "shop.example.com"), "form-action 'self';"),
], ids=["none", "unset", "success-url", "several", "not-origins"])
def test_form_action_allows_the_configured_redirect_origins(urls, form_action):
    assert form_action in page_headers(urls)["Content-Security-Policy"]


def extracted_msgids():
    return {message[2] for message in extract_from_dir(i18n.SOURCE_DIR.parent / "templates",
                                                        [("**.html", "jinja2")])}


@pytest.mark.parametrize("locale", ["ru", "cs"])
def test_catalogue_translates_every_message_of_the_templates(locale):
    with (i18n.SOURCE_DIR / locale / "LC_MESSAGES" / "messages.po").open("rb") as po_file:
        catalog = read_po(po_file, locale=locale)
    messages = {message.id: message for message in catalog if message.id}
    assert set(messages) == extracted_msgids()  # nothing missing, nothing obsolete
    for message in messages.values():
        assert message.string and not message.fuzzy, message.id
        assert re.findall(r"%\(\w+\)s", message.string) == re.findall(r"%\(\w+\)s", message.id), message.id
    assert [problem for problem in catalog.check()] == []


def test_catalogues_are_compiled_once_and_rewritten_when_stale(tmp_path):
    assert i18n.compile_catalogues(i18n.SOURCE_DIR, tmp_path) == ["cs", "ru"]
    assert i18n.compile_catalogues(i18n.SOURCE_DIR, tmp_path) == []
    stale = tmp_path / "ru" / "LC_MESSAGES" / "messages.mo"
    stale.write_bytes(stale.read_bytes()[:-10])
    assert i18n.compile_catalogues(i18n.SOURCE_DIR, tmp_path) == ["ru"]
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["messages.mo", "messages.mo"]


BROWSER = {"Accept": "text/html", "Accept-Language": "ru-RU,ru;q=0.9"}


@pytest.mark.parametrize("fields, status, text", [
    ({"email": A}, 200, "Вы отписались от рассылки"),
    ({"email": "broken"}, 422, "Не удалось отписаться"),
], ids=["unsubscribed", "invalid"])
def test_the_services_own_result_page_speaks_russian(client, justclick, fields, status, text):
    justclick.subscribe(A, "Main")
    response = post(client, fields, "form", route="justclick", headers=BROWSER)
    assert response.status_code == status and f"<h1>{text}</h1>" in response.get_data(as_text=True)
