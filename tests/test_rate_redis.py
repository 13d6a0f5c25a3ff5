"""The delivery rate counted in Redis when RATE_LIMIT_STORAGE_URI names one: shared by processes, kept by the
web's first attempt, and left to the ledger's own bucket when Redis does not answer."""

import multiprocessing
import time
import uuid
from collections import Counter
from datetime import datetime

import pytest

from store.breaker import GatePolicy
from store.gates import fresh
from store.meters import RedisMeter, windows_for
from tests.conftest import store_of
from tests.helpers import post

REDIS = "redis://127.0.0.1:6379/14"


@pytest.mark.parametrize("rate, windows", [
    (10, [(10, 1)]), (1, [(1, 1)]), (2.5, [(3, 1), (5, 2)]), (0.5, [(1, 2)]), (0.25, [(1, 4)]),
    (1.2, [(2, 1), (6, 5)]), (0.1, [(1, 10)]), (1 / 60, [(1, 60)]), (0.013, [(1, 77)]), (0.001, [(1, 1000)]),
    (3.14159, [(4, 1), (188, 60)]),
], ids=["whole", "one", "halves", "half", "quarter", "fifths", "tenth", "one-a-minute", "odd-slow", "very-slow",
        "irrational"])
def test_windows_for(rate, windows):
    """Never more than ceil(rate) in a second (the ledger's bucket allows one second's worth at once), and the
    rate itself over a longer window."""
    assert windows_for(rate) == windows


def _take_for(args):
    """In a child process: take one delivery at a time for `seconds`; the times of the grants."""
    destination, seconds = args
    meter, granted, stop = RedisMeter(REDIS, {destination: 10}), [], time.time() + seconds
    while time.time() < stop:
        if meter.take(destination, 1):
            granted.append(time.time())
        time.sleep(0.002)
    return granted


def test_three_processes_share_one_rate_through_redis():
    destination = f"test-{uuid.uuid4().hex[:8]}"  # a key of its own: nothing to flush
    with multiprocessing.get_context("spawn").Pool(3) as pool:
        granted = sorted(t for times in pool.map(_take_for, [(destination, 2.5)] * 3) for t in times)
    assert len(granted) >= 20, len(granted)  # two seconds and a half: at least two windows full
    # Any ten grants after the first span at least a second: never more than 10 in a moving second.
    assert min(later - earlier for earlier, later in zip(granted, granted[10:])) >= 0.99


def test_the_web_keeps_to_the_rate_counted_in_redis(make_app, justclick):
    import redis
    redis.Redis.from_url(REDIS).flushdb()
    app = make_app(JUSTCLICK_MAX_RATE="5", RATE_LIMIT_STORAGE_URI=REDIS)
    client = app.test_client()
    codes = Counter(post(client, {"email": f"r{i}@example.com"}, route="justclick").status_code
                    for i in range(8))
    assert codes == {200: 5, 202: 3} and len(justclick.requests) == 5
    assert store_of(app).gates()["justclick"]["tokens_at"] is None  # the ledger's bucket never counted


def test_a_silent_redis_leaves_the_count_to_the_ledger():
    """Nothing listens on port 1: the bucket counts, and Redis is left alone for a while after failing."""
    meter = RedisMeter("redis://127.0.0.1:1/0", {"justclick": 10})
    policy = GatePolicy(rates={"justclick": 10}, meter=meter)
    gate, now = fresh("justclick"), datetime(2026, 11, 23, 12, 0, 0)
    assert policy.admit(gate, 50, now)[0] == 10  # the bucket's one second's worth
    assert gate["tokens_at"] == now
    started = time.monotonic()
    assert [meter.take("justclick", 1) for _ in range(100)] == [None] * 100
    assert time.monotonic() - started < 0.1  # resting: not asked again per grant
