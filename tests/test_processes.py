"""Real processes: the Procfile's web, worker and release lines; SIGKILL and SIGTERM; two workers."""

import signal
import threading

import pytest
import requests
from sqlalchemy import func, select

from store.models import DELIVERIES
from tests.conftest import TRUNCATE_ALL, FakeClock, make_worker, store_of
from tests.helpers import TOKEN, post
from tests.procs import free_port, procfile, spawn, up, wait_for

pytestmark = pytest.mark.slow


def hold(fake, marker=b""):
    """Hold every request to `fake` whose body contains `marker` until the returned event is set."""
    release = threading.Event()
    fake.on_request = lambda body: marker in body and release.wait(60)
    return release


def count(app, **where):
    query = select(func.count()).select_from(DELIVERIES)
    for key, value in where.items():
        query = query.where(DELIVERIES.c[key] == value)
    with store_of(app).engine.connect() as conn:
        return conn.execute(query).scalar()


def queue(app, justclick, emails):
    client = app.test_client()
    for email in emails:
        justclick.subscribe(email, "Main")
        response = post(client, {"email": email}, route="justclick", headers={"Prefer": "respond-async"})
        assert response.status_code == 202


def hits(justclick):
    sent = {}
    for r in justclick.requests:
        email = r["body"].decode().split("&")[0].split("=")[1].replace("%40", "@")
        sent[email] = sent.get(email, 0) + 1
    return sent


def test_release_web_and_worker_lines(env, tmp_path, justclick):
    lines = procfile()
    assert set(lines) >= {"web", "worker", "release"}
    release = spawn(lines["release"], env, tmp_path, "release")
    assert release.wait(60) == 0
    port = free_port()
    # UPSTREAM_TIMEOUT long enough that the held call stays in flight until the test lets it go.
    web = spawn(lines["web"], {**env, "PORT": str(port), "WEB_CONCURRENCY": "1", "UPSTREAM_TIMEOUT": "15"},
                tmp_path, "web")
    worker = spawn(lines["worker"], env, tmp_path, "worker")
    base = f"http://127.0.0.1:{port}"
    slow_body = b"slow%40example.com"
    held = hold(justclick, slow_body)
    try:
        assert wait_for(lambda: up(base)), (tmp_path / "web.log").read_text()
        justclick.subscribe("slow@example.com", "Main")
        justclick.subscribe("fast@example.com", "Main")
        slow = threading.Thread(target=requests.post, args=(f"{base}/hooks/justclick?token={TOKEN}",),
                                kwargs={"json": {"email": "slow@example.com"}, "timeout": 60})
        slow.start()
        assert wait_for(lambda: any(slow_body in r["body"] for r in justclick.requests)), "never sent"
        fast = requests.post(f"{base}/hooks/justclick", json={"email": "fast@example.com"},
                             headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
        assert fast.status_code == 200 and fast.json()["status"] == "unsubscribed"
        assert slow.is_alive()  # answered while the other webhook's upstream call still hung: nobody starved
        held.set()
        slow.join(30)
        assert requests.get(f"{base}/readyz", timeout=5).status_code == 200
        bad = requests.post(f"{base}/hooks/justclick?token={TOKEN}", data=b"{oops",
                            headers={"Content-Type": "application/json"}, timeout=5)
        assert bad.status_code == 400 and "Traceback" not in bad.text
    finally:
        held.set()
        for proc in (web, worker):
            proc.send_signal(signal.SIGTERM)
        assert worker.wait(30) == 0
        web.wait(30)
    logs = (tmp_path / "web.log").read_text() + (tmp_path / "worker.log").read_text()
    assert "fast@example.com" not in logs and env["JUSTCLICK_SECRET"] not in logs and TOKEN not in logs


def test_sigkill_mid_drain_loses_nothing(store_app, store_env, justclick, tmp_path):
    emails = [f"k{i}@example.com" for i in range(24)]
    queue(store_app, justclick, emails)
    held = hold(justclick)  # nothing the worker sends is answered before it dies
    worker = spawn("flask worker", {**store_env, "WORKER_CONCURRENCY": "4"}, tmp_path, "worker")
    try:
        assert wait_for(lambda: len(justclick.requests) >= 4, 30), (tmp_path / "worker.log").read_text()
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
    finally:
        held.set()
    assert count(store_app, status="pending") == len(emails)
    clock = store_of(store_app).clock
    later = FakeClock()
    later.advance(120)  # past the dead worker's lease
    store_of(store_app).clock = later
    make_worker(store_app).drain()
    store_of(store_app).clock = clock
    assert count(store_app, status="done") == len(emails)
    sent = hits(justclick)
    assert set(sent) == set(emails)  # everyone reached at least once
    assert sum(sent.values()) - len(emails) <= 16  # repeats only for what the dead worker had claimed


@pytest.mark.postgres
def test_two_workers_on_postgres_never_send_twice(request, pg_database, env, justclick, tmp_path):
    from app import create_app
    import psycopg
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(TRUNCATE_ALL)
    pg_env = {**env, "DATABASE_URL": pg_database}
    app = create_app(pg_env)
    request.addfinalizer(store_of(app).close)
    emails = [f"w{i}@example.com" for i in range(160)]
    queue(app, justclick, emails)
    justclick.delay = 0.01
    workers = [spawn("flask worker", {**pg_env, "WORKER_CONCURRENCY": "8"}, tmp_path, f"w{n}")
               for n in range(2)]
    try:
        assert wait_for(lambda: count(app, status="done") == len(emails), 60)
    finally:
        for proc in workers:
            proc.send_signal(signal.SIGTERM)
        codes = [proc.wait(30) for proc in workers]
    assert codes == [0, 0]
    sent = hits(justclick)
    assert set(sent) == set(emails) and set(sent.values()) == {1}
    logs = [(tmp_path / f"w{n}.log").read_text() for n in range(2)]
    assert all("delivery id=" in log for log in logs), "both workers should have sent some"


def test_sigterm_finishes_what_is_in_flight(store_app, store_env, justclick, tmp_path):
    emails = [f"t{i}@example.com" for i in range(4)]
    queue(store_app, justclick, emails)
    held = hold(justclick)
    worker = spawn("flask worker", {**store_env, "WORKER_CONCURRENCY": "4"}, tmp_path, "worker")
    try:
        assert wait_for(lambda: len(justclick.requests) >= 1, 30)
        worker.send_signal(signal.SIGTERM)  # while its sends are held at JustClick
    finally:
        held.set()
    assert worker.wait(30) == 0
    assert count(store_app, status="done") == 4
    assert count(store_app, lease_owner=None) == 4
