"""The console's words as an operator reads them: plurals that agree with their count, a replay's flash that
says what happened, zero counts in no alarm colour, field names in words."""

import re

import pytest

from console.actions import replayed
from tests.helpers import post
from tests.test_console import accept, console_app, csrf_of, operator  # noqa: F401 (fixtures)


@pytest.mark.parametrize("row, expected", [
    ({"status": "done", "outcome": "unsubscribed", "last_code": "0"},
     "Replayed: delivered, unsubscribed (code 0)."),
    ({"status": "done", "outcome": "not_subscribed", "last_code": "801"},
     "Replayed: delivered, not subscribed (code 801)."),
    ({"status": "failed", "outcome": "failed", "last_code": "800"}, "Replayed: it failed again (code 800)."),
    ({"status": "pending", "outcome": None, "last_code": "http_503"},
     "Replayed: not delivered yet; it stays queued for the worker (code http_503)."),
    ({"status": "failed", "outcome": "failed", "last_code": None}, "Replayed: it failed again."),
], ids=["unsubscribed", "not-subscribed", "failed", "pending", "no-code"])
def test_a_replay_flash_is_a_sentence(row, expected):
    assert replayed(row) == expected + " Its attempts are below."


def fail(client, justclick, count):
    justclick.groups.clear()  # the group is gone: JustClick refuses, the rows fail
    for n in range(count):
        post(client, {"email": f"f{n}@example.com"}, route="justclick")


@pytest.mark.parametrize("count, button, sentence, flashed", [
    (1, "Replay 1 delivery<", "1</strong> failed justclick delivery will be made due again",
     "1 failed justclick delivery is due again: the worker sends it"),
    (2, "Replay 2 deliveries<", "2</strong> failed justclick deliveries will be made due again",
     "2 failed justclick deliveries are due again: the worker sends them"),
], ids=["one", "two"])
def test_destination_replay_agrees_with_its_count(operator, justclick, count, button, sentence, flashed):
    fail(operator, justclick, count)
    confirm = operator.get("/console/destinations/justclick/replay")
    page = confirm.get_data(as_text=True)
    assert button in page and sentence in page
    assert re.search(r'<p class="actions">\s*<button[^>]*class="danger"', page)  # Cancel beside it, spaced
    done = operator.post("/console/destinations/justclick/replay",
                         data={"csrf_token": csrf_of(confirm), "expected": str(count)}, follow_redirects=True)
    assert flashed in done.get_data(as_text=True)


def test_one_replay_flashes_what_it_came_to(operator, justclick):
    delivery_id = accept(operator, "replay.me@example.com")
    page = operator.get(f"/console/deliveries/{delivery_id}")
    done = operator.post(f"/console/deliveries/{delivery_id}/replay", data={"csrf_token": csrf_of(page)},
                         follow_redirects=True)
    text = done.get_data(as_text=True)
    assert "Replayed: delivered, not subscribed (code 801)." in text  # the fake has no such group member


def test_zero_counts_take_no_colour(operator):
    accept(operator, "ok@example.com")
    page = operator.get("/console/").get_data(as_text=True)
    cells = re.findall(r'<td class="n ([a-z_]+)">(\d+)</td>', page)
    assert ("not_subscribed", "1") in cells and ("zero", "0") in cells
    assert all((n == "0") == (kind == "zero") for kind, n in cells)


def test_every_field_is_named_in_words(operator):
    page = operator.get(f"/console/deliveries/{accept(operator, 'ok@example.com')}").get_data(as_text=True)
    labels = re.findall(r"<dt>([^<]+)</dt>", page)
    assert {"Delivery id", "Last vendor code", "Next attempt", "Accepted", "Address"} <= set(labels)
    assert not [label for label in labels if "_" in label], labels
