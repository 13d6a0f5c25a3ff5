"""The ledger on SQLite and PostgreSQL: nothing accepted is lost, nothing is sent twice."""

import json

import pytest
from sqlalchemy import select

from store.models import DELIVERIES
from tests.conftest import make_worker, store_of
from tests.helpers import post

A = "anna@example.com"
HOUR = 3600


def rows(app, target=None):
    query = select(DELIVERIES).order_by(DELIVERIES.c.created_at)
    if target:
        query = query.where(DELIVERIES.c.target == target)
    with store_of(app).engine.connect() as conn:
        return list(conn.execute(query))


def hits(fake, email):
    return sum(email.replace("@", "%40").encode() in r["body"] or email.encode() in r["body"]
               for r in fake.requests)


def test_rows_are_written_before_the_upstream_call(store_app, justclick):
    seen = []
    justclick.subscribe(A, "Main")
    justclick.on_request = lambda body: seen.append([(r.status, r.lease_owner is not None)
                                                     for r in rows(store_app, A)])
    response = post(store_app.test_client(), {"email": A}, route="justclick")
    assert response.status_code == 200
    assert seen == [[("pending", True)]]
    [row] = rows(store_app, A)
    assert (row.status, row.outcome, row.attempts, row.last_code) == ("done", "unsubscribed", 1, "0")


def test_upstream_down_then_back(store_app, justclick, clock):
    justclick.subscribe(A, "Main")
    justclick.script[A] = "500"
    response = post(store_app.test_client(), {"email": A}, route="justclick")
    assert (response.status_code, response.json["status"]) == (202, "queued")
    worker = make_worker(store_app)
    assert worker.run_once() == 0  # not due yet: the backoff holds it
    clock.advance(30)
    assert worker.run_once() == 1  # still down: retried, pushed back further
    [row] = rows(store_app, A)
    assert (row.status, row.attempts) == ("pending", 2)
    justclick.script.clear()
    clock.advance(60)
    assert worker.drain() == 1
    [row] = rows(store_app, A)
    assert (row.status, row.outcome, row.attempts) == ("done", "unsubscribed", 3)
    assert A not in justclick.groups["Main"]


def test_rate_limit_is_retried(store_app, justclick, clock):
    justclick.subscribe(A, "Main")
    justclick.script[A] = 8
    assert post(store_app.test_client(), {"email": A}, route="justclick").status_code == 202
    justclick.script.clear()
    clock.advance(HOUR)
    make_worker(store_app).drain()
    assert rows(store_app, A)[0].outcome == "unsubscribed"


def test_backoff_is_exponential_with_jitter_and_capped(store_app):
    policy = store_of(store_app).policy
    policy.rand = lambda: 0.0
    low = [policy.backoff(n) for n in range(1, 12)]
    policy.rand = lambda: 1.0
    high = [policy.backoff(n) for n in range(1, 12)]
    assert low[:3] == [15, 30, 60] and high[:3] == [30, 60, 120]
    assert max(high) == 3600


def test_dead_letter_after_48_hours_then_replay(store_app, justclick, clock):
    justclick.subscribe(A, "Main")
    justclick.script[A] = "502"
    post(store_app.test_client(), {"email": A}, route="justclick")
    worker = make_worker(store_app)
    hours = 0
    while rows(store_app, A)[0].status == "pending":
        clock.advance(HOUR)
        hours += 1
        worker.run_once()
        assert hours < 60
    [row] = rows(store_app, A)
    assert hours >= 48 and (row.status, row.error_kind) == ("failed", "expired")
    assert row.attempts >= 48 and "gave up" in row.last_text
    justclick.script.clear()
    runner = store_app.test_cli_runner()
    result = runner.invoke(args=["deliveries", "replay", row.id])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.splitlines()[0]) == {"replayed": 1}
    assert rows(store_app, A)[0].outcome == "unsubscribed"


@pytest.mark.parametrize("script, code", [(6, "6"), ("bad_hash", "0")])
def test_configuration_and_verification_failures_are_not_retried(store_app, justclick, clock, script, code):
    justclick.subscribe(A, "Main")
    justclick.script[A] = script
    response = post(store_app.test_client(), {"email": A}, route="justclick")
    assert response.status_code == 502 and response.json["results"][0]["delivery_id"]
    clock.advance(HOUR)
    assert make_worker(store_app).run_once() == 0
    [row] = rows(store_app, A)
    assert (row.status, row.attempts, row.last_code) == ("failed", 1, code)


def test_prefer_respond_async(store_app, justclick, clock):
    justclick.subscribe(A, "Main")
    response = post(store_app.test_client(), {"email": A}, route="justclick",
                    headers={"Prefer": "respond-async, wait=5"})
    assert (response.status_code, response.json["status"]) == (202, "queued")
    assert justclick.requests == []
    assert make_worker(store_app).drain() == 1
    assert rows(store_app, A)[0].outcome == "unsubscribed"


@pytest.mark.parametrize("first, second", [
    ({"headers": {"Idempotency-Key": "k-1"}}, {"headers": {"Idempotency-Key": "k-1"}}),
    ({"body": {"event_id": "ev-1", "event_type": "form_response",
               "form_response": {"answers": [{"type": "email", "email": A}]}}}, None),
    ({"body": {"Email": A, "tranid": "123:456", "formid": "f"}, "kind": "form"}, None),
])
def test_idempotent_repeat_returns_the_stored_answer(store_app, justclick, first, second):
    justclick.subscribe(A, "Main")
    client = store_app.test_client()
    call = {"body": {"email": A}, "route": "justclick", **first}
    one = post(client, **call)
    two = post(client, **{**call, **(second or {})})
    assert one.status_code == two.status_code == 200
    assert one.json == two.json and two.headers["Idempotent-Replayed"] == "true"
    assert len(justclick.requests) == 1


def test_standard_webhooks_id_is_the_key(make_app, store_env, justclick):
    from tests.helpers import WHSEC, standard_headers
    app = make_app(WEBHOOK_SECRET=WHSEC, DATABASE_URL=store_env["DATABASE_URL"])
    justclick.subscribe(A, "Main")
    client = app.test_client()
    answers = [post(client, {"email": A}, route="justclick", token=None,
                    sign=lambda d: standard_headers(d, msg_id="msg_2Kx")) for _ in range(2)]
    assert answers[0].json == answers[1].json and len(justclick.requests) == 1


def test_same_key_on_another_route_is_another_request(store_app, justclick, mailkit):
    client = store_app.test_client()
    for route in ("justclick", "mailkit"):
        post(client, {"email": A}, route=route, headers={"Idempotency-Key": "k-2"})
    assert len(justclick.requests) == 1 and len(mailkit.requests) == 1


def test_dedup_window(store_app, justclick, mailkit, clock):
    mailkit.subscribe(A)
    client = store_app.test_client()
    first = post(client, {"email": A}, route="mailkit")
    again = post(client, {"email": A}, route="mailkit")
    assert first.status_code == again.status_code == 200
    assert again.json["results"][0]["delivery_id"] == first.json["results"][0]["delivery_id"]
    assert again.json["results"][0]["status"] == "unsubscribed"
    assert len(mailkit.requests) == 1  # one opt-out confirmation mail, not two
    other_group = post(client, {"email": A, "group": "VIP"}, route="justclick")  # not deduped: sent
    assert other_group.status_code == 422 and other_group.json["results"][0]["code"] == "800"
    assert len(justclick.requests) == 1
    clock.advance(601)
    post(client, {"email": A}, route="mailkit")
    assert len(mailkit.requests) == 2


def test_purge_goes_in_slices(store_app, justclick, clock, monkeypatch):
    from store import queries
    monkeypatch.setattr(queries, "PURGE_SLICE", 2)
    client = store_app.test_client()
    for n in range(5):
        justclick.subscribe(f"s{n}@example.com", "Main")
        post(client, {"email": f"s{n}@example.com"}, route="justclick")
    clock.advance(91 * 86400)
    result = store_app.test_cli_runner().invoke(args=["deliveries", "purge", "--older-than", "90d"])
    assert json.loads(result.output) == {"purged": 5} and rows(store_app) == []
    with store_of(store_app).engine.connect() as conn:
        from store.models import ATTEMPTS, REQUESTS
        assert conn.execute(select(ATTEMPTS.c.id)).all() == [] == conn.execute(select(REQUESTS.c.id)).all()


def test_failed_deliveries_do_not_dedup(store_app, justclick):
    justclick.subscribe(A, "Main")
    justclick.script[A] = 6
    client = store_app.test_client()
    assert post(client, {"email": A}, route="justclick").status_code == 502
    justclick.script.clear()
    assert post(client, {"email": A}, route="justclick").status_code == 200
    assert len(justclick.requests) == 2


def test_purge_keeps_pending(store_app, justclick, clock):
    client = store_app.test_client()
    justclick.subscribe(A, "Main")
    post(client, {"email": A}, route="justclick")
    justclick.script["late@example.com"] = "500"
    post(client, {"email": "late@example.com"}, route="justclick")
    clock.advance(91 * 86400)
    result = store_app.test_cli_runner().invoke(args=["deliveries", "purge", "--older-than", "90d"])
    assert json.loads(result.output) == {"purged": 1}
    assert [r.target for r in rows(store_app)] == ["late@example.com"]


def test_deliveries_list_and_show(store_app, justclick):
    justclick.subscribe(A, "Main")
    post(store_app.test_client(), {"email": A}, route="justclick")
    runner = store_app.test_cli_runner()
    listed = runner.invoke(args=["deliveries", "list", "--target", "ANNA@example.com", "--json"])
    [entry] = [json.loads(line) for line in listed.output.splitlines()]
    assert (entry["status"], entry["outcome"], entry["destination"]) == ("done", "unsubscribed", "justclick")
    shown = runner.invoke(args=["deliveries", "show", entry["id"][:10]])
    assert json.loads(shown.output)["id"] == entry["id"]
    assert "done" in runner.invoke(args=["deliveries", "list", "--status", "done"]).output
    assert runner.invoke(args=["deliveries", "list", "--status", "pending"]).output == ""
    missing = runner.invoke(args=["deliveries", "show", "nope"])
    assert missing.exit_code == 1 and "no delivery" in missing.output


def test_replay_all_failed(store_app, justclick):
    client = store_app.test_client()
    for email in ("a1@example.com", "a2@example.com"):
        justclick.subscribe(email, "Main")
        justclick.script[email] = 7
        post(client, {"email": email}, route="justclick")
    justclick.script.clear()
    result = store_app.test_cli_runner().invoke(args=["deliveries", "replay", "--failed"])
    assert json.loads(result.output.splitlines()[0]) == {"replayed": 2}
    assert {r.outcome for r in rows(store_app)} == {"unsubscribed"}


def test_readyz_turns_unhealthy_before_24_hours(store_app, justclick, clock):
    justclick.script[A] = "500"
    client = store_app.test_client()
    post(client, {"email": A}, route="justclick")
    assert client.get("/readyz").status_code == 200
    clock.advance(12 * HOUR + 1)
    response = client.get("/readyz")
    assert response.status_code == 503 and "worker" in response.json["problems"][0]
    assert response.json["store"]["oldest_pending_seconds"] > 12 * HOUR


def test_store_down_means_nothing_accepted_and_retry(env, justclick):
    from app import create_app
    app = create_app({**env, "DATABASE_URL": "postgresql://postgres@127.0.0.1:1/none"})
    response = post(app.test_client(), {"email": A}, route="justclick")
    assert response.status_code == 503 and response.headers["Retry-After"] == "30"
    assert "ledger is unavailable" in response.json["message"]
    assert justclick.requests == []
    ready = app.test_client().get("/readyz")
    assert ready.status_code == 503 and ready.json["store"] == {"reachable": False}
    store_of(app).close()


def test_group_commit_isolates_a_duplicate_key(store_app):
    """Threads writing at once share transactions; a taken key fails only its own request."""
    import threading

    from schemas.shapes import Delivery
    from store.ledger import KeyState

    ledger = store_of(store_app).ledger
    outcomes, start = {}, threading.Barrier(24)

    def accept(n, key):
        plan = Delivery("justclick", f"g{n}@example.com", {"lead_email": f"g{n}@example.com", "rass_name": "Main"},
                        "Main")
        start.wait()
        accepted = ledger.accept([plan], key=key)
        outcomes[n] = "taken" if isinstance(accepted, KeyState) else accepted

    threads = [threading.Thread(target=accept, args=(n, "dup" if n < 2 else f"k{n}")) for n in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(str(o) for o in outcomes.values()).count("taken") == 1
    assert len(rows(store_app)) == 23


def test_every_attempt_is_on_record_with_who_sent_it(store_app, justclick, clock):
    justclick.subscribe(A, "Main")
    justclick.script[A] = "500"
    client = store_app.test_client()
    delivery_id = post(client, {"email": A}, route="justclick").json["results"][0]["delivery_id"]
    clock.advance(30)
    make_worker(store_app).run_once()
    justclick.script[A] = 6  # a configuration failure: failed, not retried
    clock.advance(60)
    make_worker(store_app).run_once()
    justclick.script.clear()
    runner = store_app.test_cli_runner()
    assert runner.invoke(args=["deliveries", "replay", delivery_id]).exit_code == 0
    shown = json.loads(runner.invoke(args=["deliveries", "show", delivery_id]).output)
    history = [(a["number"], a["sender"], a["outcome"], a["code"]) for a in shown["attempt_history"]]
    assert history == [(1, "web", "failed", "http_500"), (2, "worker", "failed", "http_500"),
                       (3, "worker", "failed", "6"), (4, "replay", "unsubscribed", "0")]
    assert shown["status"] == "done" and shown["attempts"] == 4
    assert shown["attempt_history"][0]["text"] == "justclick answered HTTP 500"
