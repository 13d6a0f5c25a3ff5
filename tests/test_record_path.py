"""PostgreSQL records a batch in one statement (store/statements.py RECORD_ONE, RECORD); SQLite, and
PostgreSQL before issue 22, in a transaction of three statements. Both paths run here on the same PostgreSQL
database, from empty tables, with the same clock and results: the rows they leave must be the same."""

from dataclasses import replace
from datetime import datetime, timedelta

import psycopg
import pytest
from sqlalchemy import select

from connectors.base import failure
from connectors.errors import APIConnectionError, InvalidRequestError
from schemas.shapes import Delivery, Outcome
from settings import load_settings
from store import Store
from store.models import ATTEMPTS, DELIVERIES, GATES
from tests.conftest import TRUNCATE_ALL

pytestmark = pytest.mark.postgres
NOW = datetime(2026, 11, 23, 12, 0, 0)
RESULTS = {"ok": Outcome("justclick", "unsubscribed", "0", "OK"),
           "down": failure("justclick", APIConnectionError("down")),
           "refused": failure("justclick", InvalidRequestError("no group", 800))}
IDS = {"id", "request_id", "delivery_id"}  # random per run


def record(pg_database, one_statement, kinds, answer, lost, gate_before):
    """On emptied tables: accept one row per result, record them; (changes applied, deliveries, attempts,
    gates), ids left out."""
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(TRUNCATE_ALL)
        if gate_before:  # a breaker about to open (BREAKER_FAILURES=2): one failure more opens it
            conn.execute("INSERT INTO destination_gates VALUES ('justclick', 'closed', 1, 0, 0, NULL, NULL, "
                         "NULL, 0, NULL)")
    store = Store(load_settings({"DATABASE_URL": pg_database, "BREAKER_FAILURES": "2"}), clock=lambda: NOW,
                  rand=lambda: 0.5)
    store.ledger.one_statement = one_statement
    try:
        plans = [Delivery("justclick", f"p{i}@example.com", {"lead_email": f"p{i}"}, "Main", index=i)
                 for i in range(max(len(kinds), 1))]
        request_id, placed = store.ledger.accept(plans, lease_owner="web")
        sent = [(place, replace(RESULTS[kind], started_at=NOW - timedelta(seconds=1), duration_ms=7))
                for place, kind in zip(placed, kinds)]
        changes = store.ledger.record(sent, "another" if lost else "web", "web",
                                      (request_id, {"n": 1}) if answer else None)
        with store.engine.connect() as conn:
            tables = [[{k: v for k, v in row._mapping.items() if k not in IDS} for row in conn.execute(query)]
                      for query in (select(DELIVERIES).order_by(DELIVERIES.c.item_index),
                                    select(ATTEMPTS, DELIVERIES.c.item_index).join(DELIVERIES)
                                    .order_by(DELIVERIES.c.item_index), select(GATES))]
        return [{k: v for k, v in c.items() if k != "_id"} for c in changes], *tables
    finally:
        store.close()


@pytest.mark.parametrize("kinds, answer, lost, gate_before", [
    (["ok"], False, False, False), (["ok", "ok", "refused"], False, False, True), (["down"], False, False, True),
    (["ok", "down"], False, False, False), (["ok"], True, False, False), (["ok", "ok"], False, True, False),
    ([], True, False, False), (["ok"], True, False, True),
], ids=["one-success", "batch-settles-a-gate", "failure-opens-the-breaker", "batch-mixed", "with-answer",
        "lease-lost", "answer-only", "with-answer-settles-a-gate"])
def test_one_statement_leaves_what_three_did(pg_database, kinds, answer, lost, gate_before):
    one = record(pg_database, True, kinds, answer, lost, gate_before)
    three = record(pg_database, False, kinds, answer, lost, gate_before)
    assert one == three
    changes, _, attempts, gates = one
    assert len(attempts) == len(kinds) and len(changes) == (0 if lost else len(kinds))
    assert gates and gates[0]["state"] == ("open" if kinds == ["down"] else "closed")
    if kinds and set(kinds) == {"ok"}:  # a success settles the gate: the failure before it is forgotten
        assert gates[0]["failures"] == 0
