"""One person's proof (issue 20, item 4): the pure document, `flask deliveries proof` and the console's Proof
page and JSON download, on the ledger as the service writes it (the simulators answer). The page in a real
browser is in test_proof_browser.py."""

import json
import re
import logging
from datetime import date, datetime, timedelta

import pytest

from delivery.proof import NOT_RECORDED, UNVERIFIED_KINDS, proof_document, proof_lines, rows_for
from masking import mask
from tests.conftest import relay_of, store_of
from tests.helpers import post
from tests.test_console import CONSOLE, log_in

ANNA = "anna@example.com"
T0 = datetime(2026, 3, 1, 9, 0, 0)
NOW = datetime(2026, 3, 2, 12, 0, 0)
DONE_AT = T0 + timedelta(seconds=1)


def attempt(number=1, outcome="unsubscribed", code="0", text="ok", error_kind=None, at=T0):
    return {"number": number, "started_at": at, "duration_ms": 40, "sender": "web", "outcome": outcome,
            "code": code, "text": text, "error_kind": error_kind}


def row(request_id="r1", destination="justclick", status="done", outcome="unsubscribed", created=T0,
        attempts=None, **fields):
    """A delivery as the ledger returns it; the read-back fields only when given (as after migration 0008)."""
    history = [attempt()] if attempts is None else attempts
    base = {"id": f"{request_id}{destination}", "request_id": request_id, "item_index": 0,
            "destination": destination, "target": ANNA, "group_name": "Main", "campaign": None,
            "status": status, "outcome": outcome, "attempts": len(history), "last_code": "0",
            "created_at": created, "completed_at": DONE_AT if status == "done" else None,
            "mode": "live", "attempt_history": history}
    return {**base, **fields}


READ_BACK = {"channel": "webhook", "auth_method": "token", "received_at": T0, "confirm_due_at": None,
             "confirm_attempts": 0, "confirmed_at": None, "confirmation": None, "confirmation_detail": None,
             "confirmed_until": None}


def read_back(**fields):
    return {**READ_BACK, **fields}


SUMMARIES = [
    (row(**read_back(confirmation="confirmed", confirmed_at=T0 + timedelta(minutes=1),
                     confirmation_detail="rass_status=STATUS_UNSUBSCRIBE")),
     "confirmed by JustClick on 2026-03-01 09:01:00 UTC"),
    (row(destination="mailkit", **read_back(confirmation="confirmed", confirmed_at=T0,
                                            confirmed_until=date(2027, 1, 31))),
     "confirmed by Mailkit on 2026-03-01 09:00:00 UTC, temporarily until 2027-01-31"),
    (row(**read_back(confirm_due_at=T0 + timedelta(minutes=1))),
     "unsubscribed at JustClick on 2026-03-01 09:00:01 UTC; read-back pending"),
    (row(**read_back(confirmation="unknown", confirm_due_at=T0 + timedelta(minutes=5))),
     "unsubscribed at JustClick on 2026-03-01 09:00:01 UTC; read-back pending"),
    (row(**read_back(confirmation="still_subscribed", confirm_due_at=T0 + timedelta(minutes=5))),
     "unsubscribed at JustClick on 2026-03-01 09:00:01 UTC; but its read-back still lists the address as "
     "subscribed"),
    (row(**read_back()),
     "unsubscribed at JustClick on 2026-03-01 09:00:01 UTC; no read-back (the vendor offers none, or it was "
     "off)"),
    (row(), "unsubscribed at JustClick on 2026-03-01 09:00:01 UTC; read-back not recorded"),
    (row(**read_back(channel=None, auth_method=None, received_at=None)),
     "unsubscribed at JustClick on 2026-03-01 09:00:01 UTC; read-back not recorded"),
    (row(status="pending", **read_back(confirmation="still_subscribed", confirm_attempts=1)),
     "JustClick accepted it, but its read-back still lists the address as subscribed: sent again"),
    (row(outcome="not_subscribed"), "not on any list at JustClick on 2026-03-01 09:00:01 UTC; read-back not "
                                    "recorded"),
    (row(status="pending", outcome=None, attempts=[attempt(outcome="failed", error_kind="connection")]),
     "not delivered to JustClick yet; still failing after 1 attempts"),
    (row(status="pending", outcome=None, attempts=[]), "queued for JustClick; not sent yet"),
    (row(status="failed", outcome="still_subscribed", last_code="0"),
     "still failing at JustClick: still subscribed (code 0)"),
    (row(status="failed", outcome="rejected", last_code="103"),
     "still failing at JustClick: rejected (code 103)"),
]


@pytest.mark.parametrize("given, line", SUMMARIES, ids=[
    "confirmed", "confirmed temporary", "read-back due", "read-back unanswered",
    "still subscribed, resending",
    "read-back off", "row before 0008", "row before 0008, as the ledger reads it", "still subscribed, sent again",
    "not subscribed", "retrying", "queued", "still subscribed, failed",
    "rejected"])
def test_each_destination_says_where_it_stands(given, line):
    doc = proof_document(ANNA, [given], NOW)
    assert doc["opt_outs"][0]["destinations"][0]["summary"] == line


@pytest.mark.parametrize("given, channel, auth, received, recorded", [
    (row(**read_back(channel="link", auth_method="link", received_at=T0 - timedelta(seconds=3))),
     "link", "link", T0 - timedelta(seconds=3), True),
    (row(), NOT_RECORDED, NOT_RECORDED, T0, False),
    (row(**read_back(channel=None, auth_method=None, received_at=None)),
     NOT_RECORDED, NOT_RECORDED, T0, False),
], ids=["recorded", "row before 0008", "empty columns"])
def test_an_opt_out_says_where_and_when_it_came_from(given, channel, auth, received, recorded):
    opt_out = proof_document(ANNA, [given], NOW)["opt_outs"][0]
    assert (opt_out["channel"], opt_out["auth_method"]) == (channel, auth)
    assert (opt_out["received_at"], opt_out["received_recorded"]) == (received, recorded)


@pytest.mark.parametrize("error_kind, verified", [
    (None, True), ("invalid_request", True), ("configuration", True), ("verification", False),
    ("connection", False), ("rate_limit", False), ("unavailable", False)],
    ids=["success", "refusal", "our credentials", "bad signature", "no answer", "rate limited", "down"])
def test_an_attempt_is_verified_only_when_the_vendor_itself_answered(error_kind, verified):
    given = row(attempts=[attempt(outcome="failed", error_kind=error_kind)])
    shown = proof_document(ANNA, [given], NOW)["opt_outs"][0]["destinations"][0]["attempts"][0]
    assert shown["verified"] is verified and (error_kind in UNVERIFIED_KINDS) is not verified


def test_opt_outs_come_oldest_first_each_with_its_destinations_and_no_sandbox_row():
    later, earlier = T0 + timedelta(days=2), T0 - timedelta(days=2)
    rows = [row("r2", "mailkit", created=later), row("r2", "justclick", created=later),
            row("r1", created=earlier, **read_back(received_at=earlier - timedelta(seconds=1))),
            row("r3", created=T0, mode="sandbox")]
    doc = proof_document(ANNA, rows, NOW)
    assert [o["request_id"] for o in doc["opt_outs"]] == ["r1", "r2"]
    assert [d["destination"] for d in doc["opt_outs"][1]["destinations"]] == ["justclick", "mailkit"]
    assert doc["opt_outs"][0]["received_at"] == earlier - timedelta(seconds=1)
    assert (doc["address"], doc["generated_at"]) == (ANNA, NOW)
    assert proof_document(ANNA, [row(mode="sandbox")], NOW)["opt_outs"] == []


def test_the_text_names_every_attempt_and_read_back():
    given = row(attempts=[attempt(1, "failed", None, "timed out", "connection"), attempt(2)],
                **read_back(confirmation="confirmed", confirmed_at=T0, confirmation_detail="rass_status=X"))
    text = "\n".join(proof_lines(proof_document(ANNA, [given], NOW)))
    assert "1. received 2026-03-01 09:00:00 UTC; channel webhook; authenticated by token; request r1" in text
    assert "attempt 1 2026-03-01 09:00:00 UTC by web: failed, code - 'timed out' (unverified)" in text
    assert "attempt 2 2026-03-01 09:00:00 UTC by web: unsubscribed, code 0 'ok'\n" in text
    assert "read-back: confirmed at 2026-03-01 09:00:00 UTC (rass_status=X)" in text


# --- On the ledger the service writes -------------------------------------------------------------------


@pytest.fixture
def ledger_apps(make_app, store_env):
    """(live console app, sandbox app) on one ledger, on SQLite then PostgreSQL."""
    url = store_env["DATABASE_URL"]
    live = make_app(DATABASE_URL=url, **CONSOLE)
    sandbox = make_app(DATABASE_URL=url, SANDBOX="1", JUSTCLICK_LOGIN=None, JUSTCLICK_SECRET=None,
                       MAILKIT_CLIENT_ID=None, MAILKIT_CLIENT_MD5=None)
    return live, sandbox


def unsubscribe(app, email, route="unsubscribe"):
    answer = post(app.test_client(), {"email": email}, route=route)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def test_the_ledger_gives_every_delivery_of_the_address_and_never_a_sandbox_one(ledger_apps, justclick,
                                                                                 mailkit):
    live, sandbox = ledger_apps
    justclick.subscribe(ANNA, "Main")
    mailkit.subscribe(ANNA)
    unsubscribe(live, ANNA)
    unsubscribe(live, "ANNA+other@example.com")
    unsubscribe(sandbox, ANNA)
    assert len(store_of(sandbox).reports.search({"address": ANNA})[0]) == 2  # the sandbox's own two rows
    rows = rows_for(relay_of(live).reports, "Anna@Example.com")
    assert sorted(r["destination"] for r in rows) == ["justclick", "mailkit"]
    assert all(r["mode"] == "live" and r["attempt_history"] for r in rows)
    in_sandbox = rows_for(relay_of(sandbox).reports, ANNA)
    assert {r["mode"] for r in in_sandbox} == {"live"}  # a sandbox process on the ledger proves live ones too
    sandbox_rows = [dict(r, mode="sandbox") for r in in_sandbox]
    assert proof_document(ANNA, sandbox_rows, NOW)["opt_outs"] == []  # and the document drops any other


# --- flask deliveries proof ------------------------------------------------------------------------------


def test_the_command_prints_the_proof_as_text_and_as_json(app, justclick, mailkit):
    justclick.subscribe(ANNA, "Main")
    unsubscribe(app, ANNA)
    runner = app.test_cli_runner()
    text = runner.invoke(args=["deliveries", "proof", ANNA])
    assert text.exit_code == 0, text.output
    assert text.output.startswith(f"Opt-outs of {ANNA} (as of ")
    assert re.search(r"channel webhook; authenticated by token; request [0-9a-f]{8}", text.output), text.output
    assert "JustClick: unsubscribed at JustClick on " in text.output
    assert "Mailkit: not on any list at Mailkit on " in text.output
    assert "by web: unsubscribed, code 0 'Успешно'" in text.output  # the simulator's text, as it came
    as_json = runner.invoke(args=["deliveries", "proof", "  Anna@Example.COM ", "--json"])
    assert as_json.exit_code == 0, as_json.output
    doc = json.loads(as_json.output)
    assert doc["address"] == "Anna@Example.COM" and len(doc["opt_outs"]) == 1
    first_attempt = doc["opt_outs"][0]["destinations"][0]["attempts"][0]
    assert first_attempt["at"].endswith("Z") and first_attempt["verified"] is True


def test_the_command_says_so_and_exits_1_when_there_is_no_opt_out(app, caplog):
    result = app.test_cli_runner().invoke(args=["deliveries", "proof", "nobody@example.com"])
    assert result.exit_code == 1 and "no opt-out of that address is in the ledger" in result.output
    assert "Traceback" not in result.output and "nobody@" not in caplog.text


# --- The console's Proof page and JSON download ---------------------------------------------------------


@pytest.fixture
def console(make_app):
    app = make_app(**CONSOLE)
    client = app.test_client()
    assert log_in(client).status_code == 303
    return app, client


def opted_out(app, justclick):
    justclick.subscribe(ANNA, "Main")
    return unsubscribe(app, ANNA)["results"][0]["delivery_id"]


@pytest.mark.parametrize("path", ["/console/proof?address=anna%40example.com",
                                  "/console/proof.json?address=anna%40example.com"], ids=["page", "json"])
def test_the_proof_wants_a_login(make_app, path):
    answer = make_app(**CONSOLE).test_client().get(path)
    assert answer.status_code == 303 and answer.headers["Location"].startswith("/console/login?next=")


@pytest.mark.parametrize("query", ["address=anna%40example.com", "address=ANNA%40example.com",
                                   "delivery={id}"],
                         ids=["address", "address in other case", "from a delivery"])
def test_the_page_shows_every_destination_printable(console, justclick, query, caplog):
    app, client = console
    delivery_id = opted_out(app, justclick)
    caplog.set_level(logging.INFO)
    page = client.get("/console/proof?" + query.format(id=delivery_id))
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert "<strong>anna@example.com</strong>" in html.lower() and "Opt-out 1 of 1" in html
    assert "JustClick: <span class=\"summary done\">unsubscribed at JustClick on " in html
    assert re.search(r"<dt>Channel</dt>\s*<dd>webhook", html)
    assert 'href="/console/proof.json?' in html and "console.css" in html
    assert ANNA not in caplog.text.lower() and mask(ANNA) in caplog.text.lower()
    entry = relay_of(app).reports.log_page()[0][0]
    assert (entry["action"], entry["subject"].lower()) == ("proof_viewed", mask(ANNA))
    assert entry["result"] == "1 opt-outs, 2 deliveries, as html"


def test_the_json_download_is_an_attachment_of_the_document(console, justclick):
    app, client = console
    delivery_id = opted_out(app, justclick)
    answer = client.get(f"/console/proof.json?delivery={delivery_id}")
    assert answer.status_code == 200 and answer.mimetype == "application/json"
    disposition = answer.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="opt-out-proof-') and "anna" not in disposition
    doc = answer.get_json()
    assert doc["address"] == ANNA and doc["opt_outs"][0]["destinations"][0]["delivery_id"] == delivery_id
    assert relay_of(app).reports.log_page()[0][0]["result"] == "1 opt-outs, 2 deliveries, as json"


def test_search_and_delivery_pages_link_the_proof_without_the_address_in_the_url(console, justclick):
    app, client = console
    delivery_id = opted_out(app, justclick)
    assert f'href="/console/proof?delivery={delivery_id}"' in \
        client.get(f"/console/deliveries/{delivery_id}").get_data(as_text=True)
    from tests.test_console import csrf_of
    found = client.post("/console/search", data={"address": ANNA, "match": "exact",
                                                 "csrf_token": csrf_of(client.get("/console/search"))})
    results = client.get(found.headers["Location"]).get_data(as_text=True)
    assert 'href="/console/proof?address=1"' in results
    page = client.get("/console/proof?address=1")
    assert page.status_code == 200 and "<strong>anna@example.com</strong>" in page.get_data(as_text=True)


@pytest.mark.parametrize("query, status", [
    ("", 400), ("address=", 400), ("address=%20%20", 400), ("address=a%00b%40example.com", 400),
    ("address=" + "a" * 321, 400), ("address=1", 400),  # no search kept with this session yet
    ("address=nobody%40example.com", 404), ("delivery=zz", 404), ("delivery=abcdef12", 404)],
    ids=["nothing", "empty", "blank", "control character", "too long", "no search yet", "no opt-out",
         "not an id", "unknown delivery"])
def test_a_bad_or_unknown_address_is_a_page_not_a_traceback(console, query, status, caplog):
    app, client = console
    for path in ("/console/proof?", "/console/proof.json?"):
        answer = client.get(path + query)
        assert answer.status_code == status and "Traceback" not in answer.get_data(as_text=True)
    assert "nobody@" not in caplog.text


def test_the_page_shows_the_read_back_fields_once_the_ledger_holds_them(make_app):
    """The ledger's read-back columns (migration 0008) as the page renders them, from hand-made rows."""
    from flask import render_template
    rows = [row("r1", **read_back(channel="link", auth_method="link", confirmation="confirmed",
                                  confirmed_at=T0, confirmation_detail="rass_status=STATUS_UNSUBSCRIBE")),
            row("r1", "mailkit", **read_back(confirmation="confirmed", confirmed_at=T0,
                                             confirmed_until=date(2027, 1, 31),
                                             confirmation_detail="unsubscribe=TRUE, timeout 2027-01-31")),
            row("r2", created=T0 + timedelta(days=1),
                **read_back(confirm_due_at=T0 + timedelta(days=1, minutes=1)))]
    app = make_app(**CONSOLE)
    with app.test_request_context("/console/proof"):
        html = render_template("console/proof.html", doc=proof_document(ANNA, rows, NOW), download_args={})
    assert "Channel</dt><dd>link" in html and "Authenticated by</dt><dd>link" in html
    assert ("<strong>confirmed</strong> at 2026-03-01 09:00:00 UTC: "
            "<code>rass_status=STATUS_UNSUBSCRIBE</code>") in html
    assert "<code>unsubscribe=TRUE, timeout 2027-01-31</code>; temporary, until 2027-01-31" in html
    assert "pending: due 2026-03-02 09:01:00 UTC" in html and "read-back pending" in html
