"""Proof of effect, as deployed (issue 20): web (two gunicorn workers) and two `flask worker`s on PostgreSQL.
A Zap's webhook is answered once JustClick accepted; a second later one of the workers (never both) reads
the opt-out back with GetLeadGroupStatuses and the ledger says "confirmed". A contact JustClick keeps
listing as subscribed is sent again CONFIRM_RESENDS times, then fails as a duty not met; the operator's
`flask deliveries proof` tells both."""

from collections import Counter
from urllib.parse import parse_qsl

import pytest

from tests.e2e.conftest import deployed
from tests.e2e.deploy import justclick_sent, tag
from tests.procs import wait_for

pytestmark = pytest.mark.slow
SETTLE_SECONDS = 30.0


@pytest.fixture(scope="module")
def site(pg_url, tmp_path_factory, justclick, mailkit):
    with deployed("readback", pg_url, tmp_path_factory.mktemp("e2e-readback"), justclick, mailkit, workers=2,
                  CONFIRM_AFTER_SECONDS="1", CONFIRM_RESENDS="2") as d:
        yield d


def read_backs(justclick, email):
    """How many GetLeadGroupStatuses calls asked about `email`."""
    return Counter(dict(parse_qsl(r["body"].decode())).get("email") for r in list(justclick.requests)
                   if r["path"].endswith("/GetLeadGroupStatuses"))[email]


def test_an_opt_out_is_read_back_once_and_a_stuck_one_is_resent_then_failed(site, justclick):
    t = tag()
    anna, bob = f"anna.{t}@example.com", f"bob.{t}+stillsubscribed@example.com"
    for email in (anna, bob):
        justclick.subscribe(email, "Main")
        answer = site.hook({"email": email})
        assert (answer.status_code, answer.json()["status"]) == (200, "unsubscribed"), answer.text

    def confirmed():
        return site.rows(anna)[0]["confirmation"] == "confirmed"
    assert wait_for(confirmed, SETTLE_SECONDS), site.rows(anna)
    row = site.rows(anna)[0]
    assert (row["channel"], row["auth_method"], row["confirmed_at"] is not None) == ("webhook", "token", True)

    def gave_up():
        return site.rows(bob)[0]["status"] == "failed"
    assert wait_for(gave_up, SETTLE_SECONDS), site.rows(bob)
    row = site.rows(bob)[0]
    assert (row["outcome"], row["confirmation"]) == ("still_subscribed", "still_subscribed")
    assert justclick_sent(justclick, [anna, bob]) == {anna: ["Main"], bob: ["Main"] * 3}
    assert (read_backs(justclick, anna), read_backs(justclick, bob)) == (1, 3)  # two workers, each asked once

    proof = site.start("proof", f"flask deliveries proof {anna}")
    assert proof.wait(60) == 0, site.logs()["proof"]
    text = site.logs()["proof"]
    assert f"Opt-outs of {anna}" in text and "confirmed" in text and "channel webhook" in text, text
