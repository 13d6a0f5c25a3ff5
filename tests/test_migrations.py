"""A ledger made by migration 0001 upgrades to 0002 without loss, on SQLite and on PostgreSQL."""

import json
import warnings
from datetime import datetime

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import SAWarning

from settings import database_url
from store.db import make_engine, upgrade
from tests.conftest import relay_of, throwaway_pg_database

OLD_ROW = {"id": "d" * 32, "request_id": "r" * 32, "item_index": 0, "idempotency_key": "justclick:k-old",
           "destination": "justclick", "target": "old@example.com", "group_name": "Main", "campaign": None,
           "options": "{}", "payload": json.dumps({"lead_email": "old@example.com", "rass_name": "Main"}),
           "status": "done", "outcome": "unsubscribed", "attempts": 1, "last_code": "0", "last_text": "ok",
           "error_kind": None, "created_at": datetime(2026, 1, 2, 3, 4, 5),
           "updated_at": datetime(2026, 1, 2, 3, 4, 6), "next_attempt_at": datetime(2026, 1, 2, 3, 4, 5),
           "retry_since": datetime(2026, 1, 2, 3, 4, 5), "completed_at": datetime(2026, 1, 2, 3, 4, 6),
           "lease_owner": None, "lease_until": None}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request, tmp_path):
    """A database with no tables yet."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.sqlite3'}"
        return
    with throwaway_pg_database("unsub_relay_mig") as url:
        yield url


def test_0001_upgrades_to_0002_without_loss(empty_url, env, justclick):
    engine = make_engine(database_url({"DATABASE_URL": empty_url}, "instance"))
    upgrade(engine, "0001")
    columns = ", ".join(OLD_ROW)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO webhook_requests (id, idempotency_key, http_status, answer, created_at) "
                          "VALUES (:id, :key, 200, :answer, :at)"),
                     {"id": "r" * 32, "key": "justclick:k-old", "at": OLD_ROW["created_at"],
                      "answer": json.dumps({"id": "r" * 32, "status": "unsubscribed", "results": []})})
        conn.execute(text(f"INSERT INTO deliveries ({columns}) VALUES ({', '.join(':' + c for c in OLD_ROW)})"),
                     OLD_ROW)
    upgrade(engine)
    tables = inspect(engine)
    assert "attempts" in tables.get_table_names()
    assert {"fingerprint", "lease_until"} <= {c["name"] for c in tables.get_columns("webhook_requests")}
    engine.dispose()

    from app import create_app
    app = create_app({**env, "DATABASE_URL": empty_url})
    shown = json.loads(app.test_cli_runner().invoke(args=["deliveries", "show", "d" * 32]).output)
    assert {k: shown[k] for k in ("target", "status", "outcome", "last_code")} == {
        "target": "old@example.com", "status": "done", "outcome": "unsubscribed", "last_code": "0"}
    assert shown["created_at"] == "2026-01-02T03:04:05Z" and shown["attempt_history"] == []
    relay_of(app).service.store.close()


@pytest.mark.parametrize("revision", ["0001", "0002", "0003", "0004", "0005", "0006", "0007"])
def test_every_earlier_revision_upgrades_to_provenance_and_read_backs(empty_url, revision):
    """0008 from any revision: rows written before keep their data, no provenance, no read-back due."""
    engine = make_engine(database_url({"DATABASE_URL": empty_url}, "instance"))
    upgrade(engine, revision)
    with engine.begin() as conn:
        conn.execute(text(f"INSERT INTO deliveries ({', '.join(OLD_ROW)}) "
                          f"VALUES ({', '.join(':' + c for c in OLD_ROW)})"), OLD_ROW)
    upgrade(engine)
    tables = inspect(engine)
    new = {"channel", "auth_method", "received_at", "confirm_due_at", "confirm_attempts", "confirmed_at",
           "confirmation", "confirmation_detail", "confirmed_until"}
    assert new <= {c["name"] for c in tables.get_columns("deliveries")}
    with warnings.catch_warnings():  # SQLite's reflection skips the expression index on lower(target), saying so
        warnings.simplefilter("ignore", SAWarning)
        indexes = {i["name"] for i in tables.get_indexes("deliveries")}
    assert "ix_deliveries_confirm_due" in indexes
    with engine.connect() as conn:
        row = conn.execute(text(f"SELECT target, status, {', '.join(sorted(new))} FROM deliveries")).mappings().one()
    engine.dispose()
    assert dict(row) == {"target": "old@example.com", "status": "done", **{name: None for name in new},
                         "confirm_attempts": 0}
