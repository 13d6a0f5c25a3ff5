"""The operator console through Flask's test client: off by default, login, CSRF, pages, paging, actions and
the operator log, and nothing secret or personal in the logs. The lockout and sessions are in
test_console_auth.py; bad query arguments, the worker's heartbeat and modes in test_console_pages.py; replay
in test_console_replay.py."""

import logging
import re
from datetime import date, datetime, timedelta

import pytest

from console import formats
from console.search import parse_cursor
from delivery.reports import day_series, outcome_table
from tests.conftest import FakeClock, relay_of, store_of
from tests.helpers import post

PASSWORD = "correct horse battery staple"
SECRET_KEY = "k" * 48
CONSOLE = {"CONSOLE_PASSWORD": PASSWORD, "SECRET_KEY": SECRET_KEY}


def csrf_of(page):
    return re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)


def log_in(client, password=PASSWORD, addr="10.0.0.1"):
    token = csrf_of(client.get("/console/login"))
    return client.post("/console/login", data={"password": password, "csrf_token": token},
                       environ_base={"REMOTE_ADDR": addr})


@pytest.fixture
def console_app(make_app):
    return make_app(**CONSOLE)


@pytest.fixture
def console_store_app(store_env):
    """A console app on each store in turn (SQLite, then PostgreSQL)."""
    from app import create_app
    app = create_app({**store_env, **CONSOLE})
    store_of(app).upgrade()
    yield app
    store_of(app).close()


@pytest.fixture
def operator(console_app):
    """A test client logged in to the console."""
    client = console_app.test_client()
    assert log_in(client).status_code == 303
    return client


def accept(client, email, route="justclick", queue_only=False):
    """Send one webhook (or only queue it for the worker) and return its delivery id."""
    headers = {"Prefer": "respond-async"} if queue_only else None
    answer = post(client, {"email": email}, route=route, headers=headers)
    assert answer.status_code in (200, 202), answer.get_json()
    return answer.get_json()["results"][0]["delivery_id"]


@pytest.mark.parametrize("env", [{}, {"CONSOLE_PASSWORD": PASSWORD}, {"SECRET_KEY": SECRET_KEY},
                                 {"CONSOLE_PASSWORD": "short", "SECRET_KEY": SECRET_KEY},
                                 {"CONSOLE_PASSWORD": PASSWORD, "SECRET_KEY": "short"}],
                         ids=["neither", "password only", "key only", "short password", "short key"])
def test_console_is_off_without_both_secrets(make_app, env):
    client = make_app(**env).test_client()
    for path in ("/console/", "/console/login", "/console/search", "/console/static/console.css"):
        assert client.get(path).status_code == 404
    assert client.post("/console/login", data={"password": PASSWORD}).status_code in (404, 405)


@pytest.mark.parametrize("path", ["/console/", "/console/search", "/console/log",
                                  "/console/deliveries/abcdef12",
                                  "/console/destinations/justclick/replay"],
                         ids=["overview", "search", "log", "delivery", "confirm"])
def test_pages_want_a_login(console_app, path):
    answer = console_app.test_client().get(path)
    assert answer.status_code == 303 and answer.headers["Location"].startswith("/console/login?next=")


def test_login_sets_a_hardened_cookie_and_logout_ends_it(console_app):
    client = console_app.test_client()
    answer = log_in(client)
    assert answer.status_code == 303 and answer.headers["Location"] == "/console/"
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie  # plain HTTP here; see the HTTPS test
    assert PASSWORD not in cookie
    assert client.get("/console/").status_code == 200
    token = csrf_of(client.get("/console/"))
    assert client.post("/console/logout", data={"csrf_token": token}).status_code == 303
    assert client.get("/console/").status_code == 303


@pytest.mark.parametrize("request_kwargs", [{"base_url": "https://relay.example"},
                                            {"headers": {"X-Forwarded-Proto": "https"}}],
                         ids=["https", "behind a proxy"])
def test_cookie_is_secure_over_https(console_app, request_kwargs):
    client = console_app.test_client()
    page = client.get("/console/login", **request_kwargs)
    answer = client.post("/console/login", data={"password": PASSWORD, "csrf_token": csrf_of(page)},
                         **request_kwargs)
    assert answer.status_code == 303 and "Secure" in answer.headers["Set-Cookie"]


@pytest.mark.parametrize("password", ["Hunter2-guess", "", PASSWORD + " ", PASSWORD.upper()],
                         ids=["wrong", "empty", "trailing space", "other case"])
def test_wrong_password_is_refused_and_logged_without_it(console_app, password, caplog):
    client = console_app.test_client()
    answer = log_in(client, password)
    assert answer.status_code == 401 and "Wrong password" in answer.get_data(as_text=True)
    assert client.get("/console/").status_code == 303
    for secret in (PASSWORD, PASSWORD.upper(), "Hunter2"):
        assert secret not in caplog.text


@pytest.mark.parametrize("path", ["/console/login", "/console/logout", "/console/search", "/console/check",
                                  "/console/destinations/justclick/replay"],
                         ids=["login", "logout", "search", "check", "replay destination"])
@pytest.mark.parametrize("token", [None, "forged-token"], ids=["missing", "forged"])
def test_posts_without_a_valid_csrf_token_are_refused(operator, path, token):
    data = {"password": PASSWORD} if token is None else {"password": PASSWORD, "csrf_token": token}
    answer = operator.post(path, data=data)
    assert answer.status_code == 400 and "CSRF" in answer.get_data(as_text=True)


def test_replay_needs_the_token_and_then_sends(operator, console_app, justclick):
    delivery_id = accept(operator, "replay.me@example.com")
    refused = operator.post(f"/console/deliveries/{delivery_id}/replay")
    assert refused.status_code == 400
    page = operator.get(f"/console/deliveries/{delivery_id}")
    assert page.status_code == 200 and "replay.me@example.com" in page.get_data(as_text=True)
    done = operator.post(f"/console/deliveries/{delivery_id}/replay", data={"csrf_token": csrf_of(page)})
    assert done.status_code == 303
    shown = relay_of(console_app).operations.show(delivery_id)
    assert [a["sender"] for a in shown["attempt_history"]] == ["web", "replay"]
    log_page = operator.get("/console/log").get_data(as_text=True)
    assert delivery_id in log_page and "replay" in log_page


@pytest.mark.parametrize("bad", ["zzzzzz", "abc", "a" * 33, "../etc"],
                         ids=["not hex", "short", "long", "path"])
def test_unknown_delivery_ids_are_404_pages(operator, bad):
    answer = operator.get(f"/console/deliveries/{bad}")
    assert answer.status_code == 404


def search(client, **fields):
    page = client.get("/console/search")
    answer = client.post("/console/search", data={"csrf_token": csrf_of(page), **fields})
    assert answer.status_code == 303, answer.get_data(as_text=True)
    assert "@" not in answer.headers["Location"]  # the address never goes in a URL
    return answer.headers["Location"]


def ids_on(page):
    return re.findall(r'/console/deliveries/([0-9a-f]{32})"', page.get_data(as_text=True))


@pytest.mark.parametrize("query, match, expected", [
    ("Ann@Example.com", "exact", ["ann@example.com"]),
    ("ann@", "prefix", ["ann@example.com", "ann@example.org"]),
    ("an", "exact", []),
    ("an_", "prefix", []),  # _ is a literal, not a wildcard
    ("%", "prefix", []),
], ids=["exact any case", "prefix", "exact is exact", "underscore literal", "percent literal"])
def test_search_by_address(operator, query, match, expected):
    for email in ("ann@example.com", "ann@example.org", "bob@example.com"):
        accept(operator, email)
    page = operator.get(search(operator, address=query, match=match))
    text = page.get_data(as_text=True)
    emails = ("ann@example.com", "ann@example.org", "bob@example.com")
    assert sorted(e for e in emails if e in text) == expected


def test_search_pages_through_every_row_once(operator, console_app):
    clock = FakeClock()
    store_of(console_app).clock = clock
    for n in range(120):
        clock.advance(1 if n % 3 else 0)  # some share a timestamp: the id breaks the tie
        accept(operator, f"page{n:03d}@example.com", queue_only=True)
    seen, url, pages = [], search(operator, address="page", match="prefix"), 0
    while url:
        page = operator.get(url)
        assert page.status_code == 200
        seen.extend(ids_on(page))
        found = re.search(r'href="([^"]+)" rel="next"', page.get_data(as_text=True))
        url = found.group(1).replace("&amp;", "&") if found else None
        pages += 1
    assert pages == 3 and len(seen) == 120 and len(set(seen)) == 120
    back = re.search(r'href="([^"]+)" rel="prev"', page.get_data(as_text=True)).group(1).replace("&amp;", "&")
    assert ids_on(operator.get(back)) == seen[50:100]


@pytest.mark.parametrize("args", ["older=nonsense", "newer=2026-01-01~../x", "since=2026-13-40",
                                  "status=lost",
                                  "destination=nowhere"],
                         ids=["cursor", "cursor id", "date", "status", "destination"])
def test_bad_search_arguments_are_400_pages(operator, args):
    answer = operator.get(f"/console/search?{args}")
    assert answer.status_code == 400 and "<html" in answer.get_data(as_text=True)


def test_search_by_status_destination_and_dates(operator):
    accept(operator, "one@example.com")
    accept(operator, "two@example.com", route="mailkit")
    today = date.today().isoformat()
    assert len(ids_on(operator.get(f"/console/search?destination=mailkit&since={today}"))) == 1
    assert len(ids_on(operator.get(f"/console/search?status=done&until={today}"))) == 2
    assert ids_on(operator.get("/console/search?since=2000-01-01&until=2000-01-02")) == []


def test_overview_shows_counts_chart_backlog_and_failures(operator, console_app, justclick):
    accept(operator, "ok@example.com")
    justclick.groups.clear()  # the group is gone: JustClick refuses, the row fails
    post(operator, {"email": "gone@example.com"}, route="justclick")
    page = operator.get("/console/")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "<svg" in text and "<script" not in text
    assert "Last 24 hours" in text and "Failures by destination" in text
    assert "<code>800</code>" in text and "/console/destinations/justclick/replay" in text  # group not found
    assert page.headers["Cache-Control"] == "no-store"
    assert "script-src" not in page.headers["Content-Security-Policy"]


def test_replay_a_destination_after_confirmation(operator, console_app, justclick):
    justclick.groups.clear()
    for n in range(3):
        post(operator, {"email": f"f{n}@example.com"}, route="justclick")
    confirm = operator.get("/console/destinations/justclick/replay")
    assert "<strong>3</strong>" in confirm.get_data(as_text=True)
    justclick.groups["Main"] = set()
    done = operator.post("/console/destinations/justclick/replay",
                         data={"csrf_token": csrf_of(confirm), "expected": "3"})
    assert done.status_code == 303
    rows = relay_of(console_app).operations.find(status="pending")
    assert len(rows) == 3
    assert "3 made due again" in operator.get("/console/log").get_data(as_text=True)


def test_online_check_is_logged(operator):
    page = operator.get("/console/")
    answer = operator.post("/console/check", data={"csrf_token": csrf_of(page)})
    assert answer.status_code == 303
    text = operator.get(answer.headers["Location"]).get_data(as_text=True)
    assert "online check" in text and "justclick" in text


def test_no_secret_or_address_in_the_logs(console_app, caplog, justclick):
    caplog.set_level(logging.DEBUG)
    client = console_app.test_client()
    log_in(client, "not-the-password-123")
    log_in(client)
    delivery_id = accept(client, "private.person@example.com")
    search(client, address="private.person@example.com")
    page = client.get(f"/console/deliveries/{delivery_id}")
    client.post(f"/console/deliveries/{delivery_id}/replay", data={"csrf_token": csrf_of(page)})
    for secret in (PASSWORD, SECRET_KEY, "not-the-password-123", "private.person@example.com",
                   justclick.secret):
        assert secret not in caplog.text


@pytest.mark.parametrize("text, expected", [
    ("2026-01-02T03:04:05~" + "a" * 32, (datetime(2026, 1, 2, 3, 4, 5), "a" * 32)),
    ("2026-01-02T03:04:05", None), ("x~abc", None), ("2026-01-02T03:04:05~a/b", None),
    ("2026-01-02T03:04:05~" + "a" * 33, None), ("", None),
], ids=["good", "no id", "bad time", "bad id", "long id", "empty"])
def test_parse_cursor(text, expected):
    assert parse_cursor(text) == expected


@pytest.mark.parametrize("seconds, expected", [(0, "0 s"), (89, "89 s"), (90, "2 min"), (5400, "1.5 h"),
                                               (172800, "2.0 days"), (-5, "0 s")],
                         ids=["zero", "seconds", "minutes", "hours", "days", "negative"])
def test_age(seconds, expected):
    from edge.formats import age
    assert age(seconds) == expected


@pytest.mark.parametrize("age, expected", [
    (0, {"width": 0.0, "alert_x": 150.0, "level": "ok", "percent": 0}),
    (6 * 3600, {"width": 75.0, "alert_x": 150.0, "level": "warn", "percent": 12}),
    (12 * 3600, {"width": 150.0, "alert_x": 150.0, "level": "bad", "percent": 25}),
    (96 * 3600, {"width": 600.0, "alert_x": 150.0, "level": "bad", "percent": 100}),
], ids=["empty", "half the alert", "at the alert", "past the limit"])
def test_gauge(age, expected):
    assert formats.gauge(age, 12 * 3600, 48 * 3600) == expected


@pytest.mark.parametrize("series, heights", [
    ([("d1", {"done": 0, "failed": 0, "pending": 0})], [[]]),
    ([("d1", {"done": 10, "failed": 0, "pending": 0}), ("d2", {"done": 5, "failed": 5, "pending": 0})],
     [[("done", 160.0)], [("done", 80.0), ("failed", 80.0)]]),
    ([("d1", {"done": 1000, "failed": 1, "pending": 0})], [[("done", 159.8), ("failed", 1.0)]]),
], ids=["empty", "stacked", "tiny share stays visible"])
def test_bars(series, heights):
    _, bars = formats.bars(series)
    assert [[(state, h) for state, _, h in bar["parts"]] for bar in bars] == heights


def test_tables_of_counts():
    assert outcome_table([("justclick", "done", "unsubscribed", 3), ("justclick", "pending", None, 2),
                          ("mailkit", "failed", "rejected", 1)]) == {
        "justclick": {"unsubscribed": 3, "pending": 2, "total": 5}, "mailkit": {"rejected": 1, "total": 1}}
    series = day_series([("2026-01-03", "done", 2), ("2026-01-03", "failed", 1)], date(2026, 1, 3), days=2)
    assert series == [("2026-01-02", {"done": 0, "failed": 0, "pending": 0}),
                      ("2026-01-03", {"done": 2, "failed": 1, "pending": 0})]


def test_reports_on_each_store(store_app, clock):
    """The aggregates, search and log on SQLite and PostgreSQL (their day grouping differs), as datetimes."""
    from delivery.reports import Reports
    reports = Reports(relay_of(store_app).service)
    with store_of(store_app).writer.writing() as conn:
        conn.exec_driver_sql("DELETE FROM operator_log")
    client = store_app.test_client()
    for n in range(3):
        accept(client, f"s{n}@example.com")
        clock.advance(86400)
    overview = reports.overview()
    assert overview["month"]["justclick"]["total"] == 3
    assert sum(c["done"] for _, c in overview["series"]) == 3
    rows, more = reports.search({"address": "S1@EXAMPLE.COM"})
    assert [r["target"] for r in rows] == ["s1@example.com"] and not more
    assert isinstance(rows[0]["created_at"], datetime)
    first = reports.record("replay", "x", "ok")
    assert reports.log_page()[0][0]["id"] == first
    oldest = min(e["at"] for e in reports.log_page()[0])
    assert timedelta(0) <= clock() - oldest
