"""Read-back: each vendor asked, after an unsubscribe, whether the contact is unsubscribed now; one row per
state the vendor can report, against the simulators in their wire formats (JSON and XML-RPC for Mailkit)."""

import hashlib
import json
import uuid
import xmlrpc.client
from datetime import date, datetime, timedelta, timezone

import pytest

import sandbox
from connectors import registry
from connectors.justclick import JustClick, NOT_IN_GROUP, group_state, subscription_time
from connectors.mailkit import NOBODY, Mailkit
from connectors.mailkit_wire import timeout_date
from tests.fakes import FakeServer
from tests.vendor_acme import Acme, AcmeVendor

EMAIL = "anna@example.com"
SINCE = "subscribed 2024-01-15 10:00:00"  # the simulators' subscription_time, as the detail says it


def justclick_for(fake, secret=None, login=None):
    return JustClick(login or fake.login, secret or fake.secret, fake.api_url(login), 2.0)


def mailkit_for(fake, transport, md5=None):
    return Mailkit(fake.client_id, md5 or fake.client_md5, fake.url(transport), 2.0, transport=transport)


def jc_payload(email=EMAIL, group="Main"):
    return {"lead_email": email, "rass_name": group}


def mk_payload(email=EMAIL, **extra):
    return {"email": email, "ID_email": None, "ID_send_message": None, "send_optout": False,
            "timeout_days": None, **extra}


def found(confirmation):
    return confirmation.state, confirmation.transient, confirmation.error_kind, confirmation.verified


CONFIRMED = ("confirmed", False, None, True)
STILL = ("still_subscribed", False, None, True)


def in_days(days):
    return datetime.now(timezone.utc).date() + timedelta(days=days)


# ---- JustClick: GetLeadGroupStatuses ----------------------------------------------------------------------

def jc_setup(fake, setup, email):
    """Build the account's state for one row: (what to do in the account, whether we unsubscribe first)."""
    kind, _, value = setup.partition(":")
    if kind in ("sent", "kept"):
        fake.subscribe(email, "Main")
    elif kind == "status":
        fake.set_status(email, "Main", value)
    elif kind == "other_group":
        fake.subscribe(email, "Other")
    elif kind in ("code", "read"):  # a JustClick answer code, or an answer that is not JustClick's
        fake.subscribe(email, "Main")
        fake.read_script[email] = int(value) if kind == "code" else value
    return kind == "sent" or email.endswith("+stillsubscribed@example.com")


@pytest.mark.parametrize("setup, email, expected, detail", [
    ("sent", EMAIL, CONFIRMED, f"rass_status=STATUS_UNSUBSCRIBE, {SINCE}"),
    ("status:STATUS_UNSUBSCRIBE_BY_SERVICE", EMAIL, CONFIRMED, "rass_status=STATUS_UNSUBSCRIBE_BY_SERVICE"),
    ("status:STATUS_INVALID_EMAIL", EMAIL, CONFIRMED, "does not exist: nobody to mail"),
    ("kept", EMAIL, STILL, f"rass_status=STATUS_SUBSCRIBE, {SINCE}"),
    ("kept", "anna+stillsubscribed@example.com", STILL, "rass_status=STATUS_SUBSCRIBE"),
    ("status:STATUS_WAIT", EMAIL, STILL, "rass_status=STATUS_WAIT (awaiting activation)"),
    ("other_group", EMAIL, CONFIRMED, NOT_IN_GROUP),
    ("nobody", EMAIL, CONFIRMED, "no such contact (code 500)"),
    ("code:501", EMAIL, CONFIRMED, "in no JustClick group (code 501)"),
    ("code:8", EMAIL, ("unknown", True, "rate_limit", False), "API limit"),
    ("read:down", EMAIL, ("unknown", True, "connection", False), "HTTP 503"),
    ("read:500", EMAIL, ("unknown", True, "connection", False), "HTTP 500"),
    ("read:html", EMAIL, ("unknown", True, "connection", False), "not JSON"),
    ("read:bad_hash", EMAIL, ("unknown", True, "verification", False), "failed its hash check"),
    ("read:no_hash", EMAIL, ("unknown", True, "verification", False), "failed its hash check"),
    ("code:4", EMAIL, ("unknown", False, "configuration", True), "JUSTCLICK_SECRET"),
    ("code:3", EMAIL, ("unknown", False, "invalid_request", True), "refused the parameters"),
    ("code:999", EMAIL, ("unknown", False, "upstream", True), "undocumented code"),
], ids=["unsubscribed", "by-service", "invalid-email", "subscribed", "+stillsubscribed", "waiting",
        "other-group-only", "500-no-contact", "501-no-group", "code-8", "503", "http-500", "html", "bad-hash",
        "no-hash", "code-4", "code-3", "undocumented-code"])
def test_justclick_read_back(justclick, setup, email, expected, detail):
    unsubscribe_first = jc_setup(justclick, setup, email)
    connector = justclick_for(justclick)
    if unsubscribe_first:
        assert connector.send(jc_payload(email)).status == "unsubscribed"
    confirmation = connector.read_back(jc_payload(email))
    assert (confirmation.destination, *found(confirmation)) == ("justclick", *expected)
    assert detail in confirmation.detail
    assert email not in confirmation.detail and justclick.secret not in confirmation.detail


def test_justclick_read_back_is_a_signed_form_post_of_the_email_alone(justclick):
    justclick.subscribe("o'brien+x~y@example.com", "Main")
    justclick_for(justclick).read_back(jc_payload("o'brien+x~y@example.com"))
    sent = justclick.requests[-1]
    assert sent["path"] == f"/{justclick.login}/api/GetLeadGroupStatuses"
    assert sent["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    query, _, digest = sent["body"].decode().partition("&hash=")
    assert query == "email=o%27brien%2Bx%7Ey%40example.com"
    assert len(digest) == 32  # the simulator recomputed it: a wrong one would have been answered code 4


@pytest.mark.parametrize("secret, login, expected", [
    # JustClick signs its refusal with the real secret, so a wrong secret reads as an unverified answer.
    ("wrong-secret", None, ("unknown", True, "verification", False)),
    (None, "intruder", ("unknown", False, "configuration", True)),
], ids=["wrong-secret", "wrong-login"])
def test_justclick_read_back_with_wrong_credentials(justclick, secret, login, expected):
    justclick.subscribe(EMAIL, "Main")
    assert found(justclick_for(justclick, secret, login).read_back(jc_payload())) == expected


def test_a_read_back_over_no_connection_is_transient():
    confirmation = JustClick("acme", "s", "http://127.0.0.1:9/acme/api/", 1.0).read_back(jc_payload())
    assert found(confirmation) == ("unknown", True, "connection", False)
    assert "could not reach justclick" in confirmation.detail


@pytest.mark.parametrize("result, expected, detail", [
    ([{"rass_name": "Main", "rass_status": "STATUS_UNSUBSCRIBE"}], "confirmed", "rass_status=STATUS_UNSUBSCRIBE"),
    ({"3": {"rass_name": "Main", "rass_status": "STATUS_SUBSCRIBE"}}, "still_subscribed", "STATUS_SUBSCRIBE"),
    ([{"rass_name": "main", "rass_status": "status_subscribe"}], "still_subscribed", "STATUS_SUBSCRIBE"),
    ([{"rass_name": "main", "rass_status": "STATUS_UNSUBSCRIBE"},
      {"rass_name": "Main", "rass_status": "STATUS_SUBSCRIBE"}], "still_subscribed", "STATUS_SUBSCRIBE"),
    ([{"rass_name": "Other", "rass_status": "STATUS_SUBSCRIBE"}, "junk"], "confirmed", NOT_IN_GROUP),
    ([], "confirmed", NOT_IN_GROUP),
    (None, "confirmed", NOT_IN_GROUP),
], ids=["list", "php-object", "other-case", "exact-name-first", "other-group-and-junk", "empty", "null"])
def test_group_state_reads_the_delivery_group(result, expected, detail):
    confirmation = group_state("justclick", result, "Main")
    assert (confirmation.state, detail in confirmation.detail) == (expected, True)


@pytest.mark.parametrize("result, kind", [
    ([{"rass_name": "Main", "rass_status": "STATUS_SOMETHING_NEW"}], "upstream"),
    ([{"rass_name": "Main"}], "upstream"),
    ("Main", "connection"),
], ids=["undocumented-status", "no-status", "not-a-list"])
def test_group_state_refuses_what_it_cannot_read(result, kind):
    class Answering(FakeServer):
        def handle(self, path, headers, body):
            answer = {"error_code": 0, "error_text": "ok", "result": result}
            answer["hash"] = hashlib.md5(b"0::ok::s").hexdigest()
            return 200, "application/json", json.dumps(answer).encode()

    server = Answering().start()
    try:
        confirmation = JustClick("acme", "s", f"{server.base}/acme/api/", 2.0).read_back(jc_payload())
    finally:
        server.stop()
    assert (confirmation.state, confirmation.error_kind) == ("unknown", kind)


@pytest.mark.parametrize("value, text", [
    ("2024-01-15 10:00:00", "2024-01-15 10:00:00"),
    ("2024-01-15", "2024-01-15"),
    ("2024-01-15T10:00", "2024-01-15T10:00"),
    (1705312800, "2024-01-15 10:00:00 UTC"),
    ("1705312800", "2024-01-15 10:00:00 UTC"),
    (0, ""), (None, ""), (True, ""), ("yesterday", ""), ("9" * 30, ""), ({"a": 1}, ""),
    ("2024-01-15 10:00:00 <script>", ""),
], ids=["datetime", "date", "iso", "unix-int", "unix-text", "zero", "none", "bool", "words", "huge", "object",
        "trailing-junk"])
def test_subscription_time_is_read_defensively(value, text):
    assert subscription_time(value) == text


# ---- Mailkit: mailkit.email.unsubscribe.getstatus ---------------------------------------------------------

def mk_setup(fake, setup, address):
    """Build the client's state for one row; True when the row unsubscribes through the connector first."""
    if setup in ("sent", "temporary", "kept", "by_id"):
        fake.subscribe(address)
    if setup in ("down", "ratelimit", "html", "disallowed_ip", "badhash", "fault", "hostile", "500"):
        fake.subscribe(address)
        fake.read_script[address] = setup
    return setup in ("sent", "temporary", "by_id") or "+stillsubscribed" in address


MAILKIT_STATES = [  # (id, setup, address, expected, detail)
    ("unsubscribed", "sent", EMAIL, CONFIRMED, "unsubscribe=TRUE"),
    ("subscribed", "kept", EMAIL, STILL, "unsubscribe=FALSE"),
    ("+stillsubscribed", "kept", "anna+stillsubscribed@example.com", STILL, "unsubscribe=FALSE"),
    ("unknown-address", "none", EMAIL, CONFIRMED, NOBODY),
    ("phone", "sent", "+420777123456", CONFIRMED, "unsubscribe=TRUE"),
    ("503", "down", EMAIL, ("unknown", True, "connection", False), "HTTP 503"),
    ("429", "ratelimit", EMAIL, ("unknown", True, "rate_limit", False), "HTTP 429"),
    ("http-500", "500", EMAIL, ("unknown", True, "connection", False), "HTTP 500"),
    ("html", "html", EMAIL, ("unknown", True, "connection", False), "HTTP 200"),
    ("disallowed-ip", "disallowed_ip", EMAIL, ("unknown", False, "configuration", True), "HTTPS_PROXY"),
    ("wrong-md5", "wrong_md5", EMAIL, ("unknown", False, "configuration", True), "MAILKIT_CLIENT_MD5"),
]


@pytest.mark.parametrize("transport, setup, address, expected, detail", [
    pytest.param(transport, *row[1:], id=f"{transport}: {row[0]}")
    for transport in ("json", "xmlrpc") for row in MAILKIT_STATES] + [
    pytest.param("json", "badhash", EMAIL, ("unknown", True, "verification", False), "other than the one sent",
                 id="json: answer about another address"),
    pytest.param("xmlrpc", "hostile", EMAIL, ("unknown", True, "verification", False), "refused as hostile",
                 id="xmlrpc: hostile XML"),
    pytest.param("xmlrpc", "fault", EMAIL, ("unknown", False, "configuration", True), "MAILKIT_CLIENT_ID",
                 id="xmlrpc: fault"),
])
def test_mailkit_read_back(mailkit, transport, setup, address, expected, detail):
    unsubscribe_first = mk_setup(mailkit, setup, address)
    connector = mailkit_for(mailkit, transport, md5="wrong" if setup == "wrong_md5" else None)
    if unsubscribe_first:
        assert connector.send(mk_payload(address)).status == "unsubscribed"
    confirmation = connector.read_back(mk_payload(address))
    assert (confirmation.destination, *found(confirmation)) == ("mailkit", *expected)
    assert detail in confirmation.detail and confirmation.until is None
    assert address not in confirmation.detail and mailkit.client_md5 not in confirmation.detail


@pytest.mark.parametrize("transport, until, detail", [
    ("json", 30, "unsubscribe=TRUE, timeout {}"),
    ("xmlrpc", None, "unsubscribe=TRUE"),  # XML-RPC answers TRUE or FALSE only
])
def test_mailkit_temporary_opt_out_says_when_it_ends(mailkit, transport, until, detail):
    mailkit.subscribe(EMAIL)
    connector = mailkit_for(mailkit, transport)
    assert connector.send(mk_payload(timeout_days=30)).status == "unsubscribed"
    confirmation = connector.read_back(mk_payload(timeout_days=30))
    expected_until = in_days(until) if until else None
    assert (confirmation.state, confirmation.until) == ("confirmed", expected_until)
    assert confirmation.detail == detail.format(expected_until)


def test_a_permanent_opt_out_after_a_temporary_one_has_no_end(mailkit):
    mailkit.subscribe(EMAIL)
    connector = mailkit_for(mailkit, "json")
    connector.send(mk_payload(timeout_days=14))
    assert connector.read_back(mk_payload()).until == in_days(14)
    connector.send(mk_payload())
    assert connector.read_back(mk_payload()).until is None


@pytest.mark.parametrize("transport", ["json", "xmlrpc"])
def test_mailkit_read_back_by_id_and_its_wire_format(mailkit, transport):
    mailkit.subscribe(EMAIL)
    address_id = str(mailkit.subscribed[EMAIL])
    connector = mailkit_for(mailkit, transport)
    connector.send(mk_payload(None, ID_email=address_id))
    assert connector.read_back(mk_payload(None, ID_email=address_id)).state == "confirmed"
    kind, call = mailkit.calls[-1]
    if transport == "json":
        assert call == {"function": "mailkit.email.unsubscribe.getstatus", "id": mailkit.client_id,
                        "md5": mailkit.client_md5, "parameters": {"email": None, "ID_email": address_id}}
    else:
        assert call == (int(mailkit.client_id), mailkit.client_md5, int(address_id))


class MailkitAnswering(FakeServer):
    """A Mailkit endpoint with one fixed answer: `json_answer` at /json.fcgi, the XML-RPC `value` at /rpc.fcgi."""

    def __init__(self, json_answer=None, value=None):
        super().__init__()
        self.json_answer, self.value = json_answer, value

    def handle(self, path, headers, body):
        if path.endswith("/json.fcgi"):
            return 200, "application/json", json.dumps(self.json_answer).encode()
        return 200, "text/xml", xmlrpc.client.dumps((self.value,), methodresponse=True).encode()


def mailkit_answering(transport, payload, **answer):
    server = MailkitAnswering(**answer).start()
    try:
        url = f"{server.base}/{'json' if transport == 'json' else 'rpc'}.fcgi"
        return Mailkit("12345", "md5", url, 2.0, transport=transport).read_back(payload)
    finally:
        server.stop()


def status_answer(**fields):
    return {"email": EMAIL, "error_status": "0", "topics": None, "ID_email": "7", "unsubscribe": "TRUE",
            "timeout": {"date": "0000-00-00"}, **fields}


@pytest.mark.parametrize("answer, payload, expected, detail", [
    (status_answer(), mk_payload(), CONFIRMED, "unsubscribe=TRUE"),
    (status_answer(email=EMAIL.upper()), mk_payload(), CONFIRMED, "unsubscribe=TRUE"),
    (status_answer(email=""), mk_payload(), ("unknown", True, "verification", False), "names no contact"),
    (status_answer(unsubscribe="false"), mk_payload(), STILL, "unsubscribe=FALSE"),
    (status_answer(timeout={"date": "someday"}), mk_payload(), CONFIRMED, "timeout date unreadable"),
    (status_answer(timeout=None), mk_payload(), CONFIRMED, "unsubscribe=TRUE"),
    (status_answer(email="bob@example.com"), mk_payload(), ("unknown", True, "verification", False),
     "other than the one sent"),
    (status_answer(email="", ID_email="8"), mk_payload(None, ID_email="7"),
     ("unknown", True, "verification", False), "other than the one sent"),
    (status_answer(unsubscribe="MAYBE"), mk_payload(), ("unknown", False, "upstream", True), "'MAYBE'"),
    (status_answer(unsubscribe=None), mk_payload(), ("unknown", False, "upstream", True), "undocumented"),
    ({"error_status": "1", "error": "Invalid ID_email or email"}, mk_payload(), CONFIRMED, NOBODY),
    ({"error_status": "1", "error": "Missing ID_email or email"}, mk_payload(),
     ("unknown", False, "invalid_request", True), "missing"),
    (["not", "an", "object"], mk_payload(), ("unknown", True, "connection", False), "not an object"),
], ids=["true", "email-in-other-case", "no-email", "lower-case-false", "unreadable-date", "no-timeout",
        "other-address", "other-id", "undocumented-flag", "no-flag", "no-such-contact", "missing", "array"])
def test_mailkit_json_answers(answer, payload, expected, detail):
    confirmation = mailkit_answering("json", payload, json_answer=answer)
    assert found(confirmation) == expected and detail in confirmation.detail
    assert "bob@example.com" not in confirmation.detail


@pytest.mark.parametrize("value, expected, detail", [
    ("TRUE", CONFIRMED, "unsubscribe=TRUE"),
    ("FALSE", STILL, "unsubscribe=FALSE"),
    (True, CONFIRMED, "unsubscribe=TRUE"),
    ("Invalid ID_email or email", CONFIRMED, NOBODY),
    ("Unauthorized", ("unknown", False, "configuration", True), "MAILKIT_CLIENT_MD5"),
    ("bob@example.com", ("unknown", True, "verification", False), "other than the one sent"),
    (7, ("unknown", False, "upstream", True), "unexpected int"),
], ids=["true", "false", "boolean", "no-such-contact", "unauthorized", "an-address", "an-int"])
def test_mailkit_xmlrpc_answers(value, expected, detail):
    confirmation = mailkit_answering("xmlrpc", mk_payload(), value=value)
    assert found(confirmation) == expected and detail in confirmation.detail
    assert "bob@example.com" not in confirmation.detail


@pytest.mark.parametrize("timeout, until, words", [
    ({"date": "0000-00-00"}, None, ""),
    ({"date": "2027-01-31"}, date(2027, 1, 31), ", timeout 2027-01-31"),
    ({"date": "2027-01-31 00:00:00"}, date(2027, 1, 31), ", timeout 2027-01-31"),
    ({"date": "2027-02-31"}, None, ", timeout date unreadable"),
    ({"date": None}, None, ""),
    ({}, None, ""),
    ("2027-01-31", None, ""),
    (None, None, ""),
], ids=["permanent", "date", "datetime", "impossible-date", "null-date", "empty", "not-an-object", "none"])
def test_timeout_date(timeout, until, words):
    assert timeout_date(timeout) == (until, words)


# ---- The sandbox's simulators (every address subscribed, nothing kept but recent digests) -----------------

@pytest.fixture(scope="module")
def sims():
    return sandbox.start_simulators()


def sandbox_connector(sims, destination):
    if destination == "justclick":
        return JustClick(sims["justclick_login"], sims["justclick_secret"], sims["justclick_api_url"], 2.0)
    transport = destination.split("-")[1]
    return Mailkit(sims["mailkit_client_id"], sims["mailkit_client_md5"], sims[f"mailkit_{transport}_url"],
                   2.0, transport=transport)


def sandbox_payload(sims, destination, address, timeout_days=None):
    if destination == "justclick":
        return {"lead_email": address, "rass_name": sims["justclick_group"]}
    return mk_payload(address, timeout_days=timeout_days)


@pytest.mark.parametrize("destination, local, unsubscribe_first, expected", [
    ("justclick", "anna", True, "confirmed"),
    ("mailkit-json", "anna", True, "confirmed"),
    ("mailkit-xmlrpc", "anna", True, "confirmed"),
    ("justclick", "anna+stillsubscribed", True, "still_subscribed"),
    ("mailkit-json", "anna+stillsubscribed", True, "still_subscribed"),
    ("mailkit-xmlrpc", "anna+stillsubscribed", True, "still_subscribed"),
    # Unsubscribed through another process's simulators (each web worker and the worker have their own):
    ("justclick", "elsewhere", False, "confirmed"),
    ("mailkit-json", "elsewhere", False, "confirmed"),
    ("justclick", "anna+stillsubscribed", False, "still_subscribed"),
    ("mailkit-xmlrpc", "anna+stillsubscribed", False, "still_subscribed"),
    ("justclick", "anna+notfound", False, "confirmed"),
    ("mailkit-xmlrpc", "anna+notfound", False, "confirmed"),
    ("justclick", "anna+down", False, "unknown"),
    ("mailkit-json", "anna+badhash", False, "unknown"),
    ("mailkit-xmlrpc", "anna+badhash", False, "unknown"),
], ids=lambda value: value if isinstance(value, str) else None)
def test_the_sandbox_reads_back_what_it_was_asked(sims, destination, local, unsubscribe_first, expected):
    address = f"{local}@{uuid.uuid4().hex[:8]}.example.com"  # a new address each run: the memory persists
    connector = sandbox_connector(sims, destination)
    if unsubscribe_first:
        assert connector.send(sandbox_payload(sims, destination, address)).status == "unsubscribed"
    assert connector.read_back(sandbox_payload(sims, destination, address)).state == expected


def test_the_sandbox_reads_back_another_group_it_was_asked_to_leave(sims):
    address = f"vip@{uuid.uuid4().hex[:8]}.example.com"
    connector = sandbox_connector(sims, "justclick")
    assert connector.read_back({"lead_email": address, "rass_name": "VIP"}).detail == NOT_IN_GROUP
    connector.send({"lead_email": address, "rass_name": "VIP"})
    confirmation = connector.read_back({"lead_email": address, "rass_name": "VIP"})
    assert (confirmation.state, confirmation.detail) == ("confirmed", f"rass_status=STATUS_UNSUBSCRIBE, {SINCE}")


def test_the_sandbox_keeps_a_temporary_opt_outs_date(sims):
    address = f"temp@{uuid.uuid4().hex[:8]}.example.com"
    connector = sandbox_connector(sims, "mailkit-json")
    connector.send(sandbox_payload(sims, "mailkit-json", address, timeout_days=45))
    assert connector.read_back(sandbox_payload(sims, "mailkit-json", address)).until == in_days(45)


# ---- A vendor without read-back ---------------------------------------------------------------------------

def test_a_vendor_without_read_back_says_so_and_asks_nothing():
    server = FakeServer().start()
    try:
        confirmation = Acme(server.base, "key", 2.0).read_back({"address": EMAIL, "list": None})
        assert server.requests == []
    finally:
        server.stop()
    assert (confirmation.state, confirmation.error_kind, confirmation.transient) == ("unknown", "unsupported",
                                                                                     False)
    assert AcmeVendor.supports_read_back is False
    registry.register(AcmeVendor())
    try:
        assert registry.read_back_names() == ("justclick", "mailkit")
    finally:
        registry.unregister("acme")
