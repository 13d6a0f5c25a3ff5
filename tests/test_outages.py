"""A vendor down for an hour and back, against the fakes with time injected: a trickle of probes while it is
down, nothing dead-lettered early, then the backlog drained once each at the destination's rate."""

import signal
import time
from collections import Counter

import pytest
from sqlalchemy import func, select

from schemas.shapes import Delivery
from store.models import DELIVERIES
from tests.conftest import TRUNCATE_ALL, TOKEN, FakeClock, make_worker, store_of
from tests.helpers import post
from tests.procs import spawn, wait_for

RATE = 50


def queue(app, emails):
    """Queue deliveries as `Prefer: respond-async` webhooks would, in bulk."""
    ledger = store_of(app).ledger
    for start in range(0, len(emails), 500):
        ledger.accept([Delivery("justclick", e, {"lead_email": e, "rass_name": "Main"}, "Main", index=i)
                       for i, e in enumerate(emails[start:start + 500])], dedup=False)


def states(app):
    with store_of(app).engine.connect() as conn:
        return dict(conn.execute(select(DELIVERIES.c.status, func.count()).group_by(DELIVERIES.c.status)).all())


def sent_to(justclick):
    return Counter(r["body"].decode().split("&")[0].split("=")[1].replace("%40", "@") for r in justclick.requests)


@pytest.fixture
def gated(make_app, justclick):
    # RATE_WAIT_SECONDS=0: over the rate is queued at once (waiting for a turn: tests/test_rate_wait.py).
    app = make_app(JUSTCLICK_MAX_RATE=str(RATE), RETRY_BASE_SECONDS="30", BREAKER_FAILURES="5",
                   RATE_WAIT_SECONDS="0")
    clock = FakeClock()
    store_of(app).clock = clock
    store_of(app).policy.rand = lambda: 1.0
    return app, clock


def test_an_hour_long_outage_with_a_backlog_of_5000(gated, justclick):
    app, clock = gated
    emails = [f"b{i}@example.com" for i in range(5000)]
    for email in emails:
        justclick.subscribe(email, "Main")
        justclick.script[email] = "500"
    queue(app, emails)
    worker = make_worker(app)
    for _ in range(0, 3600, 5):
        clock.advance(5)
        worker.run_once()
    during = len(justclick.requests)
    # One second's worth at the rate went out before the breaker opened, then one probe per step
    # (30, 60, 120, 240, 480, then every 600 s: 9 in the hour).
    assert during <= RATE + 1 + 10, during
    assert states(app) == {"pending": 5000}  # nothing dead-lettered, nothing lost
    justclick.script.clear()
    justclick.requests.clear()
    clock.advance(600)  # the longest probe step: the next probe is due by now, and it succeeds
    seconds = 0
    while states(app).get("pending") and seconds < 400:
        clock.advance(1)
        seconds += 1
        worker.run_once()
    assert states(app) == {"done": 5000}
    assert set(sent_to(justclick).values()) == {1} and len(sent_to(justclick)) == 5000  # each exactly once
    assert not justclick.groups["Main"]
    assert seconds >= 5000 / RATE - 1  # no faster than the rate, over the drain (one extra second of burst)


@pytest.mark.parametrize("script", [8, "429"], ids=["justclick-code-8", "http-429"])
def test_a_rate_limit_answer_opens_the_breaker_at_once(gated, justclick, script):
    app, clock = gated
    justclick.subscribe("r@example.com", "Main")
    justclick.script["r@example.com"] = script
    client = app.test_client()
    assert post(client, {"email": "r@example.com"}, route="justclick").status_code == 202
    breaker = client.get("/readyz").json["breakers"]["justclick"]
    assert (breaker["state"], breaker["failures"]) == ("open", 1)
    justclick.subscribe("next@example.com", "Main")
    justclick.hang_seconds, justclick.script["next@example.com"] = 3.0, "hang"
    started = time.monotonic()
    answer = post(client, {"email": "next@example.com"}, route="justclick")
    elapsed = time.monotonic() - started
    assert (answer.status_code, answer.json["status"]) == (202, "queued")
    assert "failing since" in answer.json["results"][0]["message"]
    assert len(justclick.requests) == 1 and elapsed < 0.5  # answered at once: the hanging vendor was not called


def test_the_web_first_attempt_keeps_to_the_rate(gated, justclick):
    app, clock = gated
    client = app.test_client()
    codes = Counter(post(client, {"email": f"w{i}@example.com"}, route="justclick").status_code
                    for i in range(RATE + 20))
    assert codes == {200: RATE, 202: 20}  # the rest queued for the worker, not sent
    assert len(justclick.requests) == RATE


@pytest.mark.postgres
def test_two_worker_processes_share_one_breaker_and_one_rate(pg_database, env, justclick, tmp_path):
    import psycopg
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(TRUNCATE_ALL)
    pg = {**env, "DATABASE_URL": pg_database, "JUSTCLICK_MAX_RATE": "20", "RETRY_BASE_SECONDS": "1",
          "BREAKER_FAILURES": "3", "WORKER_CONCURRENCY": "8"}
    from app import create_app
    app = create_app(pg)
    emails = [f"p{i}@example.com" for i in range(120)]
    for email in emails:
        justclick.subscribe(email, "Main")
        justclick.script[email] = "500"
    queue(app, emails)
    workers = [spawn("flask worker", pg, tmp_path, f"w{n}") for n in range(2)]
    try:
        time.sleep(4)  # down: one burst, then probes at 1, 2 (and maybe 4) seconds, from both workers together
        during = len(justclick.requests)
        justclick.script.clear()
        started = time.monotonic()
        assert wait_for(lambda: states(app).get("done") == len(emails), 60)
        drained = time.monotonic() - started
    finally:
        for proc in workers:
            proc.send_signal(signal.SIGTERM)
        [proc.wait(30) for proc in workers]
        store_of(app).close()
    assert during <= 21 + 4, during
    assert not justclick.groups["Main"]  # everyone reached
    assert max(Counter(r["body"] for r in justclick.requests[during:]).values()) == 1  # never twice
    assert drained >= (len(emails) - 21) / 20 - 1, drained
