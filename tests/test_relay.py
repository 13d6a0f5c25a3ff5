"""What the relay's wiring promises at the edge: a person's link answers every refusal with a page and a
sender's call with JSON (webhooks/errors.py), and each app counts its callers in its own limits."""

import os

import pytest
from flask import Flask
from werkzeug.exceptions import NotFound

import i18n
from errors import RateLimited, StoreUnavailable
from links.make import make_link
from links.tokens import LinkSigner
from settings import load_settings
from tests.conftest import TOKEN, relay_of
from webhooks.errors import ErrorAnswers, as_pages

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECRET = "link-secret-for-the-relay-tests-0123456789"
A = "anna@example.com"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


def link_app(make_app, **env):
    return make_app(LINK_SECRETS=SECRET, PUBLIC_URL="https://u.example.com", TRUSTED_PROXY_HOPS="0", **env)


def link_path(target=A):
    url = make_link(LinkSigner([SECRET]), "https://u.example.com", target, to="justclick")["url"]
    return "/u/" + url.rsplit("/u/", 1)[1]


def failing_app(error, page):
    """A bare app with the relay's error answers, and one view raising `error` (wrapped as a person's when
    `page`): the real templates and catalogues, no ledger."""
    app = Flask("relay_errors_test", root_path=ROOT)
    i18n.init_app(app)
    settings = load_settings({})
    ErrorAnswers(settings).register(app)

    def fail():
        raise error
    app.add_url_rule("/fail", "fail", as_pages(settings)(fail) if page else fail)
    return app


@pytest.mark.parametrize("page, mimetype", [(True, "text/html"), (False, "application/json")],
                         ids=["person", "sender"])
@pytest.mark.parametrize("error, status", [
    (StoreUnavailable("the disk is gone"), 503),
    (RateLimited("Too many requests.", retry_after=7), 429),
    (NotFound(), 404),
    (ValueError("a bug"), 500),
], ids=["ours", "rate-limited", "werkzeug", "unexpected"])
def test_an_error_is_a_page_for_a_person_and_json_for_a_sender(error, status, page, mimetype):
    answer = failing_app(error, page).test_client().get("/fail")
    assert answer.status_code == status and answer.mimetype == mimetype
    assert "Traceback" not in answer.get_data(as_text=True)


def test_over_the_limit_a_link_is_a_page_and_a_link_maker_json(make_app):
    app = link_app(make_app, PUBLIC_RATE_LIMIT="1 per minute", HOOK_RATE_LIMIT="1 per minute")
    client = app.test_client()
    assert client.get(link_path()).status_code == 200
    over = client.get(link_path())
    assert over.status_code == 429 and over.mimetype == "text/html" and int(over.headers["Retry-After"]) > 0
    made = [client.post("/links", json={"email": A}, headers=BEARER) for _ in range(2)]
    assert [m.status_code for m in made] == [200, 429] and made[1].json["status"] == "rate_limited"


def test_a_button_on_a_lost_ledger_gets_a_page(make_app, tmp_path, justclick):
    app = link_app(make_app)
    os.remove(tmp_path / "ledger.sqlite3")
    answer = app.test_client().post(link_path())  # a person's button: no one-click body
    assert answer.status_code == 503 and answer.mimetype == "text/html" and answer.headers["Retry-After"]
    assert justclick.requests == []


def test_each_app_counts_in_its_own_limits(make_app):
    first, second = (link_app(make_app, PUBLIC_RATE_LIMIT="1 per minute") for _ in range(2))
    assert relay_of(first).limits is not relay_of(second).limits
    codes = [app.test_client().get(link_path()).status_code for app in (first, first, second)]
    assert codes == [200, 429, 200]
