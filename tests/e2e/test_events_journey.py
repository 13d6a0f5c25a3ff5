"""A person opts out at Mailkit (its own link), and Mailkit posts its webhook ten times at once to the
deployed service (web with two gunicorn workers, two `flask worker`s, PostgreSQL): the opt-out is confirmed
with Mailkit and carried to JustClick exactly once, whichever worker took which copy; the relay's own
Mailkit call, coming back as `api_unsubscribe`, is never sent back out."""

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.e2e.conftest import deployed
from tests.e2e.deploy import justclick_sent, tag

pytestmark = pytest.mark.slow
EVENTS_TOKEN = "e2e-mailkit-events-token-0123456789"


@pytest.fixture(scope="module")
def site(pg_url, tmp_path_factory, justclick, mailkit):
    with deployed("events", pg_url, tmp_path_factory.mktemp("e2e-events"), justclick, mailkit, workers=2,
                  MAILKIT_EVENTS_TOKEN=EVENTS_TOKEN, MAILKIT_LIST_GROUPS="12324:Main") as d:
        yield d


def event(email, date, method="link_in_mail"):
    return {"EMAIL": email, "ID_EMAIL": "1", "DATE": date, "IP": "192.0.2.1", "IP_ORIG": "192.0.2.1",
            "ID_ML": "12324", "ID_SEND": "1", "ID_MESSAGE": "1", "ID_TOPIC_ACTIVE": "", "ID_TOPIC_INACTIVE": "",
            "TIMEOUT": "", "EXPIRE": "", "METHOD": method, "UNSUBSCRIBE_ANSWER": "", "UNSUBSCRIBE_NOTE": ""}


def post_event(site, body):
    return requests.post(f"{site.base}/hooks/mailkit/events?token={EVENTS_TOKEN}", data=json.dumps(body),
                         headers={"Content-Type": "application/json"}, timeout=30)


def test_a_mailkit_opt_out_posted_ten_times_at_once_reaches_justclick_once(site, justclick, mailkit):
    t = tag()
    person, ours = f"person.{t}@example.com", f"ours.{t}@example.com"
    for email in (person, ours):
        mailkit.subscribe(email)
        justclick.subscribe(email, "Main")
    date = mailkit.opt_out(person)
    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(lambda _: post_event(site, event(person, date)), range(10)))
    assert {a.status_code for a in answers} == {200}, [a.text for a in answers]
    statuses = sorted(a.json()["status"] for a in answers)
    assert statuses == ["carried"] + ["repeat"] * 9, [a.json() for a in answers]
    assert justclick_sent(justclick, [person]) == {person: ["Main"]}  # once, whatever the race
    [row] = site.rows(person)
    assert (row["destination"], row["channel"], row["status"]) == ("justclick", "mailkit_event", "done")

    assert site.hook({"email": ours}, route="mailkit").json()["status"] == "unsubscribed"  # the relay's call
    echo = post_event(site, event(ours, date, method="api_unsubscribe"))
    assert (echo.status_code, echo.json()["status"]) == (200, "echo"), echo.text
    assert justclick_sent(justclick, [ours]) == {}
