"""Statements on the driver's cursor (store/prepared.py) store and read what Core would, on both databases,
and are seen by SQLAlchemy's before_cursor_execute listeners."""

from datetime import datetime

import pytest
from sqlalchemy import event, select

from store.models import DELIVERIES
from store.statements import DEDUP_GROUP, INSERT_ONE_DELIVERY, ROW_COLUMNS, SET_RESULT
from tests.conftest import store_of

AT = datetime(2026, 11, 23, 12, 0, 0, 123456)


def row(n, **changes):
    values = {column: None for column in ROW_COLUMNS}
    values.update(id=f"p{n:031d}", request_id="r" * 32, item_index=0, destination="justclick",
                  target=f"Prep{n}@example.com", group_name="Main", options={"a": [1, "ü"]},
                  payload={"lead_email": f"Prep{n}@example.com"}, status="pending", attempts=0,
                  created_at=AT, updated_at=AT, next_attempt_at=AT, retry_since=AT, mode="live")
    return {**values, **changes}


def core_row(store, row_id):
    with store.engine.connect() as conn:
        return dict(conn.execute(select(DELIVERIES).where(DELIVERIES.c.id == row_id)).one()._mapping)


@pytest.mark.parametrize("changes", [{}, {"idempotency_key": "k:1", "lease_owner": "web", "lease_until": AT},
                                     {"group_name": None, "options": {}}],
                         ids=["plain", "leased", "no-group"])
def test_an_insert_reads_back_through_core(store_app, changes):
    store = store_of(store_app)
    written = row(1, **changes)
    with store.writer.writing() as conn:
        assert INSERT_ONE_DELIVERY.rowcount(conn, written) == 1
    stored = core_row(store, written["id"])
    assert {column: stored[column] for column in ROW_COLUMNS} == written


def test_a_query_and_an_update_convert_both_ways(store_app):
    store = store_of(store_app)
    with store.writer.writing() as conn:
        INSERT_ONE_DELIVERY.rowcount(conn, row(2, lease_owner="web"))
        found = DEDUP_GROUP.all(conn, {"target": "prep2@EXAMPLE.com", "destination": "justclick",
                                       "group": "Main", "since": AT})
        changed = SET_RESULT.rowcount(conn, {"_id": row(2)["id"], "_owner": "web", "attempts": 1,
                                             "updated_at": AT, "last_code": "0", "last_text": "OK",
                                             "error_kind": None, "lease_owner": None, "lease_until": None,
                                             "status": "done", "outcome": "unsubscribed", "completed_at": AT,
                                             "next_attempt_at": AT})
    assert found == [{"id": row(2)["id"], "target": "Prep2@example.com", "status": "pending", "outcome": None,
                      "last_code": None, "payload": {"lead_email": "Prep2@example.com"}}]  # any case finds
    # the candidates; the ledger compares what each asked the vendor
    assert changed == 1 and core_row(store, row(2)["id"])["completed_at"] == AT


def test_listeners_see_the_statement(store_app):
    store, seen = store_of(store_app), []

    def caught(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(store.engine, "before_cursor_execute", caught)
    try:
        with store.writer.writing() as conn:
            INSERT_ONE_DELIVERY.rowcount(conn, row(3))
    finally:
        event.remove(store.engine, "before_cursor_execute", caught)
    assert any(statement.startswith("INSERT INTO deliveries") for statement in seen)
