"""Alerts through Apprise to a local JSON receiver: every event, the repeat window on an injected clock,
one message from two worker processes, and a worker that keeps delivering when the alert URL is dead."""

import json
import signal
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app import create_app
from delivery.alerts import AlertChecks
from delivery.notify import with_timeouts
from masking import mask
from store.models import ALERTS, GATES
from tests.conftest import FakeClock, make_worker, relay_of, store_of
from tests.test_outages import queue
from tests.procs import spawn, wait_for

SECRET_EMAIL = "jane.doe@example.com"
FAILING_ONE = "unsub-relay: justclick failing: configuration (1 delivery)"


class Receiver:
    """A tiny HTTP server recording the JSON that Apprise's json:// posts (title, message, type)."""

    def __init__(self):
        received = self.messages = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"json://127.0.0.1:{self.server.server_port}/alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def titles(self, count, timeout=10.0):
        """The titles once `count` messages arrived (fails after `timeout`), then a moment for strays."""
        assert wait_for(lambda: len(self.messages) >= count, timeout), [m["title"] for m in self.messages]
        time.sleep(0.2)
        return sorted(m["title"] for m in self.messages)

    def take(self, count):
        titles = self.titles(count)
        bodies, self.messages[:] = [m["message"] for m in self.messages], []
        return titles, bodies


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def alerting(make_app, receiver, justclick):
    """An app alerting to the receiver, on a hand-moved clock, with its checks and a helper to send."""
    app = make_app(ALERT_URLS=receiver.url, BREAKER_FAILURES="2", RETRY_BASE_SECONDS="30")
    clock = FakeClock()
    store_of(app).clock, store_of(app).policy.rand = clock, (lambda: 1.0)
    return app, clock, AlertChecks(relay_of(app).service)


def send(app, emails, script=None, justclick=None):
    """Queue deliveries to JustClick and let a worker drain them (the fake answering `script`)."""
    for email in emails:
        justclick.subscribe(email, "Main")
        if script is not None:
            justclick.script[email] = script
    queue(app, emails)
    make_worker(app).drain()


def test_a_configuration_failure_alerts_once_with_a_masked_example(alerting, receiver, justclick, env):
    app, clock, checks = alerting
    send(app, [SECRET_EMAIL], 4, justclick)
    assert len(checks.run()) == 1
    titles, bodies = receiver.take(1)
    assert titles == [FAILING_ONE]
    sections = ("What:", "Since:", "How many:", "What to do:")
    assert all(section in body for body in bodies for section in sections)
    text = json.dumps(bodies)
    assert mask(SECRET_EMAIL) in text and SECRET_EMAIL not in text and env["JUSTCLICK_SECRET"] not in text
    assert checks.run() == []  # nothing new: nothing sent twice


def test_many_failures_make_one_message_with_the_count_and_examples(alerting, receiver, justclick):
    app, _, checks = alerting
    send(app, [f"s{i}@example.com" for i in range(7)], 4, justclick)
    checks.run()
    titles, bodies = receiver.take(1)
    assert titles == ["unsub-relay: justclick failing: configuration (7 deliveries)"]
    assert "How many: 7 failed deliveries" in bodies[0] and "- ... and 2 more" in bodies[0]
    assert bodies[0].count("***@e***.com") == 5 and "@example.com" not in bodies[0]


def test_the_repeat_window_counts_failures_since_the_last_message(alerting, receiver, justclick):
    app, clock, checks = alerting
    failing = [checks.failing_destinations]
    send(app, ["earlier@example.com"], None, justclick)  # a success before the trouble is no recovery
    clock.advance(60)
    send(app, ["a@example.com"], 4, justclick)
    assert [m.title for m in checks.run(failing)] == [FAILING_ONE]
    clock.advance(600)
    send(app, ["b@example.com", "c@example.com"], 4, justclick)
    assert checks.run(failing) == []  # within ALERT_REPEAT_SECONDS: quiet
    clock.advance(3001)
    repeated = checks.run(failing)
    assert [m.title for m in repeated] == [
        "unsub-relay: justclick still failing: configuration (2 deliveries)"]
    assert "How many: 2 failed deliveries since the last message" in repeated[0].body
    clock.advance(60)
    send(app, ["d@example.com"], None, justclick)  # delivers again
    assert [m.title for m in checks.run(failing)] == ["unsub-relay: justclick recovered"]
    assert checks.run(failing) == []
    clock.advance(60)
    send(app, ["e@example.com"], 4, justclick)  # a new episode alerts at once
    assert [m.title for m in checks.run(failing)] == [FAILING_ONE]
    assert len(receiver.titles(4)) == 4


def test_an_open_breaker_alerts_and_its_closing_recovers(alerting, receiver, justclick):
    app, clock, checks = alerting
    send(app, ["x@example.com", "y@example.com"], "500", justclick)
    messages = checks.run([checks.failing_destinations])
    assert [(m.title, m.type) for m in messages] == [("unsub-relay: justclick unreachable (breaker open)",
                                                      "warning")]
    assert checks.run([checks.failing_destinations]) == []
    justclick.script.clear()
    clock.advance(3600)
    make_worker(app).drain()
    assert [(m.title, m.type) for m in checks.run([checks.failing_destinations])] == [
        ("unsub-relay: justclick recovered", "success")]
    assert receiver.titles(2) == ["unsub-relay: justclick recovered",
                                  "unsub-relay: justclick unreachable (breaker open)"]


def test_a_dead_letter_after_the_retry_window(make_app, receiver, justclick):
    app = make_app(ALERT_URLS=receiver.url, RETRY_MAX_AGE_SECONDS="3600")
    clock = FakeClock()
    store_of(app).clock = clock
    checks = AlertChecks(relay_of(app).service)
    send(app, [SECRET_EMAIL], "500", justclick)
    assert checks.run([checks.failing_destinations]) == []  # still pending: retried
    clock.advance(3601)
    make_worker(app).drain()
    [message] = checks.run([checks.failing_destinations])
    assert message.title == "unsub-relay: justclick dead-lettered (1 delivery)"
    assert "replay" in message.body and mask(SECRET_EMAIL) in message.body
    assert SECRET_EMAIL not in message.body
    receiver.titles(1)


def test_the_compliance_clock_repeats_as_the_backlog_ages(alerting, receiver, justclick):
    app, clock, checks = alerting
    queue(app, ["old@example.com"])
    ages = []
    for hours in (11, 1, 6, 6, 12, 1):
        clock.advance(hours * 3600)
        ages.extend(m.title for m in checks.run([checks.pending_age]))
    assert ages == ["unsub-relay: backlog over 12 h old", "unsub-relay: backlog over 24 h old",
                    "unsub-relay: backlog over 36 h old"]
    receiver.titles(3)


def test_a_silent_worker_is_reported_once_also_from_the_web(alerting, receiver, justclick):
    app, clock, checks = alerting
    queue(app, ["due@example.com"])
    clock.advance(200)
    assert checks.run([checks.worker_silent]) == []  # due for less than five minutes
    clock.advance(200)
    thread = relay_of(app).operations.check_worker_silent()
    thread.join(10)
    assert relay_of(app).operations.check_worker_silent() is None  # at most every 15 s per process
    assert receiver.titles(1) == ["unsub-relay: worker silent"]
    assert "How many: 1 due" in receiver.messages[0]["message"]
    assert checks.run([checks.worker_silent]) == []  # the same silence, already reported


def test_no_alert_urls_means_no_checks_and_no_records(make_app, justclick):
    app = make_app()
    checks = AlertChecks(relay_of(app).service)
    send(app, ["n@example.com"], 4, justclick)
    assert checks.run() == [] and relay_of(app).operations.check_worker_silent() is None


@pytest.mark.slow
def test_two_worker_processes_send_one_message(make_app, receiver, justclick, env, tmp_path):
    app = make_app(ALERT_URLS=receiver.url)
    send(app, [SECRET_EMAIL], 4, justclick)
    worker_env = {**env, "ALERT_URLS": receiver.url}
    workers = [spawn("flask worker", worker_env, tmp_path, f"w{n}") for n in range(2)]
    ops = relay_of(app).operations
    try:
        assert wait_for(lambda: (ops.worker_seen() or {}).get("running") == 2, 30)
        titles = receiver.titles(1, 20)
        time.sleep(1.0)  # both workers ran their first check; a second message would be here by now
    finally:
        for proc in workers:
            proc.send_signal(signal.SIGTERM)
        codes = [proc.wait(30) for proc in workers]
    assert codes == [0, 0] and len(receiver.messages) == 1, receiver.messages
    assert titles == [FAILING_ONE]
    logs = "".join((tmp_path / f"w{n}.log").read_text() for n in range(2))
    assert logs.count("alert sent:") == 1 and SECRET_EMAIL not in logs
    assert ops.worker_seen()["running"] == 0  # both stopped cleanly


@pytest.mark.parametrize("hole", ["refused", "silent"], ids=["connection-refused", "never-answers"])
def test_an_unreachable_alert_url_never_stops_deliveries(make_app, justclick, hole, monkeypatch):
    monkeypatch.setattr("delivery.heartbeat.FLUSH_SECONDS", 0.5)  # the stopping worker waits this little
    listener = socket.create_server(("127.0.0.1", 0))  # accepts in the kernel, never answers
    port = 1 if hole == "refused" else listener.getsockname()[1]
    app = make_app(ALERT_URLS=f"json://127.0.0.1:{port}/nobody-answers")
    worker = make_worker(app)
    worker.watch.check_seconds = 0.05
    loop = threading.Thread(target=worker.run)
    loop.start()
    try:
        for batch in range(3):
            emails = [f"u{batch}-{i}@example.com" for i in range(4)]
            for email in emails:
                justclick.subscribe(email, "Main")
            justclick.script[emails[0]] = 4  # a configuration failure to alert about
            started = time.monotonic()
            queue(app, emails)
            assert wait_for(lambda: not justclick.groups["Main"] & set(emails[1:]), 10)
            assert time.monotonic() - started < 3
    finally:
        worker.stop()
        loop.join(30)
        listener.close()
    assert not loop.is_alive()


def test_two_processes_checking_at_once_send_each_alert_once(store_app, store_env, receiver, justclick):
    with store_of(store_app).writer.writing() as conn:
        conn.execute(ALERTS.delete())
        conn.execute(GATES.delete())
    apps = [create_app({**store_env, "ALERT_URLS": receiver.url}) for _ in range(2)]  # two engines
    try:
        send(apps[0], [f"p{i}@example.com" for i in range(2)], 4, justclick)
        checks = [AlertChecks(relay_of(app).service) for app in apps]
        results = [None, None]
        threads = [threading.Thread(target=lambda n=n: results.__setitem__(n, checks[n].run()))
                   for n in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert len(results[0]) + len(results[1]) == 1  # two failures of one cause: one message, once
        assert receiver.titles(1) == ["unsub-relay: justclick failing: configuration (2 deliveries)"]
    finally:
        for app in apps:
            store_of(app).close()


@pytest.mark.parametrize("text, masked", [
    ("jane.doe@example.com", "j***@e***.com"),
    ("a@localhost", "a***@l***"),
    ("+420123456789", "+420******789"),
    ("12345", "***"),
    ("", "-"),
    (None, "-"),
], ids=["email", "email-without-dot", "phone", "short", "empty", "none"])
def test_mask(text, masked):
    assert mask(text) == masked


@pytest.mark.parametrize("url, sent", [
    ("json://host/path", "json://host/path?cto=3&rto=5"),
    ("slack://T1/B2/C3?footer=no", "slack://T1/B2/C3?footer=no&cto=3&rto=5"),
    ("json://host/?rto=20", "json://host/?rto=20"),
], ids=["bare", "with-query", "own-timeout"])
def test_with_timeouts(url, sent):
    assert with_timeouts(url) == sent


@pytest.mark.parametrize("reachable, counted", [(True, 1), (False, 0)], ids=["accepted", "refused"])
def test_alerts_sent_counts_what_a_service_accepted(receiver, reachable, counted):
    from prometheus_client import REGISTRY

    from delivery.notify import Message, Notifier

    def sent():
        return REGISTRY.get_sample_value("unsub_relay_alerts_sent_total", {"event": "counted_test"}) or 0.0
    before = sent()
    notifier = Notifier([receiver.url if reachable else "json://127.0.0.1:1/nobody"])
    notifier.send(Message("counted_test:justclick", "title", "body"))
    assert notifier.flush(10)
    assert sent() - before == counted
