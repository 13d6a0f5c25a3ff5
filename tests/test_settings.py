"""Settings read once from the environment: defaults, schemes, malformed values, no secret in repr."""

import json

import pytest

from settings import load_settings
from tests.conftest import relay_of

SECRETS = {"JUSTCLICK_SECRET": "jc-s3cret", "MAILKIT_CLIENT_MD5": "mk-s3cret", "WEBHOOK_TOKENS": "t0k3n",
           "WEBHOOK_SECRET": "whsec_c2VjcmV0", "TYPEFORM_SECRET": "tf-s3cret", "TALLY_SECRET": "ta-s3cret"}


@pytest.mark.parametrize("env, vendor, expected", [
    ({}, "justclick", "https://.justclick.ru/api/"),
    ({"JUSTCLICK_LOGIN": "acme"}, "justclick", "https://acme.justclick.ru/api/"),
    ({"MAILKIT_TRANSPORT": "XMLRPC"}, "mailkit", "https://api.mailkit.eu/rpc.fcgi"),
    ({}, "mailkit", "https://api.mailkit.eu/json.fcgi"),
], ids=["jc-default", "jc-login", "mk-xmlrpc", "mk-json"])
def test_vendor_urls(env, vendor, expected):
    assert load_settings(env, "inst").vendor(vendor).url == expected


@pytest.mark.parametrize("env, attr, expected", [
    ({"DATABASE_URL": "postgres://u:p@db:5432/x"}, "database_url", "postgresql+psycopg://u:p@db:5432/x"),
    ({"DATABASE_URL": "postgresql://u@db/x"}, "database_url", "postgresql+psycopg://u@db/x"),
    ({}, "database_url", "sqlite:///inst/unsub-relay.sqlite3"),
    ({"WEBHOOK_TOKENS": " a, b  c ,"}, "webhook_tokens", ("a", "b", "c")),
    ({"WEBHOOK_SECRET": "whsec_a whsec_b"}, "webhook_secret", ("whsec_a", "whsec_b")),
    ({"ALLOWED_REDIRECT_HOSTS": "Shop.Example.com,x.io"}, "allowed_redirect_hosts", ("shop.example.com", "x.io")),
    ({"UPSTREAM_TIMEOUT": "2.5"}, "upstream_timeout", 2.5),
    ({"UPSTREAM_TIMEOUT": "99"}, "upstream_timeout", 10.0),
    ({}, "body_timeout_seconds", 10.0),
    ({"BODY_TIMEOUT_SECONDS": "3"}, "body_timeout_seconds", 3.0),
    ({"BODY_TIMEOUT_SECONDS": "0.5"}, "body_timeout_seconds", 0.5),
    ({"BODY_TIMEOUT_SECONDS": "0"}, "body_timeout_seconds", 10.0),
    ({"BODY_TIMEOUT_SECONDS": "600"}, "body_timeout_seconds", 10.0),
    ({"BODY_TIMEOUT_SECONDS": "soon"}, "body_timeout_seconds", 10.0),
    ({"RATE_LIMIT_STORAGE_URI": "rediss://r:6380/0"}, "rate_limit_storage_uri", "rediss://r:6380/0"),
    ({"RATE_LIMIT_STORAGE_URI": "memcached://m:11211"}, "rate_limit_storage_uri", "memory://"),
])
def test_values(env, attr, expected):
    assert getattr(load_settings(env, "inst"), attr) == expected


@pytest.mark.parametrize("env, problem", [
    ({"UPSTREAM_TIMEOUT": "99"}, "UPSTREAM_TIMEOUT"),
    ({"WORKER_CONCURRENCY": "many"}, "WORKER_CONCURRENCY"),
    ({"WEBHOOK_SECRET": "plain"}, "WEBHOOK_SECRET"),
    ({"UNSUBSCRIBE_SUCCESS_URL": "javascript:alert(1)"}, "UNSUBSCRIBE_SUCCESS_URL"),
    ({"PENDING_ALERT_SECONDS": "90000"}, "PENDING_ALERT_SECONDS"),
    ({"BODY_TIMEOUT_SECONDS": "600"}, "BODY_TIMEOUT_SECONDS"),
])
def test_problems_are_named(env, problem):
    assert any(problem in p for p in load_settings(env, "inst").problems)


def test_no_secret_in_repr():
    text = repr(load_settings(SECRETS, "inst"))
    for value in SECRETS.values():
        assert value not in text
    assert sorted(load_settings(SECRETS, "inst").secrets) == sorted(
        ["jc-s3cret", "mk-s3cret", "t0k3n", "whsec_c2VjcmV0", "tf-s3cret", "ta-s3cret"])


def test_log_handlers_scrub_secrets_from_messages_and_tracebacks():
    import logging

    from edge.logs import ScrubSecrets

    scrubber = ScrubSecrets(load_settings(SECRETS, "inst").secrets)
    try:
        raise ValueError("upstream said jc-s3cret")
    except ValueError:
        import sys
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "token %s and %s", ("t0k3n", "ok"),
                                   sys.exc_info())
    assert scrubber.filter(record)
    text = logging.Formatter().format(record)
    assert "t0k3n" not in text and "jc-s3cret" not in text and "token *** and ok" in text


def test_create_app_puts_the_scrubber_on_every_root_handler(env):
    import logging

    from app import create_app
    from edge.logs import ScrubSecrets

    app = create_app({**env, **SECRETS})
    handlers = logging.getLogger().handlers
    assert handlers and all(any(isinstance(f, ScrubSecrets) for f in h.filters) for h in handlers)
    relay_of(app).service.store.close()


GOOD_SECRET = "a-link-secret-of-forty-characters-000001"


@pytest.mark.parametrize("value, needles", [
    ("short-link-secret", ("LINK_SECRETS is too short", "secret #1 has 17 characters", "at least 32")),
    (f"short-link-secret {GOOD_SECRET}", ("LINK_SECRETS is too short", "secret #1 has 17 characters",
                                          "no new link is made")),
    ("ж" * 40, ("secret #1 must be printable ASCII",)),
], ids=["short", "new-one-short", "non-ascii"])
def test_a_refused_link_secret_is_named_once_in_flask_check_and_post_links(make_app, value, needles):
    """One message saying what is wrong (never 'set LINK_SECRETS' as if unset, never the name twice),
    the same in `flask check`, `flask links make` and POST /links's answer; the secret itself is never shown."""
    from tests.helpers import TOKEN

    app = make_app(LINK_SECRETS=value, PUBLIC_URL="https://u.example.com")
    checked = app.test_cli_runner().invoke(args=["check"])
    [problem] = [p for p in json.loads(checked.output)["problems"] if "LINK_SECRETS" in p]
    answer = app.test_client().post("/links", json={"email": "a@example.com"},
                                    headers={"Authorization": f"Bearer {TOKEN}"})
    made = app.test_cli_runner().invoke(args=["links", "make", "a@example.com"])
    assert checked.exit_code == 1 and (answer.status_code, answer.json["message"]) == (503, problem)
    assert made.exit_code != 0 and json.loads(made.output)["errors"]["settings"] == [problem]
    assert problem.count("LINK_SECRETS") == 1 and "set LINK_SECRETS" not in problem
    assert all(needle in problem for needle in needles), problem
    assert "short-link-secret" not in checked.output + answer.get_data(as_text=True)


@pytest.mark.parametrize("value, makes", [
    (f"short-link-secret {GOOD_SECRET}", False),  # the new signing secret mistyped in a rotation
    (f"{GOOD_SECRET[::-1]} short-link-secret {GOOD_SECRET}", True),  # an old one mistyped
], ids=["signing-one-refused", "old-one-refused"])
def test_one_refused_secret_leaves_the_links_already_mailed_working(make_app, justclick, value, makes):
    """A typo in one secret of a rotation: links signed with the others still unsubscribe; new links are made
    only with the first secret, so none while that one is refused; the problem is reported."""
    from links.make import make_link
    from links.tokens import LinkSigner
    from tests.conftest import make_worker
    from tests.helpers import TOKEN

    app = make_app(LINK_SECRETS=value, PUBLIC_URL="https://u.example.com")
    justclick.subscribe("mailed@example.com", "Main")
    mailed = make_link(LinkSigner([GOOD_SECRET]), "https://u.example.com", "mailed@example.com", to="justclick")
    client = app.test_client()
    clicked = client.post(mailed["url"].removeprefix("https://u.example.com"),
                          data={"List-Unsubscribe": "One-Click"})
    made = client.post("/links", json={"email": "new@example.com"}, headers={"Authorization": f"Bearer {TOKEN}"})
    ready = client.get("/readyz")
    make_worker(app).drain()  # a one-click is queued for the worker: the mailbox provider is not kept waiting
    assert clicked.status_code == 200 and "mailed@example.com" not in justclick.groups["Main"]
    assert made.status_code == (200 if makes else 503)
    assert ready.status_code == 503 and any("LINK_SECRETS" in p for p in ready.json["problems"])
