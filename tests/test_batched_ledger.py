"""Accepts and records that meet in one write transaction are run together (store/accepts.py _accept_many,
store/ledger.py _record_many, store/group_commit.py WriteEngine.together): one look-up and one INSERT for all
the accepts, one statement for all the records, and each caller told what it would have been told alone.
Real threads queued, in a known order, behind a held transaction, on SQLite and PostgreSQL."""

from collections import Counter

import pytest
from sqlalchemy import select, update

from errors import StoreUnavailable
from schemas.shapes import Delivery
from store import hot
from store.models import DELIVERIES
from store.rows import KeyState
from tests.conftest import store_of
from tests.held import behind_a_held_transaction


def plan(target, group="Main"):
    return Delivery("justclick", target, {"lead_email": target, "rass_name": group}, group)


@pytest.fixture
def statements():
    """Counter of the hot statements sent, by their first words."""
    sent = Counter()
    undo = hot.watch(lambda _engine, sql, _values, _many: sent.update([" ".join(sql.split()[:3])]))
    yield sent
    undo()


def stored(app):
    with store_of(app).engine.connect() as conn:
        return {row.target: row for row in conn.execute(select(DELIVERIES))}


def test_accepts_in_one_batch_dedup_each_other_as_if_written_one_by_one(store_app, statements):
    ledger = store_of(store_app).ledger
    asked = ["ann@example.com", "bob@example.com", "Ann@Example.com", "cy@example.com", "bob@example.com"]
    results = behind_a_held_transaction(
        ledger.writer, [lambda t=t: ledger.accept([plan(t)], lease_owner=f"owner-{t}") for t in asked])
    placed = [p for _, [p] in results]
    assert [p.is_new for p in placed] == [True, True, False, True, False]
    assert placed[2].id == placed[0].id and placed[4].id == placed[1].id
    assert len({request_id for request_id, _ in results}) == 5
    rows = stored(store_app)
    assert sorted(rows) == ["ann@example.com", "bob@example.com", "cy@example.com"]
    assert {rows[t].lease_owner for t in rows} == {f"owner-{t}" for t in rows}
    if ledger.writer.postgres:  # the whole batch: one look-up, one INSERT
        assert statements["SELECT asked.q, candidate.id,"] == 1
        assert statements["INSERT INTO deliveries"] == 1


def test_an_earlier_row_answers_a_request_in_the_next_batch(store_app):
    ledger = store_of(store_app).ledger
    _, [first] = ledger.accept([plan("dee@example.com")])
    results = behind_a_held_transaction(
        ledger.writer, [lambda: ledger.accept([plan("DEE@example.com")]),
                        lambda: ledger.accept([plan("eve@x.org")])])
    assert [(p.is_new, p.id == first.id) for _, [p] in results] == [(False, True), (True, False)]
    other_group = ledger.accept([plan("dee@example.com", group="Other")])[1][0]
    assert other_group.is_new


def test_a_row_written_without_dedup_answers_a_later_request_in_the_batch(store_app):
    ledger = store_of(store_app).ledger
    results = behind_a_held_transaction(
        ledger.writer, [lambda: ledger.accept([plan("joy@example.com")], dedup=False),
                        lambda: ledger.accept([plan("joy@example.com")])])
    [first], [second] = (placed for _, placed in results)
    assert first.is_new and not second.is_new and second.id == first.id


def test_the_same_key_twice_in_one_batch_is_taken_once(store_app):
    ledger = store_of(store_app).ledger
    results = behind_a_held_transaction(
        ledger.writer, [lambda: ledger.accept([plan("fay@example.com")], key="k-1", fingerprint="f"),
                        lambda: ledger.accept([plan("fay@example.com")], key="k-1", fingerprint="f")])
    request_id, [placed] = results[0]
    assert placed.is_new and isinstance(results[1], KeyState) and results[1].request_id == request_id
    assert list(stored(store_app)) == ["fay@example.com"]


def test_a_row_the_database_refuses_fails_its_own_request_alone(store_app):
    ledger = store_of(store_app).ledger
    bad = plan("nul\x00@example.com") if ledger.writer.postgres else \
        Delivery("justclick", "obj@example.com", {"x": object()}, "Main")
    results = behind_a_held_transaction(ledger.writer, [lambda: ledger.accept([plan("gus@example.com")]),
                                                        lambda: ledger.accept([bad]),
                                                        lambda: ledger.accept([plan("hal@example.com")])])
    assert isinstance(results[1], StoreUnavailable)
    assert [p.is_new for r in (results[0], results[2]) for p in r[1]] == [True, True]
    assert sorted(stored(store_app)) == ["gus@example.com", "hal@example.com"]


def test_records_in_one_batch_keep_each_lease_and_share_one_statement(store_app, justclick, statements):
    store = store_of(store_app)
    ledger, service = store.ledger, store_app.extensions["unsub_relay"].service
    sent = []
    for n in range(3):
        _, [placed] = ledger.accept([plan(f"ida{n}@example.com")], lease_owner=f"owner-{n}")
        sent.append(service.attempt(placed, "web"))
    with store.engine.begin() as conn:  # the third row's lease ran out and another process took it over
        conn.execute(update(DELIVERIES).where(DELIVERIES.c.id == sent[2][0].id).values(lease_owner="other"))
    statements.clear()
    results = behind_a_held_transaction(
        ledger.writer, [lambda n=n: ledger.record([sent[n]], f"owner-{n}", "web") for n in range(3)])
    applied = [[change["_id"] for change in changes] for changes in results]
    assert applied == [[sent[0][0].id], [sent[1][0].id], []]
    rows = stored(store_app)
    assert [rows[f"ida{n}@example.com"].status for n in range(3)] == ["done", "done", "pending"]
    if ledger.writer.postgres:  # one statement for the three, which is its own transaction
        assert sum(n for words, n in statements.items() if words.startswith("WITH batch AS")) == 1


def test_a_taken_over_lease_in_the_batch_is_told_its_result_did_not_apply(store_app, justclick):
    """The web's send outlived its lease, a worker took the row over and sent it too: both record in one
    batch; only the holder's result applies, and the web is told so."""
    store = store_of(store_app)
    ledger, service = store.ledger, store_app.extensions["unsub_relay"].service
    _, [placed] = ledger.accept([plan("kim@example.com")], lease_owner="web-1")
    sent = service.attempt(placed, "web")
    with store.engine.begin() as conn:
        conn.execute(update(DELIVERIES).where(DELIVERIES.c.id == placed.id).values(lease_owner="worker-1"))
    results = behind_a_held_transaction(ledger.writer, [lambda: ledger.record([sent], "web-1", "web"),
                                                        lambda: ledger.record([sent], "worker-1", "worker")])
    assert [[change["_id"] for change in changes] for changes in results] == [[], [placed.id]]
    assert stored(store_app)["kim@example.com"].status == "done"
