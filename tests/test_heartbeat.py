"""The worker heartbeat in the ledger: written from the loop at most every BEAT_SECONDS, the last claim
recorded, marked stopped on a clean stop, and shown by Operations.worker_seen() and /readyz."""

import threading
import time

import pytest
from sqlalchemy import select

from store.models import HEARTBEATS
from tests.conftest import FakeClock, make_worker, relay_of, store_of
from tests.test_outages import queue
from tests.procs import wait_for


def heartbeats(app):
    with store_of(app).engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(select(HEARTBEATS))]


@pytest.fixture
def running(store_app, store_env):
    """A worker looping in a thread on each store (its heartbeat table emptied first)."""
    with store_of(store_app).writer.writing() as conn:
        conn.execute(HEARTBEATS.delete())
    worker = make_worker(store_app)
    loop = threading.Thread(target=worker.run)
    loop.start()
    yield store_app, worker
    worker.stop()
    loop.join(30)


def test_a_running_worker_beats_records_its_claims_and_marks_its_stop(running, justclick):
    app, worker = running
    ops = relay_of(app).operations
    assert wait_for(lambda: ops.worker_seen() is not None, 10)
    assert ops.worker_seen()["running"] == 1 and ops.worker_seen()["last_claim_at"] is None
    justclick.subscribe("hb@example.com", "Main")
    queue(app, ["hb@example.com"])
    assert wait_for(lambda: "hb@example.com" not in justclick.groups["Main"], 10)
    worker.watch.next_beat = 0  # the next turn of the loop beats at once
    assert wait_for(lambda: ops.worker_seen()["last_claim_at"] is not None, 10)
    ready, body = ops.readiness()
    assert body["worker"] == ops.worker_seen() and body["worker"]["seen_at"].endswith("Z")
    [row] = heartbeats(app)
    assert (row["worker_id"], row["stopped_at"]) == (worker.id, None) and row["pid"] > 0
    worker.stop()
    assert wait_for(lambda: heartbeats(app)[0]["stopped_at"] is not None, 10)
    assert ops.worker_seen()["running"] == 0 and ops.worker_seen()["last_claim_at"] is not None


def test_the_loop_beats_at_most_every_beat_seconds(make_app):
    app = make_app()
    clock = FakeClock()
    store_of(app).clock = clock
    watch = make_worker(app).watch
    watch.tick()
    first = heartbeats(app)[0]["seen_at"]
    clock.advance(30)
    for _ in range(50):
        watch.tick()  # fifty turns of the loop within the same few milliseconds
    assert heartbeats(app)[0]["seen_at"] == first
    watch.next_beat = time.monotonic()
    watch.tick()
    assert (heartbeats(app)[0]["seen_at"] - first).total_seconds() == 30


def test_readiness_without_any_worker_shows_none(client):
    assert client.get("/readyz").json["worker"] is None


def test_a_store_failure_in_the_heartbeat_never_reaches_the_loop(make_app, tmp_path):
    app = make_app()
    watch = make_worker(app).watch
    with store_of(app).writer.writing() as conn:
        HEARTBEATS.drop(conn)  # the table gone: every beat fails
    watch.tick()
    watch.stop()
    assert relay_of(app).operations.readiness()[1]["worker"] is None
