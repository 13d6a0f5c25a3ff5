"""BRAND_NAME, BRAND_LOGO_URL, BRAND_CONTACT: checked once, shown (escaped) on every page a subscriber sees,
on the front page and in alert titles (tests/test_brand_alerts.py); the logo's origin is the one image source
the pages allow."""

import pytest

from delivery.alert_texts import branded
from delivery.notify import Message
from settings import load_settings
from tests.helpers import post

BRAND = {"BRAND_NAME": "Acme <b>&</b> Co", "BRAND_LOGO_URL": "https://cdn.acme.example/logo.png",
         "BRAND_CONTACT": "privacy@acme.example", "LINK_SECRETS": "s" * 40}
ESCAPED_NAME = "Acme &lt;b&gt;&amp;&lt;/b&gt; Co"


@pytest.mark.parametrize("env, kept, problem", [
    ({"BRAND_NAME": "Acme", "BRAND_LOGO_URL": "https://a.example/l.svg",
      "BRAND_CONTACT": "https://a.example/c"},
     ("Acme", "https://a.example/l.svg", "https://a.example/c"), None),
    ({"BRAND_NAME": "  Acme  ", "BRAND_CONTACT": "help@acme.example"}, ("Acme", "", "help@acme.example"),
     None),
    ({}, ("", "", ""), None),
    ({"BRAND_NAME": "A" * 81}, ("", "", ""), "BRAND_NAME must be one line of at most 80"),
    ({"BRAND_NAME": "Acme\nInjected: header"}, ("", "", ""), "BRAND_NAME must be one line"),
    ({"BRAND_LOGO_URL": "http://a.example/l.png"}, ("", "", ""), "BRAND_LOGO_URL must be an https://"),
    ({"BRAND_LOGO_URL": "javascript:alert(1)"}, ("", "", ""), "BRAND_LOGO_URL must be an https://"),
    ({"BRAND_LOGO_URL": "https://u:pw@a.example/l.png"}, ("", "", ""), "BRAND_LOGO_URL must be an https://"),
    ({"BRAND_LOGO_URL": "https:///l.png"}, ("", "", ""), "BRAND_LOGO_URL must be an https://"),
    ({"BRAND_CONTACT": "javascript:alert(1)"}, ("", "", ""), "BRAND_CONTACT must be an email address"),
    ({"BRAND_CONTACT": 'a"onmouseover=x@b.example'}, ("", "", ""), "BRAND_CONTACT must be an email address"),
    ({"BRAND_CONTACT": "not an address"}, ("", "", ""), "BRAND_CONTACT must be an email address"),
], ids=["all", "trimmed-mail", "none", "long-name", "two-lines", "http-logo", "script-logo", "logo-password",
        "logo-no-host", "script-contact", "quote-contact", "words-contact"])
def test_brand_settings(env, kept, problem):
    settings = load_settings(env)
    assert (settings.brand_name, settings.brand_logo_url, settings.brand_contact) == kept
    named = [p for p in settings.problems if "BRAND" in p]
    assert named == [] if problem is None else (len(named) == 1 and problem in named[0]), named


@pytest.mark.parametrize("brand, title", [
    ("", "unsub-relay: worker silent"),
    ("Acme & Co", "unsub-relay (Acme & Co): worker silent"),
], ids=["no-brand", "brand"])
def test_alert_titles_name_the_brand(brand, title):
    assert branded(Message("k", "unsub-relay: worker silent", "body"), brand).title == title


@pytest.fixture
def branded_app(make_app):
    return make_app(**BRAND)


def test_result_page_shows_the_brand_escaped_and_a_mailto_contact(branded_app):
    answer = post(branded_app.test_client(), "email=p%40example.com", kind="raw", token=None,
                  content_type="application/x-www-form-urlencoded", headers={"Accept": "text/html"})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 401 and "<b>&</b>" not in page  # no form key: a page, still branded
    assert f"<span>{ESCAPED_NAME}</span>" in page and f"· {ESCAPED_NAME}</title>" in page
    assert '<a href="mailto:privacy@acme.example">privacy@acme.example</a>' in page
    assert '<img src="https://cdn.acme.example/logo.png" alt="">' in page
    policy = answer.headers["Content-Security-Policy"]
    assert "img-src https://cdn.acme.example;" in policy and "default-src 'none'" in policy


def test_error_page_of_a_broken_link_is_branded(branded_app):
    answer = branded_app.test_client().get("/u/not-a-token", headers={"Accept-Language": "ru"})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400 and ESCAPED_NAME in page
    assert "Есть вопросы? Напишите нам:" in page


def test_pages_without_a_brand_load_no_image(make_app):
    answer = make_app(LINK_SECRETS="s" * 40).test_client().get("/u/not-a-token")
    page = answer.get_data(as_text=True)
    assert "<img" not in page and 'class="brand"' not in page and 'class="contact"' not in page
    assert "img-src" not in answer.headers["Content-Security-Policy"]


def test_front_page_shows_the_brand_and_allows_its_logo(branded_app):
    answer = branded_app.test_client().get("/")
    page = answer.get_data(as_text=True)
    assert ESCAPED_NAME in page and "<b>&</b>" not in page and "mailto:privacy@acme.example" in page
    assert answer.headers["Content-Security-Policy"].endswith("img-src 'self' https://cdn.acme.example")

