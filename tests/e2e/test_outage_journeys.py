"""A vendor that misbehaves and recovers: JustClick trickles its answer, then is down and comes back. The
deployment's JUSTCLICK_API_URL points at a local FlakyVendor in front of the JustClick fake."""

import pytest

from tests.e2e.conftest import deployed
from tests.e2e.deploy import justclick_sent, tag, timed
from tests.e2e.upstreams import TRICKLE_EVERY, FlakyVendor
from tests.procs import wait_for

pytestmark = pytest.mark.slow
UPSTREAM_TIMEOUT = 3.0
# README: "a hanging upstream is answered within UPSTREAM_TIMEOUT plus about a second"; the margin is wider, for
# a machine shared with other test runs.
ANSWER_MARGIN = 3.0
RECOVERY_SECONDS = 60.0  # retries from RETRY_BASE_SECONDS=1 doubling, breaker probes likewise


@pytest.fixture(scope="module")
def vendor(justclick):
    flaky = FlakyVendor(justclick.base)
    yield flaky
    flaky.stop()


@pytest.fixture(scope="module")
def site(vendor, pg_url, tmp_path_factory, justclick, mailkit):
    with deployed("outage", pg_url, tmp_path_factory.mktemp("e2e-outage"), justclick, mailkit,
                  JUSTCLICK_API_URL=f"{vendor.base}/{{login}}/api/", UPSTREAM_TIMEOUT=str(UPSTREAM_TIMEOUT),
                  RETRY_BASE_SECONDS="1") as d:
        yield d


@pytest.fixture(autouse=True)
def healthy_vendor(vendor):
    vendor.reset("healthy")
    yield
    vendor.reset("healthy")


def test_trickling_vendor_is_cut_at_the_deadline_and_delivered_later(site, vendor, justclick):
    person = f"Slow.{tag()}@Example.com"
    justclick.subscribe(person, "Main")
    vendor.reset("trickle")
    answer, seconds = timed(lambda: site.hook({"email": person}, timeout=UPSTREAM_TIMEOUT + 20))
    assert not isinstance(answer, Exception), f"no answer: {answer}"
    assert (answer.status_code, answer.json()["status"]) == (202, "queued"), answer.text
    assert seconds <= UPSTREAM_TIMEOUT + ANSWER_MARGIN, f"answered after {seconds:.1f} s"
    assert wait_for(lambda: vendor.cut >= 1, UPSTREAM_TIMEOUT + 2 * TRICKLE_EVERY), \
        "the trickling upstream never saw its connection closed"
    (row,) = site.rows(person)
    assert row["id"] == answer.json()["results"][0]["delivery_id"]

    vendor.mode = "healthy"
    assert wait_for(lambda: site.settled(person), RECOVERY_SECONDS), "the worker did not deliver it"
    assert justclick_sent(justclick, {person}) == {person: ["Main"]}
    (row,) = site.rows(person)
    assert (row["status"], row["outcome"]) == ("done", "unsubscribed")
    senders = [a["sender"] for a in site.attempts(row["id"])]
    assert senders[0] == "web" and senders[-1] == "worker", senders


def test_vendor_down_opens_the_breaker_and_everyone_is_delivered_once(site, vendor, justclick):
    t = tag()
    people = [f"Down.{i}.{t}@Example.com" for i in range(16)]
    for email in people:
        justclick.subscribe(email, "Main")
    vendor.reset("down")
    answers = [site.hook({"email": email}) for email in people]
    assert [(a.status_code, a.json()["status"]) for a in answers] == [(202, "queued")] * len(people)
    # BREAKER_FAILURES (5) calls, then a probe per step (1 s, 2 s, 4 s, ...): never one per webhook.
    assert vendor.seen["down"] < len(people), vendor.seen
    assert wait_for(lambda: breaker(site) == "open", 10), site.readyz().json()

    vendor.mode = "healthy"
    assert wait_for(lambda: site.settled(*people), RECOVERY_SECONDS), "the worker did not deliver them"
    assert justclick_sent(justclick, set(people)) == {email: ["Main"] for email in people}
    assert {(r["status"], r["outcome"]) for r in site.rows(*people)} == {("done", "unsubscribed")}
    assert wait_for(lambda: breaker(site) == "closed", 10), site.readyz().json()


def breaker(site):
    return site.readyz().json().get("breakers", {}).get("justclick", {}).get("state")
