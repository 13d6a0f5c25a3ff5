"""Faulty and hostile conditions at the store and service: keys bound to their request and credential,
leases that expire, a vanished or read-only ledger, one bad job in a group commit, a trickling upstream,
and two processes sending the same unsubscribe at once on PostgreSQL."""

import hashlib
import multiprocessing
import os
import socket
import threading
import time

import pytest

from connectors.justclick import JustClick
from schemas.shapes import Delivery
from store.ledger import KeyState
from tests.conftest import TOKEN, make_worker, relay_of, store_of
from tests.helpers import post

A, B = "anna@example.com", "bob@example.com"


def scoped(key, route="justclick", token=TOKEN):
    """The ledger's name for an Idempotency-Key sent with a token in the query (see routes.idempotency_key)."""
    return f"{route}:token:{hashlib.sha256(token.encode()).hexdigest()[:16]}:{key}"


def test_a_reused_key_with_another_request_is_refused_and_sends_nothing(store_app, justclick):
    client = store_app.test_client()
    first = post(client, {"email": A}, route="justclick", headers={"Idempotency-Key": "k-9"})
    other = post(client, {"email": B}, route="justclick", headers={"Idempotency-Key": "k-9"})
    assert first.status_code == 200 and other.status_code == 422
    assert "different request" in other.json["message"] and other.json["status"] == "rejected"
    assert len(justclick.requests) == 1


def test_the_same_key_from_another_credential_names_another_request(make_app, store_env, justclick):
    app = make_app(DATABASE_URL=store_env["DATABASE_URL"])
    client = app.test_client()
    one = post(client, {"email": A}, route="justclick", headers={"Idempotency-Key": "k-7"})
    two = post(client, {"email": B}, route="justclick", headers={"Idempotency-Key": "k-7"}, token="old-token-xyz")
    assert one.status_code == two.status_code == 200 and "Idempotent-Replayed" not in two.headers
    assert len(justclick.requests) == 2


@pytest.mark.parametrize("advance, status", [(10, 409), (200, 202)], ids=["lease-live", "lease-expired"])
def test_a_key_whose_holder_died_answers_from_its_rows(store_app, clock, justclick, advance, status):
    """The first request wrote its rows and died before sending: 409 while its lease runs, then the rows."""
    client = store_app.test_client()
    probe = post(client, {"email": A}, route="justclick", headers={"X-Dry-Run": "1"})
    assert probe.status_code == 200
    service = relay_of(store_app).service
    deliveries = service.plan([(0, {"email": A})], to="justclick")
    accepted = service.accept(deliveries, scoped("k-dead"), "dead-owner")
    assert not isinstance(accepted, KeyState)
    clock.advance(advance)
    again = post(client, {"email": A}, route="justclick", headers={"Idempotency-Key": "k-dead"})
    assert again.status_code == status and justclick.requests == []
    if status == 202:
        assert again.json["results"][0]["delivery_id"] == accepted[1][0].id
        assert again.headers["Idempotent-Replayed"] == "true"


def test_a_deleted_sqlite_ledger_refuses_with_503(make_app, justclick, tmp_path):
    app = make_app()
    client = app.test_client()
    assert post(client, {"email": A}, route="justclick").status_code == 200
    os.remove(tmp_path / "ledger.sqlite3")
    refused = post(client, {"email": B}, route="justclick")
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "30"
    assert "ledger is unavailable" in refused.json["message"]
    ready = client.get("/readyz")
    assert ready.status_code == 503 and any("ledger file" in p for p in ready.json["problems"])
    assert len(justclick.requests) == 1


def test_a_read_only_ledger_refuses_with_503(make_app, env, justclick, tmp_path):
    make_app()  # creates and migrates the file
    app = make_app(DATABASE_URL=f"sqlite:///file:{tmp_path / 'ledger.sqlite3'}?mode=ro&uri=true")
    refused = post(app.test_client(), {"email": A}, route="justclick")
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "30"
    assert justclick.requests == []


def plan_for(n, payload=None, target=None):
    target = target or f"g{n}@example.com"
    return Delivery("justclick", target, payload or {"lead_email": target, "rass_name": "Main"}, "Main")


def test_one_bad_job_fails_alone_in_a_group_commit(store_app, store_env):
    """Jobs that share a transaction: a value the database refuses fails its own job only."""
    ledger, start, outcomes = store_of(store_app).ledger, threading.Barrier(30), {}
    postgres = store_env["DATABASE_URL"].startswith("postgresql")

    def accept(n):
        bad = n % 10 == 0
        plan = plan_for(n, payload={"x": object()} if bad and not postgres else None,
                        target=f"nul{n}\x00@example.com" if bad and postgres else None)
        start.wait()
        try:
            ledger.accept([plan])
            outcomes[n] = "ok"
        except Exception as exc:  # noqa: BLE001 - the test records what each job saw
            outcomes[n] = type(exc).__name__

    threads = [threading.Thread(target=accept, args=(n,)) for n in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(n for n, o in outcomes.items() if o != "ok") == [0, 10, 20]
    assert {o for o in outcomes.values() if o != "ok"} == {"StoreUnavailable"}


def test_a_job_that_raises_is_rolled_back_alone(store_app):
    """A job that fails in its own code (not the database's) is rolled back and its caller gets the error;
    the jobs written at the same time commit."""
    from sqlalchemy import insert, select

    from store import utcnow
    from store.models import REQUESTS

    writer, start, results = store_of(store_app).writer, threading.Barrier(20), {}

    def job(n):
        def work(conn):
            conn.execute(insert(REQUESTS).values(id=f"job{n}", created_at=utcnow()))
            if n % 5 == 0:
                raise RuntimeError("broken")
            return n
        start.wait()
        try:
            results[n] = writer.transaction(work)
        except RuntimeError as exc:
            results[n] = str(exc)

    threads = [threading.Thread(target=job, args=(n,)) for n in range(20)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert results == {n: "broken" if n % 5 == 0 else n for n in range(20)}
    with store_of(store_app).engine.connect() as conn:
        ids = set(conn.execute(select(REQUESTS.c.id).where(REQUESTS.c.id.like("job%"))).scalars())
    assert ids == {f"job{n}" for n in range(20) if n % 5}


def trickling_server():
    """A raw upstream that answers one byte every 0.2 s, forever: each read is quick, the call never ends."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)

    def serve():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            conn.recv(65536)
            try:
                for byte in b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Pad: " + b"a" * 10000:
                    conn.sendall(bytes([byte]))
                    time.sleep(0.2)
            except OSError:
                conn.close()

    threading.Thread(target=serve, daemon=True).start()
    return server


def test_a_trickling_upstream_is_cut_at_the_overall_deadline():
    server = trickling_server()
    connector = JustClick("acme", "s", f"http://127.0.0.1:{server.getsockname()[1]}/acme/api/", timeout=1.0)
    started = time.monotonic()
    result = connector.send({"lead_email": A, "rass_name": "Main"})
    elapsed = time.monotonic() - started
    server.close()
    assert result.status == "failed" and result.transient and "within 1 s" in result.message
    assert 0.9 < elapsed < 2.0


def _post_same(url, env, barrier, email):
    from app import create_app
    app = create_app(env)
    barrier.wait()
    post(app.test_client(), {"email": email}, route="justclick")


@pytest.mark.postgres
def test_two_processes_sending_the_same_unsubscribe_at_once_send_it_once(pg_database, env, justclick):
    pg_env = {**env, "DATABASE_URL": pg_database}
    justclick.delay = 0.05  # the first send is still in flight when the other process decides
    ctx = multiprocessing.get_context("fork")
    for round_ in range(4):
        email = f"same{round_}@example.com"
        justclick.subscribe(email, "Main")
        barrier = ctx.Barrier(4)
        procs = [ctx.Process(target=_post_same, args=(None, pg_env, barrier, email)) for _ in range(4)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(30)
        assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    sent = [r["body"] for r in justclick.requests]
    assert len(sent) == 4 and len(set(sent)) == 4


def test_a_send_or_read_back_that_raises_is_retried_and_the_worker_goes_on(make_app, justclick, monkeypatch):
    """A bug inside one vendor call (not an UpstreamError) becomes a retryable outage of that one delivery:
    the worker neither dies nor drops the others of its batch."""
    app = make_app(CONFIRM_AFTER_SECONDS="0")
    service = relay_of(app).service
    for email in ("one@example.com", "two@example.com"):
        justclick.subscribe(email, "Main")
        post(app.test_client(), {"email": email}, route="justclick", headers={"Prefer": "respond-async"})
    real = service.connectors["justclick"].call

    def buggy(payload):
        if payload["lead_email"] == "one@example.com":
            raise OverflowError("a bug")
        return real(payload)
    monkeypatch.setattr(service.connectors["justclick"], "call", buggy)
    assert make_worker(app).drain() == 2
    rows = {r["target"]: r for r in relay_of(app).reports.search({})[0]}
    assert (rows["two@example.com"]["status"], rows["one@example.com"]["status"]) == ("done", "pending")
    [attempt] = relay_of(app).reports.delivery(rows["one@example.com"]["id"])["attempt_history"]
    assert "internal error (OverflowError)" in attempt["text"]
