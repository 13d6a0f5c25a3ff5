"""A webhook over the destination's rate waits for its turn (up to RATE_WAIT_SECONDS) and is answered with the
vendor's verified result; only past the bound, or with the breaker open, is it queued. Time is the store's
injected clock: the service's sleep moves it, and the fake vendor's receive times are read from it."""

import multiprocessing
from collections import Counter

import pytest
from sqlalchemy import select

from schemas.shapes import Delivery
from store.models import DELIVERIES
from tests.conftest import TRUNCATE_ALL, FakeClock, relay_of, store_of
from tests.helpers import post

RATE = 10


def within_rate(times, rate, capacity):
    """True when no run of sends goes faster than the bucket allows: n sends spanning s seconds number at
    most the bucket's capacity plus rate x s (its own tolerance: one second's worth at once, plus one)."""
    times = sorted(times)
    return all(j - i + 1 <= capacity + rate * (times[j] - times[i]).total_seconds() + 1e-6
               for i in range(len(times)) for j in range(i + 1, len(times)))


def webhook(n):
    """The n-th request of a burst: mostly plain opt-outs, some the vendor refuses (unknown group: 422) and
    some whose answer fails verification (a bad signature: 502)."""
    email = f"burst{n}@example.com"
    if n % 7 == 3:
        return {"email": email, "group": "NoSuchGroup"}, 422, None
    if n % 11 == 5:
        return {"email": email}, 502, "bad_hash"
    return {"email": email}, 200, None


def on_clock(app, justclick, clock, sleep):
    """Put the app's store on `clock` and its waits on `sleep`; the vendor's receive times, as they come."""
    store_of(app).clock = clock
    relay_of(app).service.sleep = sleep
    received = []
    justclick.on_request = lambda body: received.append(clock())
    return received


def burst(app, justclick, clock, count, sleep):
    """Send `count` webhooks one after another; their (expected, got) codes and the vendor's receive times."""
    received = on_clock(app, justclick, clock, sleep)
    client, codes = app.test_client(), []
    for n in range(count):
        body, expected, script = webhook(n)
        justclick.subscribe(body["email"], "Main")
        if script:
            justclick.script[body["email"]] = script
        codes.append((expected, post(client, body, route="justclick").status_code))
    return codes, received


@pytest.fixture
def rated(make_app, store_env):
    def build(**overrides):
        return make_app(DATABASE_URL=store_env["DATABASE_URL"], JUSTCLICK_MAX_RATE=str(RATE), **overrides)
    return build


def test_a_burst_waits_for_its_turns_and_gets_the_verified_answers(rated, justclick):
    clock = FakeClock()
    codes, received = burst(rated(), justclick, clock, 30, clock.advance)
    assert [got for _, got in codes] == [expected for expected, _ in codes]  # never 202
    assert Counter(got for _, got in codes)[202] == 0 and len(received) == 30
    assert within_rate(received, RATE, capacity=RATE + 1)
    # After the first second's worth, one send per 1/RATE seconds: the turns were reserved, not skipped.
    assert (received[-1] - received[0]).total_seconds() == pytest.approx((30 - RATE) / RATE)


@pytest.mark.parametrize("bound, sent, queued, waits", [
    ("0", RATE, 30 - RATE, []),
    ("1", 2 * RATE, 30 - 2 * RATE, [round(0.1 * k, 3) for k in range(1, RATE + 1)]),
    ("20", 30, 0, [round(0.1 * k, 3) for k in range(1, 30 - RATE + 1)]),
], ids=["bound-0-queues-as-before", "past-the-bound-queued", "all-within-the-bound"])
def test_the_bound_decides_who_waits(rated, justclick, bound, sent, queued, waits):
    """The clock stands still (sleeps are only noted), so each turn lies 1/RATE further out; those past the
    bound are queued for the worker, unsent."""
    clock, slept = FakeClock(), []
    codes, received = burst(rated(RATE_WAIT_SECONDS=bound), justclick, clock, 30,
                            lambda seconds: slept.append(round(seconds, 3)))
    got = Counter(code for _, code in codes)
    assert (got[202], len(received)) == (queued, sent)
    assert slept == waits
    assert all(code == expected for expected, code in codes if code != 202)


def test_an_open_breaker_queues_at_once_without_waiting(rated, justclick):
    clock, slept = FakeClock(), []
    app = rated(BREAKER_FAILURES="1")
    received = on_clock(app, justclick, clock, slept.append)
    client = app.test_client()
    justclick.script["down@example.com"] = "500"
    assert post(client, {"email": "down@example.com"}, route="justclick").status_code == 202  # opens it
    answers = [post(client, {"email": f"later{n}@example.com"}, route="justclick") for n in range(RATE + 5)]
    assert [a.status_code for a in answers] == [202] * (RATE + 5)
    assert "failing since" in answers[-1].json["results"][0]["message"]
    assert len(received) == 1 and slept == []  # nobody waited for a turn the breaker would not give


def _accept_many(args):
    """In a child process: accept `count` deliveries to be sent at once, as a web process does."""
    url, count, tag = args
    from settings import load_settings
    from store import Store
    store = Store(load_settings({"DATABASE_URL": url, "JUSTCLICK_MAX_RATE": str(RATE),
                                 "RATE_WAIT_SECONDS": "20"}))
    try:
        for n in range(count):
            email = f"{tag}{n}@example.com"
            payload = {"lead_email": email, "rass_name": "Main"}
            plan = Delivery("justclick", email, payload, "Main")
            store.ledger.accept([plan], lease_owner=f"web-{tag}")
    finally:
        store.close()


@pytest.mark.postgres
def test_two_processes_share_one_rate_on_postgres(pg_database):
    """Each process reserves turns in the one gate row, inside its accept transaction: together they never
    go faster than the rate, and nobody is queued while a turn within the bound exists."""
    import psycopg
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(TRUNCATE_ALL)
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.map(_accept_many, [(pg_database, 25, "p"), (pg_database, 25, "q")])
    from sqlalchemy import create_engine
    engine = create_engine(pg_database.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        rows = conn.execute(select(DELIVERIES.c.next_attempt_at, DELIVERIES.c.lease_owner)).all()
    engine.dispose()
    assert len(rows) == 50 and all(owner for _, owner in rows)  # every one sent by its web process
    assert within_rate([turn for turn, _ in rows], RATE, capacity=RATE + 1)


@pytest.mark.parametrize("wait, timeout, effective, problem", [
    ("10", "10", 10.0, False), ("20", "5", 20.0, False), ("20", "10", 15.0, True), ("15", "25", 0.0, True),
    ("", "", 10.0, False),
], ids=["defaults-fit", "long-wait-short-call", "clamped", "no-room-left", "unset"])
def test_the_wait_and_one_call_answer_before_zapier_gives_up(wait, timeout, effective, problem):
    """RATE_WAIT_SECONDS plus UPSTREAM_TIMEOUT never pass 25 s: the answer comes before the sender's 30 s."""
    from settings import load_settings
    settings = load_settings({"RATE_WAIT_SECONDS": wait, "UPSTREAM_TIMEOUT": timeout})
    assert settings.rate_wait_seconds == effective
    assert any("RATE_WAIT_SECONDS" in p for p in settings.problems) == problem
