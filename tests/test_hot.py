"""The hot statements on the driver's cursor (store/hot.py) write and read exactly what Core does: a row
written each way reads back the same through Core, and a look-up returns the same values each way. On SQLite
(datetimes as text, JSON as text) and on PostgreSQL (native types)."""

from datetime import datetime

import pytest
from sqlalchemy import select

from store import hot
from store import statements as sql
from store.models import DELIVERIES
from store.rows import recordset
from tests.conftest import TRUNCATE_ALL, store_of

WHEN = datetime(2026, 12, 3, 18, 40, 44, 123456)
ROW = {"request_id": "r1", "item_index": 0, "idempotency_key": None, "destination": "justclick",
       "target": "Anna.Example@example.com", "group_name": "Main", "campaign": None,
       "options": {"doi": False}, "payload": {"lead_email": "Anna.Example@example.com", "rid": ["Main"]},
       "status": "pending", "attempts": 0, "created_at": WHEN, "updated_at": WHEN.replace(microsecond=0),
       "next_attempt_at": WHEN, "retry_since": WHEN, "lease_owner": None, "lease_until": None, "mode": "live",
       "channel": "webhook", "auth_method": "token", "received_at": WHEN}
WRITERS = {"core": lambda conn, rows: conn.execute(sql.INSERT_DELIVERY, rows),
           "driver": lambda conn, rows: hot.run(conn, sql.INSERT_DELIVERY, rows),
           # PostgreSQL's batch INSERT: the rows as one JSON recordset (ledger Accepts._insert)
           "recordset": lambda conn, rows: hot.rows(conn, sql.INSERT_DELIVERIES,
                                                    {"rows": recordset(rows, sql.NEW_DELIVERY)})}


@pytest.fixture
def pg_store_app(env, pg_database):
    """An app on PostgreSQL alone, with empty tables (what only PostgreSQL runs)."""
    import psycopg

    from app import create_app
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(TRUNCATE_ALL)
    app = create_app({**env, "DATABASE_URL": pg_database})
    yield app
    store_of(app).close()


def written(store, how, ids):
    with store.writer.writing() as conn:
        WRITERS[how](conn, [{**ROW, "id": i} for i in ids])
    with store.engine.connect() as conn:
        found = conn.execute(select(DELIVERIES).where(DELIVERIES.c.id.in_(ids))).mappings().all()
        # As stored, unconverted (SQLite keeps datetimes as text: their spelling must be Core's too).
        stored = conn.exec_driver_sql("SELECT * FROM deliveries").mappings().all()
    stored = [{k: v for k, v in row.items() if k != "id"} for row in stored if row["id"] in ids]
    return [{k: v for k, v in row.items() if k != "id"} for row in found], stored


def beside_core(store, how, count):
    """(`count` rows written by Core, `count` written `how`), each as written() reads them back."""
    return [written(store, by, [f"{by}{count}-{i}" for i in range(count)]) for by in ("core", how)]


@pytest.mark.parametrize("count", [1, 3], ids=["one row", "executemany"])
def test_a_row_written_on_the_driver_reads_back_as_one_written_by_core(store_app, count):
    by_core, by_driver = beside_core(store_of(store_app), "driver", count)
    assert by_driver == by_core and len(by_core[0]) == count
    assert by_core[0][0]["created_at"] == WHEN and by_core[0][0]["options"] == {"doi": False}


@pytest.mark.postgres
@pytest.mark.parametrize("count", [1, 3], ids=["one row", "three"])
def test_a_batch_written_as_a_recordset_reads_back_as_rows_written_by_core(pg_store_app, count):
    by_core, by_recordset = beside_core(store_of(pg_store_app), "recordset", count)
    assert by_recordset == by_core and len(by_core[0]) == count


@pytest.mark.postgres
def test_a_batch_look_up_returns_each_address_s_rows_as_its_own_look_up(pg_store_app):
    store = store_of(pg_store_app)
    written(store, "core", ["m1", "m2"])
    with store.writer.writing() as conn:  # and one of no group, which only a look-up of no group finds
        conn.execute(sql.INSERT_DELIVERY, {**ROW, "id": "m3", "group_name": None})
    asked = [("anna.example@EXAMPLE.com", "Main"), ("nobody@example.com", "Main"),
             ("ANNA.example@example.com", None)]
    since = datetime(2026, 1, 1)
    with store.writer.writing() as conn:
        one_by_one = [hot.rows(conn, sql.DEDUP_NO_GROUP if group is None else sql.DEDUP_GROUP,
                               {"target": target, "destination": "justclick", "group": group, "since": since,
                                "mode": "live"}) for target, group in asked]
        batch = hot.rows(conn, sql.DEDUP_MANY, {
            "q": [0, 1, 2], "targets": [t for t, _ in asked], "destinations": ["justclick"] * 3,
            "groups": [g for _, g in asked], "sinces": [since] * 3, "mode": "live"})
    by_query = [[{k: v for k, v in row.items() if k != "q"} for row in batch if row["q"] == n]
                for n in range(3)]
    assert by_query == one_by_one and [len(rows) for rows in by_query] == [2, 0, 1]


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
