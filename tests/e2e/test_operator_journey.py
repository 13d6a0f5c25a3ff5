"""The operator: logs in to the console while a worker runs, finds a person's delivery, replays it while 40
others wait, exports the audit CSV, logs out; the copied cookie is then worth nothing."""

import csv
import io
import json

import pytest
import requests

from tests.e2e.conftest import deployed
from tests.e2e.deploy import CONSOLE_PASSWORD, csrf_of, justclick_sent, tag

pytestmark = pytest.mark.slow
QUEUED = 40
COOKIE = "relay_console"


@pytest.fixture(scope="module")
def site(pg_url, tmp_path_factory, justclick, mailkit):
    # Rows that failed wait minutes before their next try (RETRY_BASE_SECONDS), and failures never open the
    # breaker: the 40 stay queued, untouched, while the operator acts. No delivery rate: not what this is about.
    with deployed("console", pg_url, tmp_path_factory.mktemp("e2e-console"), justclick, mailkit,
                  RETRY_BASE_SECONDS="600", BREAKER_FAILURES="1000", JUSTCLICK_MAX_RATE="0") as d:
        yield d


def console_form(browser, site, path, fields, page):
    """POST a console form with the CSRF token of the page it is on; the redirect is not followed."""
    return browser.post(f"{site.base}/console{path}", data={**fields, "csrf_token": csrf_of(page)},
                        allow_redirects=False, timeout=30)


@pytest.fixture
def browser():
    with requests.Session() as session:
        yield session


def test_operator_replays_one_delivery_and_logs_out(site, browser, justclick, tmp_path):
    t = tag()
    person = f"Anna.{t}@Example.com"
    others = [f"Waiting.{i}.{t}@Example.com" for i in range(QUEUED)]
    for email in [person, *others]:
        justclick.subscribe(email, "Main")
        justclick.script[email] = "503"  # JustClick is down for them: each is answered 202 and waits
    answers = [site.hook({"email": email}) for email in [person, *others]]
    assert {(a.status_code, a.json()["status"]) for a in answers} == {(202, "queued")}
    delivery_id = answers[0].json()["results"][0]["delivery_id"]

    login = browser.get(f"{site.base}/console/login", timeout=30)
    signed_in = console_form(browser, site, "/login", {"password": CONSOLE_PASSWORD}, login.text)
    assert signed_in.status_code == 303, signed_in.text
    overview = browser.get(f"{site.base}/console/", timeout=30)
    assert overview.status_code == 200 and "last seen" in overview.text, overview.text  # the worker's heartbeat

    found = console_form(browser, site, "/search", {"address": person.lower()}, overview.text)
    assert found.status_code == 303 and person.lower() not in found.headers["Location"].lower()
    results = browser.get(site.base + found.headers["Location"], timeout=30)
    assert results.status_code == 200 and delivery_id in results.text
    assert person.lower() not in json.dumps(dict(browser.cookies)).lower()  # no address in a cookie

    justclick.script.pop(person)  # the vendor answers again, for this one person
    justclick.requests.clear()
    page = browser.get(f"{site.base}/console/deliveries/{delivery_id}", timeout=30)
    replayed = console_form(browser, site, f"/deliveries/{delivery_id}/replay", {}, page.text)
    assert replayed.status_code == 303, replayed.text
    assert justclick_sent(justclick) == {person: ["Main"]}  # exactly one call: the replayed delivery
    shown = browser.get(site.base + replayed.headers["Location"], timeout=30)
    assert shown.status_code == 200 and "replay" in shown.text
    (row,) = site.rows(person)
    assert (row["status"], row["outcome"]) == ("done", "unsubscribed")
    assert [a["sender"] for a in site.attempts(delivery_id)] == ["web", "replay"]
    waiting = site.rows(*others)
    assert {(r["status"], r["attempts"]) for r in waiting} == {("pending", 1)} and len(waiting) == QUEUED
    log_page = browser.get(f"{site.base}/console/log", timeout=30)
    assert delivery_id in log_page.text and person.lower() not in log_page.text.lower()

    export = export_csv(site, person, tmp_path)
    assert [(r["delivery_id"], r["status"], r["outcome"], r["attempt_count"]) for r in export] == \
        [(delivery_id, "done", "unsubscribed", "2")]
    assert export[0]["confirmed_at"] and export[0]["target"] == person
    assert [a["sender"] for a in json.loads(export[0]["attempts"])] == ["web", "replay"]

    copied = browser.cookies.get(COOKIE, path="/console")
    assert copied
    logout_page = browser.get(f"{site.base}/console/", timeout=30)
    out = console_form(browser, site, "/logout", {}, logout_page.text)
    assert out.status_code == 303
    thief = requests.get(f"{site.base}/console/", cookies={COOKIE: copied}, allow_redirects=False, timeout=30)
    assert thief.status_code in (302, 303) and "/console/login" in thief.headers["Location"], thief.status_code
    assert justclick_sent(justclick) == {person: ["Main"]}  # still the one replayed call


def export_csv(site, target, tmp_path):
    """`flask deliveries export --target` as the operator runs it on the platform (a one-off process)."""
    out = tmp_path / "export.csv"
    proc = site.start("export", f"flask deliveries export --target '{target}' > {out}")
    proc.wait(60)
    assert site.stop("export") == 0, site.logs()["export"]
    with open(out, newline="") as f:
        return list(csv.DictReader(io.StringIO(f.read())))
