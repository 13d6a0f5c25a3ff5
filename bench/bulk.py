"""A ledger of N past deliveries in one INSERT ... SELECT per table (a million rows in seconds).

Written against the CURRENT schema (migrations/versions/0001, 0002); re-point the column lists
after a schema change. Row i of N:
  - i < PURGEABLE: done, 90 to 100 days old (what `purge --older-than 90d` removes, in ten slices);
  - i >= N - DUE: pending and due, one to forty minutes old (what a worker claims);
  - every 100th other row: pending, retrying in an hour; every 50th: failed; the rest done,
    spread over the last 89 days;
  - a quarter of them Mailkit, the rest JustClick in group Main; every 10th with an idempotency key;
  - one attempt for each finished one.
"""

import sqlite3
import time
from datetime import datetime

from sqlalchemy import text

PURGEABLE, DUE = 1000, 2000
DAY = 86400


def existing_target(i):
    """The address of fill row i."""
    return f"fill-{i}@example.com"


def _dialect_parts(name):
    """(rows i = 0..n-1 as `s(i)`, a delivery id, timestamp :now minus `age` seconds, row i's request id).

    Ids ascend with i: random ones would make the fill's primary-key inserts several times slower, and
    the lookups measured afterwards walk a tree of the same depth either way.
    """
    if name == "sqlite":
        return ("(WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < :n - 1) "
                "SELECT i FROM s) AS s",
                "printf('f%031x', i)",
                # SQLAlchemy's own SQLite DateTime text, so comparisons with bound datetimes hold.
                "strftime('%Y-%m-%d %H:%M:%S', :now_epoch - ({age}), 'unixepoch') || '.000000'",
                "printf('%032x', i)")
    return ("generate_series(0, :n - 1) AS s(i)", "'f' || lpad(to_hex(i), 31, '0')",
            "(CAST(:now AS timestamp) - ({age}) * interval '1 second')", "lpad(to_hex(i), 32, '0')")


def statements(dialect):
    """(deliveries, webhook_requests, attempts INSERTs) for this dialect; parameters n, now, now_epoch."""
    series, random_id, moment, row_id = _dialect_parts(dialect)
    age = (f"CASE WHEN i < {PURGEABLE} THEN {90 * DAY} + {10 * DAY}.0 * ({PURGEABLE} - i) / {PURGEABLE} "
           f"WHEN i >= :n - {DUE} THEN 60 + (:n - i) "
           f"ELSE {89 * DAY}.0 * (:n - i) / :n END")
    created = moment.format(age=age)
    status = (f"CASE WHEN i >= :n - {DUE} THEN 'pending' "
              f"WHEN i % 100 = 7 AND i >= {PURGEABLE} THEN 'pending' "
              "WHEN i % 50 = 1 THEN 'failed' ELSE 'done' END")
    due = f"CASE WHEN i >= :n - {DUE} THEN {moment.format(age='60')} " \
          f"WHEN i % 100 = 7 AND i >= {PURGEABLE} THEN {moment.format(age='-3600')} ELSE {created} END"
    finished = f"CASE WHEN {status} = 'pending' THEN NULL ELSE {created} END"
    deliveries = (
        "INSERT INTO deliveries (id, request_id, item_index, idempotency_key, destination, target, "
        "group_name, campaign, options, payload, status, outcome, attempts, last_code, last_text, "
        "error_kind, created_at, updated_at, next_attempt_at, retry_since, completed_at, lease_owner, "
        "lease_until) "
        f"SELECT {random_id}, {row_id}, 0, CASE WHEN i % 10 = 0 THEN 'justclick:fill-' || i END, "
        "CASE WHEN i % 4 = 0 THEN 'mailkit' ELSE 'justclick' END, 'fill-' || i || '@example.com', "
        "CASE WHEN i % 4 = 0 THEN NULL ELSE 'Main' END, NULL, '{}', "
        "'{\"lead_email\": \"fill@example.com\", \"rass_name\": \"Main\"}', "
        f"{status}, CASE WHEN {status} = 'done' THEN 'unsubscribed' END, 1, '0', 'OK', NULL, "
        f"{created}, {created}, {due}, {created}, {finished}, NULL, NULL FROM {series}")
    requests = (
        "INSERT INTO webhook_requests (id, idempotency_key, http_status, answer, created_at) "
        f"SELECT {row_id}, 'justclick:fill-' || i, 200, '{{}}', {created} FROM {series} WHERE i % 10 = 0")
    # One attempt per finished delivery, as the web or the worker recorded it.
    attempts = ("INSERT INTO attempts (delivery_id, number, started_at, duration_ms, sender, outcome, code, "
                "text, error_kind) SELECT id, 1, created_at, 120, 'web', COALESCE(outcome, 'failed'), "
                "'0', 'OK', NULL FROM deliveries WHERE status != 'pending'")
    return deliveries, requests, attempts


INDEXES = {  # the secondary indexes' own CREATE statements, read back from the catalogue
    "sqlite": "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name IN "
              "('deliveries', 'webhook_requests', 'attempts') AND sql IS NOT NULL",
    "postgresql": "SELECT i.indexname, i.indexdef FROM pg_indexes i "
                  "JOIN pg_class c ON c.relname = i.indexname JOIN pg_index x ON x.indexrelid = c.oid "
                  "WHERE i.tablename IN ('deliveries', 'webhook_requests', 'attempts') "
                  "AND NOT x.indisprimary AND NOT x.indisunique",
}


def fill(engine, count, now):
    """Write `count` deliveries (and their keyed requests) as of naive-UTC `now`; returns seconds taken.

    The secondary indexes are dropped first and built again from their own definitions afterwards:
    building an index over a million rows at once is several times faster than growing it row by row.
    """
    started = time.monotonic()
    dialect = engine.dialect.name
    if dialect == "sqlite":
        _fill_sqlite(engine.url.database, statements(dialect),
                     {"n": count, "now_epoch": (now - datetime(1970, 1, 1)).total_seconds()})
        return time.monotonic() - started
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL synchronous_commit = off"))
        conn.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
        indexes = conn.execute(text(INDEXES[dialect])).all()
        for name, _ in indexes:
            conn.execute(text(f'DROP INDEX "{name}"'))
        for statement in statements(dialect):
            conn.execute(text(statement), {"n": count, "now": now})
        for _, create in indexes:
            conn.execute(text(create))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        # What autovacuum does to a table this size in production: fresh statistics for the planner, the
        # visibility map set; then a checkpoint, so the fill's writes are not flushed while timings run.
        conn.execute(text("VACUUM ANALYZE deliveries, webhook_requests, attempts"))
        conn.execute(text("CHECKPOINT"))
    return time.monotonic() - started


def _fill_sqlite(path, statements_, params):
    """One raw connection without a journal: the fill is scaffolding, not the thing measured."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-262144"):
            conn.execute(f"PRAGMA {pragma}")
        conn.execute("BEGIN")
        indexes = conn.execute(INDEXES["sqlite"]).fetchall()
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        for statement in statements_:
            conn.execute(statement, params)
        for _, create in indexes:
            conn.execute(create)
        conn.execute("COMMIT")
        conn.execute("PRAGMA journal_mode=WAL")  # as the app leaves it
    finally:
        conn.close()
