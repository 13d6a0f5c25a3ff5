"""The console's pages against what a real deployment has: a worker's heartbeat (SQLite and PostgreSQL),
query arguments that are not ours (a 400 page each, never a traceback), sandbox rows beside live ones
(never shown), and datetimes all the way to the page."""

from datetime import datetime, timedelta

import pytest
from sqlalchemy import insert

from console import formats
from status import FAILED
from store.models import DELIVERIES
from store.reports import ReportQueries
from tests.conftest import FakeClock, make_worker, relay_of, store_of
from tests.test_console import (accept, console_app, console_store_app, csrf_of, ids_on,  # noqa: F401
                                log_in, operator, search)

CURSOR = "2026-01-02T03:04:05~" + "a" * 32


@pytest.mark.parametrize("query", [
    "/console/log?before=%C2%B2",  # a superscript two: str.isdigit() says yes, int() says no
    "/console/log?before=" + "1" * 26,
    "/console/log?before=2147483648",
    "/console/log?before=0",
    "/console/log?before=-1",
    "/console/log?before=1_0",
    "/console/log?before=%D9%A3",  # an Arabic-Indic three
    "/console/log?shown=x",
    "/console/search?until=9999-12-31",
    "/console/search?since=0001-01-01",
    "/console/search?since=2026-02-01&until=2026-01-31",
    "/console/search?since=2026-13-40",
    "/console/search?status=lost",
    "/console/search?destination=nowhere",
    "/console/search?address=1&match=regex",
    "/console/search?older=nonsense",
    "/console/search?newer=2026-01-01~../x",
    "/console/search?older=" + CURSOR.replace("~", "+05:00~"),
    "/console/search?older=2026-01-02T03:04:05~%D9%A3",
    "/console/search?older=99999-01-02~" + "a" * 32,
], ids=["superscript", "26 digits", "past INTEGER", "zero", "negative", "underscore", "arabic digit", "shown",
        "until the last day", "since year 1", "until before since", "no such day", "status", "destination",
        "match", "cursor", "cursor id", "cursor with offset", "cursor arabic id", "cursor year"])
def test_malformed_query_arguments_are_400_pages(console_store_app, query):
    client = console_store_app.test_client()
    assert log_in(client).status_code == 303
    answer = client.get(query)
    text = answer.get_data(as_text=True)
    assert answer.status_code == 400 and "<html" in text and "Traceback" not in text


@pytest.mark.parametrize("query", ["/console/log?before=1", "/console/log?shown=5",
                                   "/console/search?until=9998-12-31", "/console/search?since=1970-01-01",
                                   "/console/search?since=2026-01-31&until=2026-01-31",
                                   "/console/search?older=" + CURSOR],
                         ids=["before", "shown", "last day", "first day", "one day", "cursor"])
def test_wellformed_query_arguments_are_pages(operator, query):
    assert operator.get(query).status_code == 200


@pytest.mark.parametrize("address", ["nul\x00@example.com", "tab\t@example.com"], ids=["nul", "tab"])
def test_control_characters_in_a_search_are_400(console_store_app, address):
    client = console_store_app.test_client()
    log_in(client)
    page = client.get("/console/search")
    answer = client.post("/console/search", data={"csrf_token": csrf_of(page), "address": address})
    assert answer.status_code == 400 and "control characters" in answer.get_data(as_text=True)


@pytest.mark.parametrize("stopped", [False, True], ids=["running", "stopped"])
def test_overview_with_a_worker_heartbeat(console_store_app, justclick, stopped):
    """A worker has written its heartbeat (the real Watch): the overview shows when it was seen."""
    clock = FakeClock()
    store_of(console_store_app).clock = clock
    client = console_store_app.test_client()
    log_in(client)
    assert "never seen" in client.get("/console/").get_data(as_text=True)
    justclick.subscribe("hb@example.com", "Main")
    accept(client, "hb@example.com", queue_only=True)
    worker = make_worker(console_store_app)
    assert worker.run_once() == 1
    worker.watch.claimed()
    worker.watch.beat()
    if stopped:
        worker.watch.stop()
    clock.advance(30)
    page = client.get("/console/")
    text = page.get_data(as_text=True)
    assert page.status_code == 200, text
    assert "last seen 30 s ago" in text and f"{0 if stopped else 1} running" in text
    assert formats.when(clock.now - timedelta(seconds=30)) in text


@pytest.mark.parametrize("value, shown", [
    (datetime(2026, 11, 23, 21, 3, 35, 123), "2026-11-23 21:03:35 UTC"),
    (None, "-"),
], ids=["datetime", "none"])
def test_when(value, shown):
    assert formats.when(value) == shown


def test_when_refuses_strings():
    """A page is given datetimes: an ISO string reaching it is the bug, not something to parse."""
    with pytest.raises(TypeError):
        formats.when("2026-11-23T21:03:35Z")


SANDBOX_EMAIL = "sandboxed.person@example.com"


def sandbox_rows(app, count=3, status=FAILED):
    """Rows a sandbox process wrote into this (live) ledger, inserted directly; their ids."""
    now = store_of(app).now()
    rows = [{"id": f"5a{n:030x}", "request_id": f"5b{n:030x}", "item_index": 0, "destination": "justclick",
             "target": SANDBOX_EMAIL, "group_name": "Main", "options": {},
             "payload": {"lead_email": SANDBOX_EMAIL},
             "status": status, "outcome": "rejected", "attempts": 1, "last_code": "800", "created_at": now,
             "updated_at": now, "next_attempt_at": now, "retry_since": now, "mode": "sandbox"}
            for n in range(count)]
    with store_of(app).writer.writing() as conn:
        conn.execute(insert(DELIVERIES), rows)
    return [row["id"] for row in rows]


@pytest.fixture
def mixed(console_store_app):
    """A live console app whose ledger holds one live delivery and three failed sandbox ones."""
    client = console_store_app.test_client()
    log_in(client)
    live = accept(client, "live.person@example.com")
    return console_store_app, client, live, sandbox_rows(console_store_app)


def test_sandbox_rows_are_never_shown(mixed, justclick):
    app, client, live, sandboxed = mixed
    overview = client.get("/console/").get_data(as_text=True)
    assert "Nothing failing." in overview and "/console/destinations/justclick/replay" not in overview
    reports = relay_of(app).reports
    assert reports.overview()["month"]["justclick"]["total"] == 1
    assert ids_on(client.get("/console/search")) == [live]
    assert ids_on(client.get(search(client, address=SANDBOX_EMAIL))) == []
    assert client.get(f"/console/deliveries/{sandboxed[0]}").status_code == 404
    assert client.get(f"/console/deliveries/{live}").status_code == 200
    assert "<strong>" not in client.get("/console/destinations/justclick/replay").get_data(as_text=True)
    token = csrf_of(client.get("/console/"))
    refused = client.post(f"/console/deliveries/{sandboxed[0]}/replay", data={"csrf_token": token})
    assert refused.status_code == 404
    sent = len(justclick.requests)
    client.post("/console/destinations/justclick/replay", data={"csrf_token": token, "expected": "0"})
    assert relay_of(app).operations.replay(sandboxed) == 0 and len(justclick.requests) == sent
    rows, _ = ReportQueries(store_of(app).writer, "sandbox").search({})
    assert sorted(r["id"] for r in rows if r["status"] == FAILED) == sorted(sandboxed)  # untouched
