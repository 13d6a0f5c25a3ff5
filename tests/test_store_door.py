"""The ledger has one door: typed rows to every caller (JSON at the edge only), one backlog for every
reader, every statement named in store/statements.py, no SQLAlchemy internals."""

import ast
import json
import pathlib
from datetime import datetime

import pytest

from delivery.reports import Reports
from tests.conftest import make_worker, relay_of, store_of
from tests.helpers import post

ROOT = pathlib.Path(__file__).resolve().parent.parent
A, B = "anna@example.com", "bert@example.com"
# What reading past SQLAlchemy's public API looked like (store/prepared.py, engine.py's raw savepoints).
PRIVATE = ("positiontup", "bind_names", "dispatch", "_mapping", "_execute", "_compile")
# The modules that reach the driver's connection: the hot path's statements (with public API only) and the
# engine's BEGIN IMMEDIATE on SQLite.
DRIVER = ("store/hot.py", "store/engine.py")
SQL_BUILDERS = {"select", "insert", "update", "delete", "text", "bindparam"}


def delivered(app, justclick, *addresses):
    client = app.test_client()
    for address in addresses:
        justclick.subscribe(address, "Main")
        assert post(client, {"email": address}, route="justclick").status_code == 200
    return store_of(app)


def iso(value):
    return value.isoformat() + "Z"


def test_rows_come_back_typed_and_json_at_the_edge(store_app, justclick):
    store = delivered(store_app, justclick, A)
    [row] = store.queries.find(target=A)
    [attempt] = store.queries.attempts(row["id"])
    assert all(isinstance(v, datetime) for v in (row["created_at"], row["completed_at"], attempt["started_at"]))
    assert store.queries.get(row["id"]) == row
    shown = relay_of(store_app).operations.show(row["id"])
    assert shown["created_at"] == iso(row["created_at"]) and shown["attempt_history"][0]["started_at"] == \
        iso(attempt["started_at"])
    listed = store_app.test_cli_runner().invoke(args=["deliveries", "list", "--json", "--target", A.upper()])
    assert json.loads(listed.output)["completed_at"] == iso(row["completed_at"])


@pytest.mark.parametrize("pending", [0, 1, 2], ids=["none", "one", "two"])
def test_every_reader_sees_one_backlog(store_app, justclick, clock, pending):
    store = delivered(store_app, justclick, A)  # done: not in the backlog
    for n in range(pending):
        justclick.script[f"q{n}@example.com"] = "502"
        justclick.subscribe(f"q{n}@example.com", "Main")
        post(store_app.test_client(), {"email": f"q{n}@example.com"}, route="justclick")
    clock.advance(60)
    count, oldest = store.backlog()
    assert count == pending and (oldest is None) == (pending == 0)
    assert store.alerts.oldest_pending() == (None if not pending else (oldest, pending))
    ready = store_app.test_client().get("/readyz").json["store"]["oldest_pending_seconds"]
    assert ready == (60.0 if pending else 0.0)
    assert Reports(relay_of(store_app).service).overview()["pending"] == pending


def test_a_replay_leases_and_sends_exactly_its_rows(store_app, justclick):
    store = delivered(store_app, justclick, A)
    [row] = store.queries.find(target=A)
    assert relay_of(store_app).operations.replay([row["id"]]) == 1
    assert store.queries.get(row["id"])["attempts"] == 2 and make_worker(store_app).run_once() == 0


def sources(folder):
    return [path for path in (ROOT / folder).rglob("*.py")]


@pytest.mark.parametrize("path", sources("store"), ids=lambda p: str(p.relative_to(ROOT / "store")))
def test_the_store_reads_no_sqlalchemy_internals_and_builds_sql_in_one_place(path):
    text = path.read_text()
    assert not [word for word in PRIVATE if word in text]
    # The statements are built in store/statements/ alone; the tables are declared in models.py.
    if path.parent.name != "statements" and path.name != "models.py":
        imported = {alias.name for node in ast.walk(ast.parse(text)) if isinstance(node, ast.ImportFrom)
                    and (node.module or "").startswith("sqlalchemy") for alias in node.names}
        assert not imported & SQL_BUILDERS
    if str(path.relative_to(ROOT)) not in DRIVER:
        assert "driver_connection" not in text


def test_nothing_outside_the_store_reaches_past_its_door():
    inner = ("store.models", "store.statements", "store.engine", "store.db", "store.export", "store.reports",
             "store.queries", "store.gates", "store.sessions")
    reaching = []
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT).parts
        if parts[0] in ("store", "tests", "bench", "migrations", ".venv") or parts[0].startswith("."):
            continue
        text = path.read_text()
        reaching += [f"{path.relative_to(ROOT)}: {name}" for name in inner if f"{name} import" in text
                     or f"import {name}" in text or f"from store import {name.split('.')[1]}" in text]
        if "store.writer" in text or "store.engine" in text:
            reaching.append(f"{path.relative_to(ROOT)}: the store's engine")
    assert reaching == []
