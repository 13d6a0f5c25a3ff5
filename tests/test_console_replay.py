"""Replay sends exactly what was asked for: one delivery (console "Replay now", `flask deliveries replay ID`)
or the failed ones (`--failed`), never the backlog queued beside them; a destination's replay from the
console only makes its failed rows due (the worker sends them). Counted at the JustClick peer."""

import json

import pytest

from tests.conftest import relay_of, store_of
from tests.helpers import post
from tests.test_console import accept, console_store_app, csrf_of, log_in  # noqa: F401

QUEUED = 40


@pytest.fixture
def backlog(console_store_app, justclick):
    """40 deliveries queued for the worker and 3 that failed (JustClick's group was gone); returns the app,
    a logged-in client and the failed ids."""
    app = console_store_app
    client = app.test_client()
    assert log_in(client).status_code == 303
    for n in range(QUEUED):
        accept(client, f"queued{n}@example.com", queue_only=True)
    justclick.groups.clear()
    failed = [post(client, {"email": f"failed{n}@example.com"}, route="justclick").get_json()["results"][0]
              ["delivery_id"] for n in range(3)]
    justclick.groups["Main"] = set()
    justclick.requests.clear()
    return app, client, failed


def console_replay(app, client, delivery_id):
    page = client.get(f"/console/deliveries/{delivery_id}")
    answer = client.post(f"/console/deliveries/{delivery_id}/replay", data={"csrf_token": csrf_of(page)})
    assert answer.status_code == 303


def cli_replay(app, client, delivery_id):
    result = app.test_cli_runner().invoke(args=["deliveries", "replay", delivery_id])
    assert result.exit_code == 0 and json.loads(result.output.splitlines()[0]) == {"replayed": 1}


@pytest.mark.parametrize("replay", [console_replay, cli_replay], ids=["console", "cli"])
def test_replaying_one_delivery_sends_that_one_only(backlog, justclick, replay):
    app, client, failed = backlog
    replay(app, client, failed[0])
    assert len(justclick.requests) == 1 and "failed0%40example.com" in justclick.requests[0]["body"].decode()
    shown = relay_of(app).reports.delivery(failed[0])
    assert shown["status"] == "done" and [a["sender"] for a in shown["attempt_history"]] == ["web", "replay"]
    assert len(relay_of(app).operations.find(status="pending", limit=100)) == QUEUED


def test_a_double_click_on_replay_sends_once(backlog, justclick):
    """Both posts carry what the page showed (its attempts): the second finds the row sent since, and leaves it."""
    import re
    app, client, failed = backlog
    page = client.get(f"/console/deliveries/{failed[0]}")
    shown = re.search(r'name="attempts" value="(\d+)"', page.get_data(as_text=True)).group(1)
    form = {"csrf_token": csrf_of(page), "attempts": shown}
    answers = [client.post(f"/console/deliveries/{failed[0]}/replay", data=form) for _ in range(2)]
    assert [a.status_code for a in answers] == [303, 303] and len(justclick.requests) == 1
    assert "Not replayed: it was sent meanwhile" in client.get(answers[1].location).get_data(as_text=True)


def test_replaying_every_failed_one_sends_those_only(backlog, justclick):
    app, _, failed = backlog
    result = app.test_cli_runner().invoke(args=["deliveries", "replay", "--failed"])
    assert json.loads(result.output.splitlines()[0]) == {"replayed": 3}
    assert len(justclick.requests) == 3
    assert len(relay_of(app).operations.find(status="pending", limit=100)) == QUEUED


def test_a_destination_replay_sends_nothing_itself(backlog, justclick):
    app, client, failed = backlog
    confirm = client.get("/console/destinations/justclick/replay")
    done = client.post("/console/destinations/justclick/replay", data={"csrf_token": csrf_of(confirm),
                                                                       "expected": "3"})
    assert done.status_code == 303 and justclick.requests == []
    assert len(relay_of(app).operations.find(status="pending", limit=100)) == QUEUED + 3


def test_a_row_being_sent_now_is_left_to_its_sender(backlog, justclick):
    """A worker holds the row's lease: the replay sends nothing (no second send of the same row)."""
    app, client, _ = backlog
    queued = relay_of(app).operations.find(status="pending", limit=1)[0]["id"]
    store_of(app).ledger.claim("someworker", QUEUED, ["justclick"])
    assert relay_of(app).operations.replay([queued]) == 0 and justclick.requests == []
