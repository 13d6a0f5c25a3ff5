"""Opt-outs made at one vendor reach the other (issue 20, item 2): Mailkit's unsubscribe webhook and its
unsubscribed list carried to JustClick, JustClick's notification carried to Mailkit. Against the simulators
in their wire formats, on SQLite and PostgreSQL: each opt-out is confirmed by read-back and sent once, the
relay's own calls never echo back out, and nothing is sent for a refused token or a body that is no event."""

import json
from collections import Counter

import pytest

from delivery.events import Reconciler, event_key
from schemas.events import NotAnEvent, VendorEvent, list_groups
from tests.conftest import FakeClock, make_worker, relay_of, store_of
from tests.helpers import post

MK_TOKEN, JC_TOKEN = "mk-events-token-0123456789+/=", "jc-events-token-0123456789"
PERSON, OURS, ELSEWHERE = "person@example.com", "ours@example.com", "elsewhere@example.com"


def mailkit_body(email, method="link_in_mail", date="2026-03-01 10:00:00", listed="12324", **extra):
    """A Mailkit unsubscribe webhook as the mailkit-api fixture has it (strings), permanent by default."""
    return {"EMAIL": email, "ID_EMAIL": "1", "DATE": date, "IP": "192.0.2.1", "IP_ORIG": "192.0.2.1",
            "ID_ML": listed, "ID_SEND": "1", "ID_MESSAGE": "1", "ID_TOPIC_ACTIVE": "", "ID_TOPIC_INACTIVE": "",
            "TIMEOUT": "", "EXPIRE": "", "METHOD": method, "UNSUBSCRIBE_ANSWER": "", "UNSUBSCRIBE_NOTE": "",
            **extra}


@pytest.fixture
def app(store_env):
    from app import create_app
    built = create_app({**store_env, "MAILKIT_EVENTS_TOKEN": MK_TOKEN, "JUSTCLICK_EVENTS_TOKEN": JC_TOKEN,
                        "MAILKIT_LIST_GROUPS": "12324:VIP, 555:Main", "CONFIRM_AFTER_SECONDS": "0"})
    store = store_of(built)
    store.upgrade()
    store.clock = FakeClock()
    yield built
    store.close()


def to_mailkit(client, body, token=MK_TOKEN):
    query = f"?token={token}" if token is not None else ""
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post(f"/hooks/mailkit/events{query}", data=data, content_type="application/json")


def to_justclick(client, form, token=JC_TOKEN):
    return client.post(f"/hooks/justclick/events?token={token}", data=form)


def justclick_calls(justclick, email):
    """[(call, group)] JustClick was asked about `email`, in order."""
    from urllib.parse import parse_qs
    found = []
    for r in justclick.requests:
        fields = parse_qs(r["body"].decode())
        if email in fields.get("lead_email", []) + fields.get("email", []):
            found.append((r["path"].rsplit("/", 1)[1], fields.get("rass_name", [None])[0]))
    return found


def mailkit_calls(mailkit, email):
    """Counter of Mailkit functions called about `email` (JSON transport)."""
    return Counter(call["function"] for transport, call in mailkit.calls
                   if transport == "json" and call.get("parameters", {}).get("email") == email)


def test_a_mailkit_event_storm_sends_each_opt_out_once_and_never_echoes(app, justclick, mailkit):
    client = app.test_client()
    for email in (PERSON, OURS, ELSEWHERE):
        mailkit.subscribe(email)
        justclick.subscribe(email, "VIP")
        justclick.subscribe(email, "Main")
    date = mailkit.opt_out(PERSON)  # the person's own click in a Mailkit mail
    assert post(client, {"email": OURS}, route="mailkit").json["status"] == "unsubscribed"  # the relay's call
    mailkit.opt_out(ELSEWHERE)
    answers = [to_mailkit(client, mailkit_body(PERSON, date=date)) for _ in range(10)]
    answers += [to_mailkit(client, mailkit_body(OURS, method="api_unsubscribe")) for _ in range(3)]
    answers += [to_mailkit(client, mailkit_body(ELSEWHERE, listed="999")) for _ in range(3)]
    assert [(a.status_code, a.json["status"]) for a in answers] == [
        (200, "carried"), *[(200, "repeat")] * 9, *[(200, "echo")] * 3, *[(200, "ignored")] * 3]
    assert answers[0].json["destinations"] == {"justclick": "unsubscribed"}
    assert justclick_calls(justclick, PERSON) == [("DeleteSubscribe", "VIP")]  # the group ID_ML 12324 maps to
    assert mailkit_calls(mailkit, PERSON) == {"mailkit.email.unsubscribe.getstatus": 1}  # confirmed once
    assert justclick_calls(justclick, OURS) == justclick_calls(justclick, ELSEWHERE) == []
    assert mailkit_calls(mailkit, OURS) == {"mailkit.email.unsubscribe": 1}  # never read back, never echoed
    [row] = relay_of(app).reports.proof(PERSON)
    assert (row["channel"], row["auth_method"], row["destination"]) == ("mailkit_event", "events_token",
                                                                        "justclick")
    assert row["options"]["event"] == {"vendor": "mailkit", "method": "link_in_mail", "date": date,
                                       "list": "12324"}


def test_the_proof_names_the_vendor_method_and_time(app, justclick, mailkit, runner=None):
    mailkit.subscribe(PERSON)
    date = mailkit.opt_out(PERSON)
    assert to_mailkit(app.test_client(), mailkit_body(PERSON, method="spam_report", date=date)).json[
        "status"] == "carried"
    printed = app.test_cli_runner().invoke(args=["deliveries", "proof", PERSON]).output
    assert "channel mailkit_event" in printed and f"(made at mailkit: spam_report at {date})" in printed, printed


@pytest.mark.parametrize("temporary", [{"TIMEOUT": "3", "EXPIRE": "2026-04-01 10:00:00"},
                                       {"METHOD": "timeout"}], ids=["timeout-expire", "method-timeout"])
def test_a_temporary_opt_out_is_ignored_by_default(app, justclick, mailkit, temporary):
    mailkit.subscribe(PERSON)
    mailkit.opt_out(PERSON)
    answer = to_mailkit(app.test_client(), {**mailkit_body(PERSON), **temporary})
    assert (answer.status_code, answer.json["status"]) == (200, "ignored")
    assert "temporary" in answer.json["reason"]
    assert justclick_calls(justclick, PERSON) == [] and mailkit_calls(mailkit, PERSON) == {}


def test_a_claim_mailkit_does_not_confirm_sends_nothing(app, justclick, mailkit):
    mailkit.subscribe(PERSON)  # still subscribed: the event is not believed
    answer = to_mailkit(app.test_client(), mailkit_body(PERSON))
    assert (answer.status_code, answer.json["status"]) == (200, "refuted")
    down = to_mailkit(app.test_client(), mailkit_body("who+down@example.com"))
    assert (down.status_code, down.json["status"]) == (503, "unconfirmed")  # the reconcile finds it later
    assert justclick.requests == []


@pytest.mark.parametrize("token,status", [(None, 401), ("", 401), ("wrong", 401), (MK_TOKEN[:-1], 401),
                                          (MK_TOKEN.replace("+", " "), 200)],
                         ids=["missing", "empty", "wrong", "prefix", "plus-as-space"])
def test_the_mailkit_token_is_checked_before_anything(app, justclick, mailkit, token, status):
    mailkit.subscribe(PERSON)
    mailkit.opt_out(PERSON)
    answer = to_mailkit(app.test_client(), mailkit_body(PERSON), token=token)
    assert answer.status_code == status
    assert bool(justclick.requests) == (status == 200)


def test_an_unset_token_turns_the_routes_off(make_app, justclick, mailkit):
    client = make_app().test_client()
    assert to_mailkit(client, mailkit_body(PERSON), token="anything").status_code == 404
    assert to_justclick(client, {"email": PERSON, "id_group": "Main", "status": "0"}, "x").status_code == 404
    assert justclick.requests == [] and mailkit.calls == []


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b"", json.dumps({"DATE": "2026-03-01"}),
                                  json.dumps(mailkit_body("a\x00b@example.com")),
                                  json.dumps(mailkit_body("a\x85b@example.com")),
                                  json.dumps(mailkit_body("x" * 400 + "@example.com")),
                                  json.dumps(mailkit_body({"nested": 1})), json.dumps(mailkit_body("not-an-address"))],
                         ids=["text", "array", "empty", "no-email", "control", "c1-control", "long", "object",
                              "unreadable"])
def test_a_body_that_is_no_event_is_refused_with_nothing_sent(app, justclick, mailkit, body):
    answer = to_mailkit(app.test_client(), body)
    assert (answer.status_code, answer.json["status"]) == (422, "rejected")
    assert justclick.requests == [] and mailkit.calls == []


def test_a_justclick_notification_reaches_mailkit_once(app, justclick, mailkit):
    client = app.test_client()
    mailkit.subscribe(PERSON)
    justclick.subscribe(PERSON, "Main")
    justclick.set_status(PERSON, "Main", "STATUS_UNSUBSCRIBE")  # the person left at JustClick
    form = {"name": "P", "email": PERSON, "phone": "", "city": "", "id_group": "Main", "ip": "192.0.2.1",
            "status": "0"}
    answers = [to_justclick(client, form) for _ in range(3)]
    assert [a.json["status"] for a in answers] == ["carried", "repeat", "repeat"]
    assert mailkit_calls(mailkit, PERSON) == {"mailkit.email.unsubscribe": 1}
    [sent] = [call for _, call in mailkit.calls if call["function"] == "mailkit.email.unsubscribe"]
    assert sent["parameters"]["send_optout"] == "FALSE"  # no confirmation mail for an opt-out made elsewhere
    assert to_justclick(client, {**form, "status": "2"}).json["status"] == "ignored"  # a subscription notice
    assert to_justclick(client, {"email": PERSON}).status_code == 422
    assert to_justclick(client, form, token="wrong").status_code == 401


def test_a_carried_opt_out_coming_back_from_justclick_is_an_echo(app, justclick, mailkit):
    client = app.test_client()
    mailkit.subscribe(PERSON)
    justclick.subscribe(PERSON, "Main")
    assert to_mailkit(client, mailkit_body(PERSON, listed="555", date=mailkit.opt_out(PERSON))).json[
        "status"] == "carried"
    # JustClick may notify about the relay's own DeleteSubscribe (unconfirmed): it goes no further.
    answer = to_justclick(client, {"email": PERSON, "id_group": "Main", "status": "0"})
    assert answer.json["status"] == "echo"
    assert mailkit_calls(mailkit, PERSON) == {"mailkit.email.unsubscribe.getstatus": 1}


@pytest.mark.parametrize("transport", ["json", "xmlrpc"])
def test_the_reconcile_picks_up_what_a_lost_webhook_missed_once(make_app, store_env, justclick, mailkit,
                                                                 transport):
    from app import create_app
    built = create_app({**store_env, "MAILKIT_EVENTS_TOKEN": MK_TOKEN, "CONFIRM_AFTER_SECONDS": "0",
                        "MAILKIT_TRANSPORT": transport, "MAILKIT_API_URL": mailkit.url(transport)})
    store = store_of(built)
    store.upgrade()
    store.clock = clock = FakeClock()
    try:
        service = relay_of(built).service
        for email in (PERSON, OURS, ELSEWHERE):
            mailkit.subscribe(email)
            justclick.subscribe(email, "Main")
        assert post(built.test_client(), {"email": OURS}, route="mailkit").json["status"] == "unsubscribed"
        heard = mailkit.opt_out(ELSEWHERE)
        assert to_mailkit(built.test_client(), mailkit_body(ELSEWHERE, date=heard, listed="")).json[
            "status"] == "carried"
        mailkit.opt_out(PERSON)  # its webhook was lost
        reconciler = Reconciler(service)
        assert reconciler.run_once() == {"carried": 1, "echo": 1, "repeat": 1}
        assert reconciler.run_once() is None  # this period's run is taken
        make_worker(built).drain()
        clock.advance(3600)
        assert Reconciler(service).run_once() == {"repeat": 2, "echo": 1}
        make_worker(built).drain()
        assert justclick_calls(justclick, PERSON) == [("DeleteSubscribe", "Main")]
        assert justclick_calls(justclick, ELSEWHERE) == [("DeleteSubscribe", "Main")]
        assert justclick_calls(justclick, OURS) == []
    finally:
        store.close()


# --- Pure pieces ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text,expected,problems", [
    ("", {}, 0), ("12324:VIP,555:Main", {"12324": "VIP", "555": "Main"}, 0),
    (" 12324 : VIP ; 555:Main ", {"12324": "VIP", "555": "Main"}, 0),
    ("VIP:12324", {}, 1), ("12324:", {}, 1), ("12324:VIP,oops", {"12324": "VIP"}, 1)],
    ids=["empty", "two", "spaces-semicolon", "reversed", "no-group", "one-bad"])
def test_list_groups(text, expected, problems):
    found = []
    assert list_groups(text, found) == expected and len(found) == problems


@pytest.mark.parametrize("body,expected", [
    (mailkit_body("A@example.com", method="LIST-UNSUBSCRIBE_ONECLICK"),
     VendorEvent("mailkit", "A@example.com", "list-unsubscribe_oneclick", "2026-03-01 10:00:00", "12324")),
    (mailkit_body("a@example.com", method="", TIMEOUT="0", EXPIRE="0000-00-00 00:00:00"),
     VendorEvent("mailkit", "a@example.com", "unknown", "2026-03-01 10:00:00", "12324")),
    (mailkit_body("a@example.com", method="api unsubscribe; drop", TIMEOUT="3"),
     VendorEvent("mailkit", "a@example.com", "unknown", "2026-03-01 10:00:00", "12324", temporary=True)),
    ({"EMAIL": 420123456789, "ID_ML": 7}, VendorEvent("mailkit", "420123456789", "unknown", None, "7"))],
    ids=["oneclick-lowercased", "zero-timeout-permanent", "odd-method-temporary", "numbers"])
def test_mailkit_event_reading(body, expected):
    from delivery.events import read_event
    assert read_event("mailkit", body) == expected


@pytest.mark.parametrize("form,expected", [
    ({"email": "a@example.com", "id_group": "Main", "status": "0"},
     VendorEvent("justclick", "a@example.com", "notification", None, "Main")),
    ({"email": "a@example.com", "id_group": "Main", "status": "2"},
     VendorEvent("justclick", "a@example.com", "notification", None, "Main", unsubscribe=False)),
    ({"email": "a@example.com", "status": "7"}, NotAnEvent), ({"status": "0"}, NotAnEvent),
    ({"email": "a@example.com\r\nX: y", "status": "0"}, NotAnEvent),
    ({"email": "a@example.com", "id_group": "Ma\x9bin", "status": "0"}, NotAnEvent)],
    ids=["unsubscribe", "subscribe", "odd-status", "no-email", "control", "c1-control"])
def test_justclick_notification_reading(form, expected):
    from delivery.events import read_event
    if expected is NotAnEvent:
        with pytest.raises(NotAnEvent):
            read_event("justclick", form)
    else:
        assert read_event("justclick", form) == expected


def test_the_webhook_and_the_unsubscribed_list_name_one_opt_out_alike():
    from datetime import date
    hooked = VendorEvent("mailkit", "Anna@Example.com", "link_in_mail", "2026-03-01 10:00:00", "12324")
    listed = VendorEvent("mailkit", "anna@example.com", None, "2026-03-01 10:00:00")
    assert event_key(hooked, date(2026, 3, 1)) == event_key(listed, date(2026, 3, 2))
    later = VendorEvent("mailkit", "anna@example.com", None, "2026-03-05 10:00:00")
    assert event_key(later, date(2026, 3, 5)) != event_key(listed, date(2026, 3, 5))


@pytest.mark.parametrize("vendor,listed", [("mailkit", "12324"), ("justclick", "Main")], ids=["mailkit", "justclick"])
def test_the_sandbox_event_is_what_the_vendor_posts(app, justclick, mailkit, vendor, listed):
    """`flask sandbox-event` posts this body: it reads as the vendor's own event and is carried."""
    from commands.sandbox import vendor_event
    mailkit.subscribe(PERSON)
    justclick.subscribe(PERSON, "VIP")
    justclick.subscribe(PERSON, "Main")
    mailkit.opt_out(PERSON)
    justclick.set_status(PERSON, "Main", "STATUS_UNSUBSCRIBE")
    body, content_type = vendor_event(vendor, PERSON, listed=listed)
    token = MK_TOKEN if vendor == "mailkit" else JC_TOKEN
    answer = app.test_client().post(f"/hooks/{vendor}/events?token={token}", data=body, content_type=content_type)
    assert answer.json["status"] == "carried", answer.json


def test_the_sandbox_takes_events_with_its_webhook_token(tmp_path):
    from sandbox.setup import sandbox_env
    env, problems = sandbox_env({"SANDBOX": "1", "WEBHOOK_TOKENS": "tok-a, tok-b"}, str(tmp_path))
    assert problems == [] and env["MAILKIT_EVENTS_TOKEN"] == env["JUSTCLICK_EVENTS_TOKEN"] == "tok-a"


def test_a_temporary_opt_out_is_carried_as_permanent_when_asked(make_app, justclick, mailkit):
    app = make_app(MAILKIT_EVENTS_TOKEN=MK_TOKEN, EVENTS_TEMPORARY="permanent")
    mailkit.subscribe(PERSON)
    justclick.subscribe(PERSON, "Main")
    body = mailkit_body(PERSON, date=mailkit.opt_out(PERSON), TIMEOUT="3", EXPIRE="2026-04-01 10:00:00")
    assert to_mailkit(app.test_client(), body).json["status"] == "carried"
    assert justclick_calls(justclick, PERSON) == [("DeleteSubscribe", "Main")]  # JustClick has no temporary form
