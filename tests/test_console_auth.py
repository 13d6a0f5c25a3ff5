"""The console's login lockout (per client, with backoff, in the ledger) and its sessions (kept in the ledger:
the cookie holds a random id; logout ends the session for every copy of the cookie)."""

import json
import zlib

import pytest
from itsdangerous import base64_decode

from store.sessions import lock_seconds
from tests.conftest import FakeClock, store_of
from tests.test_console import (CONSOLE, PASSWORD, accept, console_app, console_store_app,  # noqa: F401
                                csrf_of, log_in, operator, search)

COOKIE = "relay_console"


def attempt(client, password, addr):
    """One login POST from `addr`: (status, Retry-After as an int or None)."""
    answer = log_in(client, password, addr)
    retry = answer.headers.get("Retry-After")
    return answer.status_code, int(retry) if retry else None


@pytest.mark.parametrize("failures, seconds", [(1, 0), (4, 0), (5, 60), (6, 120), (7, 240), (10, 1920),
                                               (11, 3600), (10_000, 3600)],
                         ids=["first", "last free", "fifth", "sixth", "seventh", "tenth", "capped", "huge"])
def test_lock_seconds(failures, seconds):
    assert lock_seconds(failures) == seconds


@pytest.fixture
def clocked(console_store_app):
    clock = FakeClock()
    store_of(console_store_app).clock = clock
    return console_store_app, clock


def test_the_failing_client_is_locked_not_the_operator(clocked):
    """Client A fails 20 times: locked after 5, its correct password refused too while locked; client B logs
    in; each lock A sits out is followed by a longer one after its next failure (SQLite and PostgreSQL)."""
    app, clock = clocked
    client = app.test_client()
    answers = [attempt(client, "guess", "198.51.100.9") for _ in range(20)]
    assert [s for s, _ in answers] == [401] * 5 + [429] * 15
    assert all(0 < retry <= 60 for _, retry in answers[5:])
    assert attempt(client, PASSWORD, "198.51.100.9")[0] == 429  # a locked client's password is not checked
    assert attempt(app.test_client(), PASSWORD, "203.0.113.5") == (303, None)  # the operator elsewhere
    waits = []
    for _ in range(8):
        clock.advance(answers[-1][1])  # sit the lock out, then fail once more
        assert attempt(client, "guess", "198.51.100.9") == (401, None)
        answers.append(attempt(client, "guess", "198.51.100.9"))
        waits.append(answers[-1][1])
    assert waits == [120, 240, 480, 960, 1920, 3600, 3600, 3600]


@pytest.mark.parametrize("steps, last", [
    (["wrong"] * 4 + ["right"] + ["wrong"] * 5, 401),
    (["wrong"] * 4 + ["quiet"] + ["wrong"] * 5, 401),
    (["wrong"] * 4 + ["wait"] + ["wrong"] * 2, 429),
    (["wrong"] * 4 + ["other /64"] + ["wrong"] * 2, 401),
    (["wrong"] * 4 + ["same /64"] + ["wrong"] * 2, 429),
], ids=["success resets", "quiet day resets", "an hour is not quiet", "another /64", "same /64"])
def test_what_resets_the_count(console_app, steps, last):
    """The 5th wrong password in a row locks its client: which steps start the count again."""
    clock = FakeClock()
    store_of(console_app).clock = clock
    client, addr = console_app.test_client(), "2001:db8::1"
    for step in steps[:-1]:
        if step == "wrong":
            assert attempt(client, "guess", addr)[0] == 401
        elif step == "right":
            assert attempt(client, PASSWORD, addr)[0] == 303
        elif step == "quiet":
            clock.advance(24 * 3600 + 1)
        elif step == "wait":
            clock.advance(3600)
        else:
            addr = "2001:db8:0:1::1" if step == "other /64" else "2001:db8::ffff"
    assert attempt(client, "guess", addr)[0] == last


def test_the_lockout_holds_across_processes(make_app):
    """Two apps (two processes' worth of state) on one ledger: failures counted by one lock the other."""
    clock, (first, second) = FakeClock(), (make_app(**CONSOLE), make_app(**CONSOLE))
    store_of(first).clock = store_of(second).clock = clock
    for n in range(5):
        app = (first, second)[n % 2]
        assert attempt(app.test_client(), "guess", "192.0.2.50")[0] == 401
    assert attempt(first.test_client(), "guess", "192.0.2.50")[0] == 429
    assert attempt(second.test_client(), PASSWORD, "192.0.2.50")[0] == 429


def test_login_needs_no_rate_limit_storage(make_app):
    """The limiter's Redis is down: the login still works (the lockout is in the ledger)."""
    app = make_app(**CONSOLE, RATE_LIMIT_STORAGE_URI="redis://127.0.0.1:9/0")
    assert attempt(app.test_client(), PASSWORD, "192.0.2.60") == (303, None)


def cookie_of(client):
    return client.get_cookie(COOKIE, path="/console").value


def with_cookie(app, value):
    """A new browser holding a copy of a session cookie."""
    other = app.test_client()
    other.set_cookie(COOKIE, value, path="/console")
    return other


def test_logout_ends_every_copy_of_the_session(console_store_app):
    client = console_store_app.test_client()
    assert log_in(client).status_code == 303
    copied = cookie_of(client)
    assert with_cookie(console_store_app, copied).get("/console/").status_code == 200
    client.post("/console/logout", data={"csrf_token": csrf_of(client.get("/console/"))})
    replayed = with_cookie(console_store_app, copied).get("/console/")
    assert replayed.status_code == 303 and replayed.headers["Location"].startswith("/console/login")


@pytest.mark.parametrize("change, status", [
    ({}, 200),
    ({"clock": 12 * 3600 + 1}, 303),
    ({"CONSOLE_PASSWORD": "another long console password"}, 303),
], ids=["same", "expired", "password changed"])
def test_a_session_lives_in_the_ledger(make_app, change, status):
    clock = FakeClock()
    first = make_app(**CONSOLE)
    store_of(first).clock = clock
    client = first.test_client()
    assert log_in(client).status_code == 303
    second = make_app(**{**CONSOLE, **{k: v for k, v in change.items() if k != "clock"}})
    store_of(second).clock = clock
    clock.advance(change.get("clock", 0))
    assert with_cookie(second, cookie_of(client)).get("/console/").status_code == status


def decoded(value):
    """A Flask session cookie's payload, read as anyone holding the cookie can (no key needed)."""
    compressed = value.startswith(".")
    payload = base64_decode(value.lstrip(".").split(".")[0])
    return (zlib.decompress(payload) if compressed else payload).decode()


def test_the_cookie_holds_no_address(operator):
    address = "cookie.person@example.com"
    accept(operator, address)
    location = search(operator, address=address)
    page = operator.get(location)
    assert page.status_code == 200 and address in page.get_data(as_text=True)  # kept server-side
    content = json.loads(decoded(cookie_of(operator)))
    assert set(content) <= {"sid", "csrf_token", "_permanent", "_flashes"}
    assert "cookie.person" not in json.dumps(content) and "example.com" not in json.dumps(content)


def test_the_searched_address_ends_with_the_session(console_app):
    client = console_app.test_client()
    log_in(client)
    accept(client, "ends@example.com")
    location = search(client, address="ends@example.com")
    assert 'value="ends@example.com"' in client.get(location).get_data(as_text=True)
    client.post("/console/logout", data={"csrf_token": csrf_of(client.get("/console/"))})
    log_in(client)
    page = client.get(location).get_data(as_text=True)
    assert 'value="ends@example.com"' not in page  # a new session remembers no search
