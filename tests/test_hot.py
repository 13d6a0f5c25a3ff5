"""The hot statements on the driver's cursor (store/hot.py) write and read exactly what Core does: a row
written each way reads back the same through Core, and a look-up returns the same values each way. On SQLite
(datetimes as text, JSON as text) and on PostgreSQL (native types)."""

from datetime import datetime

import pytest
from sqlalchemy import select

from store import hot
from store import statements as sql
from store.models import DELIVERIES
from tests.conftest import store_of

WHEN = datetime(2026, 12, 3, 18, 40, 44, 123456)
ROW = {"request_id": "r1", "item_index": 0, "idempotency_key": None, "destination": "justclick",
       "target": "Anna.Example@example.com", "group_name": "Main", "campaign": None,
       "options": {"doi": False}, "payload": {"lead_email": "Anna.Example@example.com", "rid": ["Main"]},
       "status": "pending", "attempts": 0, "created_at": WHEN, "updated_at": WHEN.replace(microsecond=0),
       "next_attempt_at": WHEN, "retry_since": WHEN, "lease_owner": None, "lease_until": None, "mode": "live",
       "channel": "webhook", "auth_method": "token", "received_at": WHEN}
WRITERS = {"core": lambda conn, rows: conn.execute(sql.INSERT_DELIVERY, rows),
           "driver": lambda conn, rows: hot.run(conn, sql.INSERT_DELIVERY, rows)}


def written(store, how, ids):
    with store.writer.writing() as conn:
        WRITERS[how](conn, [{**ROW, "id": i} for i in ids])
    with store.engine.connect() as conn:
        found = conn.execute(select(DELIVERIES).where(DELIVERIES.c.id.in_(ids))).mappings().all()
        # As stored, unconverted (SQLite keeps datetimes as text: their spelling must be Core's too).
        stored = conn.exec_driver_sql("SELECT * FROM deliveries").mappings().all()
    stored = [{k: v for k, v in row.items() if k != "id"} for row in stored if row["id"] in ids]
    return [{k: v for k, v in row.items() if k != "id"} for row in found], stored


@pytest.mark.parametrize("count", [1, 3], ids=["one row", "executemany"])
def test_a_row_written_on_the_driver_reads_back_as_one_written_by_core(store_app, count):
    store = store_of(store_app)
    by_core = written(store, "core", [f"c{count}-{i}" for i in range(count)])
    by_driver = written(store, "driver", [f"d{count}-{i}" for i in range(count)])
    assert by_driver == by_core and len(by_core[0]) == count
    assert by_core[0][0]["created_at"] == WHEN and by_core[0][0]["options"] == {"doi": False}


def test_a_look_up_on_the_driver_returns_what_core_returns(store_app):
    store = store_of(store_app)
    written(store, "core", ["l1"])
    params = {"target": "anna.example@EXAMPLE.com", "destination": "justclick", "group": "Main",
              "since": datetime(2026, 1, 1), "mode": "live"}
    with store.writer.writing() as conn:
        by_core = [dict(row) for row in conn.execute(sql.DEDUP_GROUP, params).mappings()]
        by_driver = hot.rows(conn, sql.DEDUP_GROUP, params)
    assert by_driver == by_core and by_core[0]["payload"]["rid"] == ["Main"]


def test_a_value_the_column_cannot_take_is_the_store_s_error(store_app):
    from errors import StoreUnavailable
    store = store_of(store_app)
    with pytest.raises(StoreUnavailable), store.writer.writing() as conn:
        hot.run(conn, sql.INSERT_DELIVERY, {**ROW, "id": "bad", "payload": {"x": object()}})
