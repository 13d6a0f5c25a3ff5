"""Rows carry their mode (live or sandbox): a process writes its own, and claims, dedups, replays, lists and
replays keys only within it. A sandbox worker pointed at the live ledger leaves live rows alone."""

import json

import pytest
from sqlalchemy import select

from store.models import DELIVERIES
from tests.conftest import make_worker, relay_of, store_of
from tests.helpers import post

A = "anna@example.com"
NO_CREDENTIALS = {"JUSTCLICK_LOGIN": None, "JUSTCLICK_SECRET": None, "MAILKIT_CLIENT_ID": None,
                  "MAILKIT_CLIENT_MD5": None}


@pytest.fixture
def apps(make_app, store_env):
    """(live app, sandbox app) on one ledger."""
    url = store_env["DATABASE_URL"]
    live = make_app(DATABASE_URL=url)
    sandbox = make_app(DATABASE_URL=url, SANDBOX="1", **NO_CREDENTIALS)
    assert (store_of(live).mode, store_of(sandbox).mode) == ("live", "sandbox")
    return {"live": live, "sandbox": sandbox}


def modes(app):
    with store_of(app).engine.connect() as conn:
        return dict(conn.execute(select(DELIVERIES.c.target, DELIVERIES.c.mode)).all())


def queue(app, email, headers=None):
    """A webhook left to the worker (Prefer: respond-async)."""
    answer = post(app.test_client(), {"email": email}, route="justclick",
                  headers={"Prefer": "respond-async", **(headers or {})})
    assert answer.status_code == 202
    return answer.json["results"][0]["delivery_id"]


@pytest.mark.parametrize("writer", ["live", "sandbox"], ids=["live-row", "sandbox-row"])
def test_a_worker_takes_only_rows_of_its_mode(apps, justclick, writer):
    other = "sandbox" if writer == "live" else "live"
    justclick.subscribe(A, "Main")
    queue(apps[writer], A)
    assert modes(apps[writer]) == {A: writer}
    assert make_worker(apps[other]).drain() == 0  # untouched: still pending, nobody called
    assert store_of(apps[other]).other_mode_pending() == 1
    assert store_of(apps[writer]).other_mode_pending() == 0
    assert store_of(apps[other]).backlog() == (0, None)
    assert make_worker(apps[writer]).drain() == 1
    assert store_of(apps[other]).other_mode_pending() == 0
    assert (len(justclick.requests) == 1) == (writer == "live")  # the sandbox's row went to its simulator


def test_a_sandbox_worker_leaves_a_live_row_untouched(apps, justclick):
    justclick.subscribe(A, "Main")
    delivery_id = queue(apps["live"], A)
    make_worker(apps["sandbox"]).drain()
    row = store_of(apps["live"]).queries.get(delivery_id)
    assert (row["status"], row["attempts"], row["lease_owner"], row["mode"]) == ("pending", 0, None, "live")
    assert justclick.requests == []


@pytest.mark.parametrize("action", ["dedup", "idempotency-key", "list", "show", "replay-failed"])
def test_the_other_mode_is_not_seen(apps, justclick, action):
    """What the live process did is neither an answer nor a row for the sandbox, whatever the way in."""
    justclick.subscribe(A, "Main")
    if action == "replay-failed":
        justclick.script[A] = 6  # a configuration failure: failed at once
    answer = post(apps["live"].test_client(), {"email": A}, route="justclick",
                  headers={"Idempotency-Key": "k1"})
    live_id = answer.json["results"][0]["delivery_id"]
    justclick.script.clear()
    sandbox, runner = apps["sandbox"], apps["sandbox"].test_cli_runner()
    if action in ("dedup", "idempotency-key"):
        headers = {"Idempotency-Key": "k1"} if action == "idempotency-key" else {}
        again = post(sandbox.test_client(), {"email": A}, route="justclick", headers=headers)
        assert again.json["results"][0]["delivery_id"] != live_id
        assert "Idempotent-Replayed" not in again.headers
    elif action == "list":
        assert runner.invoke(args=["deliveries", "list", "--json"]).output == ""
    elif action == "show":
        assert runner.invoke(args=["deliveries", "show", live_id]).exit_code == 1
    else:
        replayed = runner.invoke(args=["deliveries", "replay", "--failed"]).output.splitlines()[0]
        assert json.loads(replayed) == {"replayed": 0}
        assert store_of(apps["live"]).queries.get(live_id)["status"] == "failed"
    assert len(justclick.requests) == 1  # only the live attempt reached the vendor's fake


def test_a_sandbox_worker_is_not_the_live_worker(apps):
    """Its heartbeat counts for the sandbox alone: the live /readyz (and the silent-worker alert) still see
    no live worker, which is the truth: nothing delivers the live rows."""
    from datetime import datetime
    store_of(apps["sandbox"]).alerts.beat("sandbox-worker", "host", 1, datetime(2026, 1, 1), None)
    seen = {name: relay_of(app).operations.worker_seen() for name, app in apps.items()}
    assert seen["live"] is None and seen["sandbox"]["running"] == 1
