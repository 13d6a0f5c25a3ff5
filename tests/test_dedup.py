"""Dedup merges only requests that ask the vendor the same thing, whatever the address's case; the address
is sent as it came. Each case is a sequence of webhooks and the calls the vendor fakes received."""

import json
import threading

import pytest

from tests.conftest import store_of
from tests.helpers import post

X = "Jane.Doe@example.com"


def send_all(app, route, bodies):
    """POST each body in turn; the answers' (status code, delivery ids)."""
    client = app.test_client()
    answers = [post(client, body, route=route) for body in bodies]
    return [(a.status_code, [r["delivery_id"] for r in a.json["results"]]) for a in answers]


def mailkit_sent(mailkit):
    """The address and options of every call Mailkit received, in order."""
    sent = []
    for request in mailkit.requests:
        params = json.loads(request["body"])["parameters"]
        sent.append(params)
    return sent


@pytest.mark.parametrize("bodies, calls", [
    ([{"email": X, "timeout_days": 14}, {"email": X}, {"email": X}], 2),
    ([{"email": X}, {"email": X, "timeout_days": 14}], 1),
    ([{"email": X, "ID_send_message": "77"}, {"email": X, "timeout_days": 14}], 2),
    ([{"email": X}, {"email": X, "send_optout": False}], 2),
    ([{"email": X}, {"email": X, "ID_send_message": "77"}], 2),
    ([{"email": X}, {"email": X.lower()}, {"email": X.upper()}], 1),
    ([{"email": X, "timeout_days": 30}, {"email": X.lower(), "timeout_days": 30}], 1),
    ([{"email": X}, {"email": "john.doe@example.com"}], 2),
], ids=["temporary-never-answers-permanent", "permanent-answers-a-later-temporary",
        "permanent-of-another-campaign-does-not", "optout-mail-differs",
        "campaign-differs", "case-variants-merge", "same-temporary-any-case", "another-address"])
def test_mailkit_dedup_by_what_is_asked(store_app, mailkit, bodies, calls):
    mailkit.subscribe(X)
    answers = send_all(store_app, "mailkit", bodies)
    assert all(code == 200 for code, _ in answers), answers
    assert len(mailkit.requests) == calls
    distinct_ids = {ids[0] for _, ids in answers}
    assert len(distinct_ids) == calls  # a merged request is answered with the earlier delivery


@pytest.mark.parametrize("bodies, calls", [
    ([{"email": X}, {"email": X.lower()}], 1),
    ([{"email": X}, {"email": X, "group": "VIP"}], 2),
    ([{"email": X, "group": "VIP"}, {"email": X.upper(), "group": "VIP"}], 1),
], ids=["case-variants-merge", "another-group", "same-group-any-case"])
def test_justclick_dedup_by_what_is_asked(store_app, justclick, bodies, calls):
    justclick.subscribe(X, "Main")
    justclick.groups["VIP"] = {X}
    send_all(store_app, "justclick", bodies)
    assert len(justclick.requests) == calls


def test_not_found_answers_only_its_own_spelling(store_app, justclick):
    """The vendor said "not found" for Jane.Doe@: it was not asked about jane.doe@, which is sent."""
    justclick.subscribe(X.lower(), "Main")  # the vendor holds the lower-case spelling only
    client = store_app.test_client()
    first, again, other = (post(client, {"email": e}, route="justclick").json for e in (X, X, X.lower()))
    assert [a["status"] for a in (first, again, other)] == ["not_subscribed", "not_subscribed", "unsubscribed"]
    assert again["results"][0]["delivery_id"] == first["results"][0]["delivery_id"]  # the same spelling: merged
    assert len(justclick.requests) == 2 and X.lower() not in justclick.groups["Main"]


def test_the_address_is_sent_as_it_came(store_app, mailkit):
    mailkit.subscribe(X)
    send_all(store_app, "mailkit", [{"email": X}, {"email": X.lower()}])
    assert [params["email"] for params in mailkit_sent(mailkit)] == [X]


def test_case_variants_in_one_batch_share_one_delivery(store_app, mailkit):
    mailkit.subscribe(X)
    answer = post(store_app.test_client(), [{"email": X}, {"email": X.upper()}], route="mailkit")
    assert answer.status_code == 200, answer.json
    ids = [r["delivery_id"] for r in answer.json["results"]]
    assert len(mailkit.requests) == 1 and ids[0] == ids[1]


@pytest.mark.postgres
def test_case_variants_at_once_from_two_stores_send_once(make_app, pg_database, mailkit):
    """Two Stores (two write connections, as two processes have) accept case variants at the same moment:
    the advisory lock on the lowered address makes one of them see the other's row."""
    import psycopg

    from tests.conftest import TRUNCATE_ALL
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(TRUNCATE_ALL)
    apps = [make_app(DATABASE_URL=pg_database) for _ in range(2)]
    mailkit.subscribe(X)
    start, codes = threading.Barrier(2), []

    def one(app, email):
        start.wait()
        codes.append(post(app.test_client(), {"email": email}, route="mailkit").status_code)

    threads = [threading.Thread(target=one, args=(app, email)) for app, email in zip(apps, (X, X.lower()))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # One is sent; the other is answered from that row (200 once recorded, 202 while still in flight).
    assert len(mailkit.requests) == 1 and 200 in codes and set(codes) <= {200, 202}
    assert all(store_of(app).mode == "live" for app in apps)
