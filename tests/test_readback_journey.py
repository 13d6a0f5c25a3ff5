"""Read-back end to end (issue 20): a webhook is answered once JustClick accepted; a minute later the worker
asks JustClick (GetLeadGroupStatuses, signed and verified) whether the contact is off the list, and the
ledger, the proof and the alerts tell what it said. A contact still subscribed is sent again, then fails as
a duty not met, alerted once. Against the JustClick simulator, on SQLite and PostgreSQL, on one moved clock."""

from collections import Counter

import pytest

from delivery.alerts import AlertChecks
from delivery.export import export_rows
from tests.conftest import FakeClock, make_worker, relay_of, store_of
from tests.helpers import post
from tests.test_alerts import receiver  # noqa: F401 - the fixture: a local Apprise json:// target

ANNA, STUCK = "anna@example.com", "bob+stillsubscribed@example.com"


@pytest.fixture
def app(store_env, receiver, justclick):  # noqa: F811
    from app import create_app
    built = create_app({**store_env, "CONFIRM_AFTER_SECONDS": "60", "CONFIRM_RESENDS": "2",
                        "ALERT_URLS": receiver.url})
    store = store_of(built)
    store.upgrade()
    store.clock = FakeClock()
    for email in (ANNA, STUCK):
        justclick.subscribe(email, "Main")
    yield built
    store.close()


def calls(justclick, email):
    """{call name: count} of what JustClick was asked about `email`."""
    return Counter(r["path"].rsplit("/", 1)[1] for r in justclick.requests
                   if email.replace("@", "%40").replace("+", "%2B") in r["body"].decode())


def only(app, email):
    [row] = [r for r in relay_of(app).reports.proof(email) if r["destination"] == "justclick"]
    return row


def test_an_accepted_opt_out_is_read_back_a_minute_later_and_confirmed(app, justclick):
    assert post(app.test_client(), {"email": ANNA}, route="justclick").json["status"] == "unsubscribed"
    worker = make_worker(app)
    worker.drain()
    assert only(app, ANNA)["confirmation"] is None  # not before CONFIRM_AFTER_SECONDS
    store_of(app).clock.advance(61)
    worker.drain()
    row = only(app, ANNA)
    assert (row["confirmation"], row["confirmed_at"] is not None) == ("confirmed", True)
    assert "STATUS_UNSUBSCRIBE" in row["confirmation_detail"]
    assert (row["channel"], row["auth_method"]) == ("webhook", "token")
    assert calls(justclick, ANNA) == {"DeleteSubscribe": 1, "GetLeadGroupStatuses": 1}
    store_of(app).clock.advance(3600)
    worker.drain()
    assert calls(justclick, ANNA)["GetLeadGroupStatuses"] == 1  # read back once
    [record] = [r for r in export_rows(relay_of(app).operations, target=ANNA) if r["destination"] == "justclick"]
    assert (record["channel"], record["auth_method"], record["readback"]) == ("webhook", "token", "confirmed")
    proof = app.test_cli_runner().invoke(args=["deliveries", "proof", ANNA])
    assert proof.exit_code == 0 and "confirmed" in proof.output, proof.output


def test_a_contact_still_subscribed_is_resent_then_failed_and_alerted_once(app, justclick, receiver):  # noqa: F811
    key = {"Idempotency-Key": "stuck-1", "Prefer": "respond-async"}  # queued: a repeat reads the row
    assert post(app.test_client(), {"email": STUCK}, route="justclick", headers=key).json["status"] == "queued"
    worker = make_worker(app)
    worker.drain()  # the first send
    for _ in range(4):  # a read-back after each of the 3 sends (the first and CONFIRM_RESENDS=2 more)
        store_of(app).clock.advance(61)
        worker.drain()
    row = only(app, STUCK)
    assert (row["status"], row["outcome"], row["confirmation"]) == ("failed", "still_subscribed",
                                                                    "still_subscribed")
    assert calls(justclick, STUCK) == {"DeleteSubscribe": 3, "GetLeadGroupStatuses": 3}
    again = post(app.test_client(), {"email": STUCK}, route="justclick", headers=key)  # Zapier's retry
    assert (again.status_code, again.json["status"]) == (502, "failed"), again.json
    assert again.json["results"][0]["code"] == "still_subscribed"
    [message] = AlertChecks(relay_of(app).service).run()
    assert message.title == "unsub-relay: justclick not taking opt-outs (1 delivery)"
    assert "bob" not in message.body and "CONFIRM_RESENDS" in message.body
    assert AlertChecks(relay_of(app).service).run() == []  # within the repeat window: quiet
    assert receiver.titles(1) == [message.title]
