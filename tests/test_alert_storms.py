"""No alert storms: a wrong secret failing a thousand deliveries is one message with the count, then one more
per ALERT_REPEAT_SECONDS with the new count; a rate-limit store (Redis) that stops answering is one message
per window while it fails and one when it answers again. Two app instances on one PostgreSQL check at the same
moment, on one hand-moved clock: every message is sent once."""

import socket
import threading

import pytest

from app import create_app
from delivery.alerts import AlertChecks
from masking import mask
from store.models import ALERTS, GATES
from tests.conftest import FakeClock, make_worker, relay_of, store_of
from tests.test_alerts import receiver  # noqa: F401 - the fixture: a local Apprise json:// target
from tests.test_outages import queue, states

WRONG_SECRET = "wrong-secret-0123456789"


@pytest.fixture
def two_instances(store_env, receiver):  # noqa: F811
    """Two apps (two engines, as two processes) on one store, alerting to the receiver, on one clock."""
    first = store_of(create_app(store_env))
    first.upgrade()
    with first.writer.writing() as conn:
        conn.execute(ALERTS.delete())
        conn.execute(GATES.delete())
    first.close()
    clock, apps = FakeClock(), []

    def build(**overrides):
        for _ in range(2):
            app = create_app({**store_env, "ALERT_URLS": receiver.url, **overrides})
            store_of(app).clock = clock
            apps.append(app)
        return apps, clock
    yield build
    for app in apps:
        store_of(app).close()


def check_at_once(apps, which):
    """Both instances run one check at the same moment; every message either of them sent."""
    checks = [AlertChecks(relay_of(app).service) for app in apps]
    results, start = [[], []], threading.Barrier(len(checks))

    def run(n):
        start.wait(10)
        results[n] = checks[n].run([getattr(checks[n], which)])
    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(checks))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return [message for sent in results for message in sent]


def fail(app, justclick, emails):
    """Queue these unsubscribes and let a worker send them with the wrong secret: every one fails."""
    for email in emails:
        justclick.subscribe(email, "Main")
    queue(app, emails)
    make_worker(app).drain()
    assert set(states(app)) == {"failed"}  # none left pending by a transport error: the secret's failures only


@pytest.mark.parametrize("store_env", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_a_thousand_failures_of_one_cause_are_one_message_per_window(two_instances, receiver,  # noqa: F811
                                                                       justclick):
    """A wrong JUSTCLICK_SECRET: JustClick's answers fail their signature check, every one."""
    # UPSTREAM_TIMEOUT well above what 32 calls at once to the local fake take on a loaded machine: every one of
    # the thousand must fail for the wrong secret alone (the suite's 2 s timed a few out, and those stayed pending).
    apps, clock = two_instances(JUSTCLICK_SECRET=WRONG_SECRET, WORKER_CONCURRENCY="32", UPSTREAM_TIMEOUT="15")
    emails = [f"storm{n}@example.com" for n in range(1000)]
    fail(apps[0], justclick, emails)
    [first] = check_at_once(apps, "failing_destinations")
    assert first.title == "unsub-relay: justclick failing: verification (1000 deliveries)"
    assert "How many: 1000 failed deliveries" in first.body and "- ... and 995 more" in first.body
    assert mask(emails[0]) in first.body and "@example.com" not in first.body
    assert WRONG_SECRET not in first.body
    clock.advance(60)
    fail(apps[1], justclick, [f"more{n}@example.com" for n in range(250)])
    assert check_at_once(apps, "failing_destinations") == []  # within the repeat window: quiet
    clock.advance(3600)
    [second] = check_at_once(apps, "failing_destinations")
    assert second.title == "unsub-relay: justclick still failing: verification (250 deliveries)"
    assert check_at_once(apps, "failing_destinations") == []
    assert sorted(receiver.titles(2)) == sorted([first.title, second.title])


class RedisDoor:
    """A TCP door in front of the local Redis: open, it passes bytes both ways; shut, it drops every
    connection and either refuses new ones or accepts and never answers (a Redis that hangs)."""

    def __init__(self, upstream=("127.0.0.1", 6379)):
        self.upstream, self.open, self.hang = upstream, True, False
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port, self.sockets, self.lock = self.listener.getsockname()[1], [], threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.open:
                self._keep(client) if self.hang else client.close()
                continue
            server = socket.create_connection(self.upstream)
            self._keep(client, server)
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _keep(self, *socks):
        with self.lock:
            self.sockets.extend(socks)

    @staticmethod
    def _pipe(source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for sock in (source, sink):
            sock.close()

    def shut(self, hang):
        self.open, self.hang = False, hang
        with self.lock:
            socks, self.sockets = self.sockets, []
        for sock in socks:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def reopen(self):
        self.shut(False)
        self.open = True

    def close(self):
        self.shut(False)
        self.listener.close()


@pytest.fixture
def redis_door():
    door = RedisDoor()
    yield door
    door.close()


@pytest.mark.parametrize("hang", [False, True], ids=["refused", "hangs"])
def test_a_limit_store_that_stops_answering_alerts_once_per_window_and_once_recovered(
        two_instances, receiver, redis_door, hang):  # noqa: F811
    apps, clock = two_instances(RATE_LIMIT_STORAGE_URI=f"redis://127.0.0.1:{redis_door.port}/14")
    titles = []

    def check():
        sent = check_at_once(apps, "limit_store_down")
        titles.append([m.title for m in sent])

    check()  # it answers: nothing to say
    redis_door.shut(hang)
    check()
    check()  # the same silence, already reported
    clock.advance(600)
    check()
    clock.advance(3000)
    check()  # ALERT_REPEAT_SECONDS after the first message
    redis_door.reopen()
    check()
    check()
    assert titles == [[], ["unsub-relay: rate-limit store not answering"], [], [],
                      ["unsub-relay: rate-limit store still not answering"],
                      ["unsub-relay: rate-limit store recovered"], []]
    assert len(receiver.titles(3)) == 3
    assert str(redis_door.port) not in "".join(m["message"] for m in receiver.messages)
