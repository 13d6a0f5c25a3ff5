"""Read-backs of accepted opt-outs and one person's proof, in the ledger (issue 20): scheduled when a vendor
that can be read back accepts, leased to one claimer at a time, settled as confirmed, sent again while the
contact is still subscribed, retried while the vendor gives no answer; on SQLite and on PostgreSQL."""

import multiprocessing
from datetime import date, datetime, timedelta

import pytest

from schemas.shapes import Confirmation, Delivery, Outcome, Unsubscribe
from settings import load_settings
from status import CONFIRM_UNKNOWN, CONFIRMED, STILL_SUBSCRIBED
from store import Store
from store.confirmations import UNKNOWN_FOR, settle
from store.retry import RetryPolicy

T0 = datetime(2026, 11, 23, 12, 0, 0)
HOUR = 3600
ASKED = Unsubscribe(email="anna@example.com", channel="webhook", auth="token", received_at=T0)


class Clock:
    def __init__(self, at=T0):
        self.at = at

    def __call__(self):
        return self.at

    def advance(self, seconds):
        self.at += timedelta(seconds=seconds)


def make_store(url, clock, read_back=("justclick",), **env):
    """A Store on `url` with this clock (no delivery rate unless `env` sets one)."""
    env = {"DATABASE_URL": url, "JUSTCLICK_MAX_RATE": "0", "MAILKIT_MAX_RATE": "0", **env}
    store = Store(load_settings(env), clock=clock, rand=lambda: 1.0, read_back=read_back)
    store.upgrade()
    return store


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def store(store_env, clock):
    built = make_store(store_env["DATABASE_URL"], clock, CONFIRM_AFTER_SECONDS="60", CONFIRM_RESENDS="2")
    yield built
    built.close()


def sent(store, placed, status="unsubscribed"):
    """Record one send of `placed` with this outcome (the row must be leased to "web")."""
    outcome = Outcome(placed.destination, status, "0", "OK", started_at=store.now(), duration_ms=5)
    return store.ledger.record([(placed, outcome)], "web", "web")


def delivered(store, target="anna@example.com", status="unsubscribed", destination="justclick", request=ASKED):
    """A delivery accepted and sent at once, its outcome recorded; the placed Delivery."""
    delivery = Delivery(destination, target, {"lead_email": target, "rass_name": "Main"}, "Main", request=request)
    _, [placed] = store.ledger.accept([delivery], lease_owner="web")
    sent(store, placed, status)
    return placed


def said(state, detail="", until=None, verified=True):
    return Confirmation("justclick", state, detail, until, verified=verified)


# --- The policy, pure --------------------------------------------------------------------------------------

NOW = T0 + timedelta(hours=1)
POLICY = RetryPolicy(base=30.0, rand=lambda: 1.0)


@pytest.mark.parametrize("confirmation, found_before, sent_ago, expected", [
    (said(CONFIRMED, "rass_status=STATUS_UNSUBSCRIBE", date(2027, 1, 31)), 0, 3600,
     {"confirmation": CONFIRMED, "confirmed_at": NOW, "confirmed_until": date(2027, 1, 31), "confirm_due_at": None,
      "confirmation_detail": "rass_status=STATUS_UNSUBSCRIBE", "lease_owner": None}),
    (said(STILL_SUBSCRIBED, "rass_status=STATUS_SUBSCRIBE"), 0, 60,
     {"confirmation": STILL_SUBSCRIBED, "status": "pending", "next_attempt_at": NOW, "retry_since": NOW,
      "confirm_attempts": 1, "outcome": None, "confirm_due_at": None}),
    (said(STILL_SUBSCRIBED), 1, 60, {"status": "pending", "confirm_attempts": 2}),
    (said(STILL_SUBSCRIBED, "unsubscribe=FALSE"), 2, 60,
     {"status": "failed", "outcome": STILL_SUBSCRIBED, "last_code": STILL_SUBSCRIBED, "confirm_attempts": 3,
      "error_kind": STILL_SUBSCRIBED, "completed_at": NOW, "confirm_due_at": None}),
    (said(CONFIRMED, verified=False), 0, 60,
     {"confirmation": CONFIRM_UNKNOWN, "confirm_due_at": NOW + timedelta(seconds=POLICY.backoff_after(60))}),
    (said(CONFIRM_UNKNOWN, "timeout"), 0, 60,
     {"confirmation": CONFIRM_UNKNOWN, "confirm_due_at": NOW + timedelta(seconds=60)}),
    (said(CONFIRM_UNKNOWN), 0, UNKNOWN_FOR - 10,
     {"confirmation": CONFIRM_UNKNOWN, "confirm_due_at": NOW + timedelta(seconds=10)}),
    (said(CONFIRM_UNKNOWN), 0, UNKNOWN_FOR, {"confirmation": CONFIRM_UNKNOWN, "confirm_due_at": None}),
], ids=["confirmed-with-its-date", "still-subscribed-sent-again", "second-time-sent-again",
        "third-time-failed", "unverified-counts-as-unknown", "unknown-backs-off", "unknown-capped-at-24h",
        "unknown-stops-after-24h"])
def test_what_a_read_back_makes_of_its_row(confirmation, found_before, sent_ago, expected):
    row = {"destination": "justclick", "confirm_attempts": found_before,
           "completed_at": NOW - timedelta(seconds=sent_ago)}
    change = settle(confirmation, row, NOW, POLICY, resends=2)
    assert {k: change.get(k) for k in expected} == expected


@pytest.mark.parametrize("waited, tries", [(0, 1), (29, 1), (30, 2), (90, 3), (3600, 7)],
                         ids=["first", "before-base", "one-base", "three-bases", "an-hour"])
def test_read_back_backoff_counts_tries_by_the_time_they_took(waited, tries):
    assert POLICY.backoff_after(waited) == POLICY.backoff(tries)


# --- On the databases ----------------------------------------------------------------------------------------

def test_an_accepted_opt_out_is_read_back_once_and_confirmed(store, clock):
    placed = delivered(store)
    row = store.queries.get(placed.id)
    assert (row["channel"], row["auth_method"], row["received_at"]) == ("webhook", "token", T0)
    assert row["confirm_due_at"] == T0 + timedelta(seconds=60) and row["confirmation"] is None
    clock.advance(59)
    assert store.ledger.claim_confirmations("a", 10) == []
    clock.advance(1)
    [due] = store.ledger.claim_confirmations("a", 10)
    assert (due.id, due.target, due.payload) == (placed.id, placed.target, placed.payload)
    assert store.ledger.claim_confirmations("b", 10) == []  # leased to a
    assert store.ledger.record_confirmations([(due, said(CONFIRMED, "unsubscribe=TRUE", date(2027, 1, 31)))],
                                             "b") == []  # not b's
    store.ledger.record_confirmations([(due, said(CONFIRMED, "unsubscribe=TRUE", date(2027, 1, 31)))], "a")
    row = store.queries.get(placed.id)
    assert {k: row[k] for k in ("status", "confirmation", "confirmation_detail", "confirmed_at", "confirmed_until",
                                "confirm_due_at", "lease_owner")} == {
        "status": "done", "confirmation": CONFIRMED, "confirmation_detail": "unsubscribe=TRUE",
        "confirmed_at": clock(), "confirmed_until": date(2027, 1, 31), "confirm_due_at": None, "lease_owner": None}
    clock.advance(HOUR)
    assert store.ledger.claim_confirmations("a", 10) == []



@pytest.mark.parametrize("what", ["no-read-back-at-the-vendor", "read-back-off", "not-subscribed", "refused"])
def test_what_is_never_read_back(store_env, clock, what):
    settings = {"CONFIRM_AFTER_SECONDS": "0" if what == "read-back-off" else "60"}
    read_back = () if what == "no-read-back-at-the-vendor" else ("justclick",)
    status = {"not-subscribed": "not_subscribed", "refused": "rejected"}.get(what, "unsubscribed")
    store = make_store(store_env["DATABASE_URL"], clock, read_back, **settings)
    try:
        placed = delivered(store, status=status)
        assert store.queries.get(placed.id)["confirm_due_at"] is None
        clock.advance(2 * HOUR)
        assert store.ledger.claim_confirmations("a", 10) == []
    finally:
        store.close()


def test_a_contact_still_subscribed_is_sent_again_then_fails(store, clock):
    placed = delivered(store)
    for found in (1, 2, 3):
        clock.advance(60)
        [due] = store.ledger.claim_confirmations("reader", 10)
        store.ledger.record_confirmations([(due, said(STILL_SUBSCRIBED, "rass_status=STATUS_SUBSCRIBE"))], "reader")
        row = store.queries.get(placed.id)
        assert (row["confirm_attempts"], row["confirmation"], row["confirm_due_at"]) == (found, STILL_SUBSCRIBED,
                                                                                         None)
        if found == 3:
            break
        assert row["status"] == "pending" and row["next_attempt_at"] == clock()
        [again] = store.ledger.claim("web", 10, ["justclick"])  # the worker sends it again
        sent(store, again)
        assert store.queries.get(placed.id)["confirm_due_at"] == clock() + timedelta(seconds=60)
    assert {k: row[k] for k in ("status", "outcome", "last_code", "error_kind", "attempts")} == {
        "status": "failed", "outcome": STILL_SUBSCRIBED, "last_code": STILL_SUBSCRIBED,
        "error_kind": STILL_SUBSCRIBED, "attempts": 3}
    assert "STATUS_SUBSCRIBE" in row["last_text"] and "anna" not in row["last_text"]
    clock.advance(HOUR)
    assert store.ledger.claim("web", 10, ["justclick"]) == [] == store.ledger.claim_confirmations("reader", 10)


def test_a_read_back_without_answer_backs_off_and_stops_after_a_day(store, clock):
    placed = delivered(store)
    clock.advance(60)
    waits, reads = [], 0
    while (due := store.ledger.claim_confirmations("reader", 10)) and reads < 100:
        reads += 1
        store.ledger.record_confirmations([(due[0], said(CONFIRM_UNKNOWN, "timeout"))], "reader")
        next_due = store.queries.get(placed.id)["confirm_due_at"]
        if next_due is None:
            break
        waits.append((next_due - clock()).total_seconds())
        clock.at = next_due
    row = store.queries.get(placed.id)
    assert row["confirmation"] == CONFIRM_UNKNOWN and row["confirm_due_at"] is None and row["status"] == "done"
    assert clock() == T0 + timedelta(seconds=UNKNOWN_FOR) and reads < 40
    assert waits[:4] == sorted(waits[:4]) and waits[0] < waits[3]  # backing off


def test_the_proof_of_one_person(store_env, store, clock):
    first = delivered(store, "Anna@Example.com")
    clock.advance(30)
    cli = Unsubscribe(email="anna@example.com", channel="cli", auth="operator", received_at=clock())
    second = delivered(store, "anna@example.com", destination="mailkit", request=cli)
    delivered(store, "someone@example.com")
    sandbox = make_store(store_env["DATABASE_URL"], clock, SANDBOX="1")
    try:
        delivered(sandbox, "anna@example.com")  # a sandbox row is never proof, nor read back by live
        assert [d["id"] for d in sandbox.reports.proof("ANNA@example.com ")] == [first.id, second.id]
    finally:
        sandbox.close()
    clock.advance(60)
    due = store.ledger.claim_confirmations("reader", 10)  # justclick's; mailkit is not read back here
    assert sorted(d.target for d in due) == ["Anna@Example.com", "someone@example.com"]
    store.ledger.record_confirmations([(d, said(CONFIRMED, "rass_status=STATUS_UNSUBSCRIBE")) for d in due], "reader")
    proof = store.reports.proof("ANNA@example.com")
    assert [(p["id"], p["destination"], p["channel"], p["auth_method"], p["confirmation"]) for p in proof] == [
        (first.id, "justclick", "webhook", "token", CONFIRMED), (second.id, "mailkit", "cli", "operator", None)]
    assert proof[0]["group"] == "Main" and proof[0]["received_at"] == T0 and proof[0]["confirmed_at"] == clock()
    assert [(a["number"], a["sender"], a["outcome"]) for a in proof[0]["attempt_history"]] == [(1, "web",
                                                                                                 "unsubscribed")]
    assert proof[0]["attempt_history"] == store.reports.delivery(first.id)["attempt_history"]
    assert store.reports.delivery(first.id)["confirmation"] == CONFIRMED
    rows, _ = store.reports.search({"address": "anna@example.com"})
    assert {r["id"]: (r["channel"], r["confirmation"]) for r in rows} == {
        first.id: ("webhook", CONFIRMED), second.id: ("cli", None)}
    exported = {d["id"]: d for d, _ in store.export(target="anna@example.com")}
    assert {k: exported[first.id][k] for k in ("channel", "auth_method", "received_at", "confirmation")} == {
        "channel": "webhook", "auth_method": "token", "received_at": T0, "confirmation": CONFIRMED}
    assert store.reports.proof("nobody@example.com") == []


def _claim_all(url, at, barrier, found):
    store = make_store(url, Clock(at), CONFIRM_AFTER_SECONDS="60")
    barrier.wait()
    mine = []
    while batch := store.ledger.claim_confirmations(f"p{multiprocessing.current_process().pid}", 3):
        mine += [d.id for d in batch]
    found.put(mine)
    store.close()


def test_two_claimers_never_lease_the_same_confirmation(store_env, store, clock):
    ids = {delivered(store, f"c{n}@example.com").id for n in range(30)}
    ctx = multiprocessing.get_context("fork")
    barrier, found = ctx.Barrier(4), ctx.Queue()
    procs = [ctx.Process(target=_claim_all, args=(store_env["DATABASE_URL"], T0 + timedelta(seconds=61),
                                                   barrier, found)) for _ in range(4)]
    for p in procs:
        p.start()
    claimed = [found.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(30)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    every = [i for mine in claimed for i in mine]
    assert sorted(every) == sorted(ids) and len(set(every)) == len(every)



def test_read_backs_wait_for_an_open_breaker_and_take_their_turn_at_the_rate(store_env, clock):
    store = make_store(store_env["DATABASE_URL"], clock, BREAKER_FAILURES="1", JUSTCLICK_MAX_RATE="1")
    try:
        for n in range(3):
            delivered(store, f"r{n}@example.com")
            clock.advance(1)
        clock.advance(60)
        assert len(store.ledger.claim_confirmations("reader", 10)) == 2  # the bucket's burst, then one a second
        down = Delivery("justclick", "down@example.com", {"lead_email": "down@example.com"}, "Main")
        _, [placed] = store.ledger.accept([down], lease_owner="web")
        failed = Outcome("justclick", "failed", "http_500", "down", "connection", transient=True,
                         started_at=clock(), duration_ms=5)
        store.ledger.record([(placed, failed)], "web", "web")
        clock.advance(5)
        assert store.gates()["justclick"]["state"] == "open"
        assert store.ledger.claim_confirmations("reader", 10) == []
    finally:
        store.close()


def test_an_idle_poll_with_no_read_back_due_writes_nothing(store):
    """Nothing due: no write transaction, so no gate row is made or locked for the read-back destinations."""
    from sqlalchemy import text
    assert store.ledger.claim_confirmations("w1", 8) == []
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM destination_gates")).scalar() == 0
