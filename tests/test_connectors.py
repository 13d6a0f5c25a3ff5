"""Each connector against its vendor's wire format, one row per documented outcome."""

import json
import xmlrpc.client

import pytest

from connectors.justclick import JustClick
from connectors.mailkit import Mailkit
from tests.fakes import FakeServer

EMAIL = "anna@example.com"


def justclick_for(fake, secret=None, login=None, timeout=2.0):
    return JustClick(login or fake.login, secret or fake.secret, fake.api_url(login), timeout)


def mailkit_for(fake, transport, md5=None, timeout=2.0):
    return Mailkit(fake.client_id, md5 or fake.client_md5, fake.url(transport), timeout, transport=transport)


def jc_payload(email=EMAIL, group="Main"):
    return {"lead_email": email, "rass_name": group}


def mk_payload(email=EMAIL, **extra):
    return {"email": email, "ID_email": None, "ID_send_message": None, "send_optout": True,
            "timeout_days": None, **extra}


@pytest.mark.parametrize("setup, status, code, kind, transient", [
    ("subscribed", "unsubscribed", "0", None, False),
    ("not_in_group", "not_subscribed", "801", None, False),
    ("no_group", "rejected", "800", "invalid_request", False),
    (3, "rejected", "3", "invalid_request", False),
    (1, "failed", "1", "configuration", False),
    (2, "failed", "2", "configuration", False),
    (4, "failed", "4", "configuration", False),
    (5, "failed", "5", "configuration", False),
    (6, "failed", "6", "configuration", False),
    (7, "failed", "7", "configuration", False),
    (8, "failed", "8", "rate_limit", True),
    (999, "failed", "999", "upstream", False),
    ("bad_hash", "failed", "0", "verification", False),
    ("no_hash", "failed", "0", "verification", False),
    ("html", "failed", "http_200", "connection", True),
    ("non_json", "failed", "http_200", "connection", True),
    ("500", "failed", "http_500", "connection", True),
    ("502", "failed", "http_502", "connection", True),
    ("429", "failed", "http_429", "rate_limit", True),
])
def test_justclick_outcomes(justclick, setup, status, code, kind, transient):
    if setup == "subscribed":
        justclick.subscribe(EMAIL, "Main")
    elif setup == "not_in_group":
        justclick.subscribe("someone.else@example.com", "Main")
    elif setup == "no_group":
        justclick.groups.clear()
    else:
        justclick.subscribe(EMAIL, "Main")
        justclick.script[EMAIL] = setup
    result = justclick_for(justclick).send(jc_payload())
    assert (result.status, result.code, result.transient) == (status, code, transient)
    assert result.error_kind == kind
    assert justclick.secret not in result.message


def test_justclick_sends_exactly_the_signed_php_query(justclick):
    justclick.subscribe("o'brien+x~y@example.com", "Рассылка «Новости» 2026")
    result = justclick_for(justclick).send(jc_payload("o'brien+x~y@example.com", "Рассылка «Новости» 2026"))
    assert result.status == "unsubscribed"
    sent = justclick.requests[-1]
    assert sent["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert sent["body"].startswith(b"lead_email=o%27brien%2Bx%7Ey%40example.com&rass_name=%D0%A0")
    assert b"+%C2%AB" in sent["body"]  # space before the guillemet is PHP's '+'


@pytest.mark.parametrize("secret, login, code, kind, hint", [
    # JustClick signs its code-4 answer with the real secret, so our check cannot verify it.
    ("wrong-secret", None, "4", "verification", "JUSTCLICK_SECRET"),
    (None, "intruder", "5", "configuration", "JUSTCLICK_LOGIN"),
])
def test_justclick_refuses_bad_credentials(justclick, secret, login, code, kind, hint):
    justclick.subscribe(EMAIL, "Main")
    result = justclick_for(justclick, secret=secret, login=login).send(jc_payload())
    assert (result.status, result.code, result.error_kind) == ("failed", code, kind)
    assert hint in result.message
    assert EMAIL in justclick.groups["Main"]


def test_justclick_timeout_is_transient(justclick):
    justclick.script[EMAIL] = "hang"
    justclick.hang_seconds = 1.5
    result = justclick_for(justclick, timeout=0.3).send(jc_payload())
    assert (result.status, result.transient, result.error_kind) == ("failed", True, "connection")
    assert "did not answer within 0.3 s" in result.message


def test_connection_refused_is_transient():
    connector = JustClick("acme", "s", "http://127.0.0.1:9/acme/api/", 1.0)
    result = connector.send(jc_payload())
    assert result.transient and "could not reach justclick" in result.message


MAILKIT_OUTCOMES = [
    ("subscribed", "unsubscribed", None),
    ("nolist", "not_subscribed", None),
    ("invalid", "rejected", "invalid_request"),
    ("wrong_md5", "failed", "configuration"),
    ("disallowed_ip", "failed", "configuration"),
    ("html", "failed", "connection"),
    ("500", "failed", "connection"),
]


@pytest.mark.parametrize("transport, setup, status, kind", [
    *[("json", *row) for row in MAILKIT_OUTCOMES],
    *[("xmlrpc", *row) for row in MAILKIT_OUTCOMES],
    ("json", "already", "already_unsubscribed", None),
    ("json", "missing", "rejected", "invalid_request"),
    # XML-RPC answers only the ID, so an earlier unsubscribe looks like a fresh one.
    ("xmlrpc", "already", "unsubscribed", None),
])
def test_mailkit_outcomes(mailkit, transport, setup, status, kind):
    address = {"invalid": "not-an-address", "missing": ""}.get(setup, EMAIL)
    if setup in ("subscribed", "already"):
        mailkit.subscribe(EMAIL)
    if setup == "already":
        mailkit.unsubscribe(EMAIL)
    if setup in ("disallowed_ip", "html", "500"):
        mailkit.script[EMAIL] = setup
    connector = mailkit_for(mailkit, transport, md5="wrong" if setup == "wrong_md5" else None)
    result = connector.send(mk_payload(address))
    assert result.status == status
    assert result.error_kind == kind
    assert mailkit.client_md5 not in result.message
    if setup == "disallowed_ip":
        assert "HTTPS_PROXY" in result.message and "whitelisted" in result.message


@pytest.mark.parametrize("transport", ["json", "xmlrpc"])
def test_mailkit_phone_campaign_and_temporary_unsubscribe(mailkit, transport):
    mailkit.subscribe("+420777123456")
    payload = mk_payload("+420777123456", ID_send_message="4242", send_optout=False, timeout_days=30)
    result = mailkit_for(mailkit, transport).send(payload)
    assert result.status == "unsubscribed"
    kind, call = mailkit.calls[-1]
    if transport == "json":
        assert call["parameters"] == {"send_optout": "FALSE", "email": "+420777123456",
                                      "ID_send_message": "4242", "timeout": "TRUE", "timeout_days": "30"}
    else:
        assert call == (int(mailkit.client_id), mailkit.client_md5, "+420777123456", 4242, False,
                        {"timeout": True, "timeout_days": 30})


def test_mailkit_xmlrpc_without_options_sends_five_params(mailkit):
    mailkit.subscribe(EMAIL)
    assert mailkit_for(mailkit, "xmlrpc").send(mk_payload()).status == "unsubscribed"
    assert mailkit.calls[-1][1] == (int(mailkit.client_id), mailkit.client_md5, EMAIL, "", True)


@pytest.mark.parametrize("transport, code", [("xmlrpc", "id"), ("json", "1")], ids=["xmlrpc", "json"])
def test_mailkit_by_numeric_id_is_unsubscribed(mailkit, transport, code):
    """Mailkit echoes the ID on success: that is no 'not subscribed' (it is for an echoed address)."""
    mailkit.subscribe(EMAIL)
    address_id = mailkit.subscribed[EMAIL]
    result = mailkit_for(mailkit, transport).send(mk_payload(None, ID_email=str(address_id)))
    assert (result.status, result.code) == ("unsubscribed", str(address_id) if code == "id" else code)
    assert EMAIL in mailkit.unsubscribed


@pytest.mark.parametrize("behaviour, status, kind", [
    ("hostile", "failed", "verification"),
    ("fault", "failed", "configuration"),
])
def test_mailkit_xmlrpc_hostile_and_fault(mailkit, behaviour, status, kind):
    mailkit.script[EMAIL] = behaviour
    result = mailkit_for(mailkit, "xmlrpc").send(mk_payload())
    assert (result.status, result.error_kind) == (status, kind)


def test_mailkit_timeout_is_transient(mailkit):
    mailkit.script[EMAIL] = "hang"
    mailkit.hang_seconds = 1.5
    result = mailkit_for(mailkit, "json", timeout=0.3).send(mk_payload())
    assert result.transient and result.error_kind == "connection"


def test_xmlrpc_body_is_standard_library_xml(mailkit):
    body = mailkit_for(mailkit, "xmlrpc").xmlrpc_body(mk_payload(timeout_days=14))
    params, method = xmlrpc.client.loads(body)
    assert method == "mailkit.email.unsubscribe" and params[-1] == {"timeout": True, "timeout_days": 14}


def test_https_proxy_is_honoured(monkeypatch, justclick):
    """HTTPS_PROXY/HTTP_PROXY route calls through the proxy (Mailkit's IP whitelist on a PaaS)."""
    seen = []

    class Proxy(FakeServer):
        def handle(self, path, headers, body):
            seen.append(path)  # a forward proxy receives the absolute URL
            return 200, "application/json", b'{"error_code": 0, "error_text": "", "hash": "x"}'

    proxy = Proxy().start()
    try:
        monkeypatch.setenv("HTTP_PROXY", proxy.base)
        monkeypatch.setenv("NO_PROXY", "")
        result = justclick_for(justclick).send(jc_payload())
        assert seen and seen[0].startswith("http://127.0.0.1:") and result.error_kind == "verification"
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        seen.clear()
        justclick_for(justclick).send(jc_payload())
        assert seen == []
    finally:
        proxy.stop()


@pytest.mark.parametrize("env, proxy, authorization", [
    ({"HTTPS_PROXY": "http://proxy.corp:3128"}, "http://proxy.corp:3128", None),
    ({"HTTPS_PROXY": "proxy.corp:3128"}, "http://proxy.corp:3128", None),
    ({"HTTPS_PROXY": "http://user:p%40ss@proxy.corp:3128"}, "http://proxy.corp:3128", "Basic dXNlcjpwQHNz"),
    ({"HTTPS_PROXY": "http://proxy.corp:3128", "NO_PROXY": "mailkit.eu"}, None, None),
    ({"HTTP_PROXY": "http://proxy.corp:3128"}, None, None),  # for http:// URLs only
    ({}, None, None),
], ids=["plain", "no-scheme", "credentials", "no-proxy", "other-scheme", "none"])
def test_proxy_for(monkeypatch, env, proxy, authorization):
    from connectors.transport import proxy_for
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY", "https_proxy", "http_proxy",
                 "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    found, headers = proxy_for("https://api.mailkit.eu/json.fcgi")
    assert (found, (headers or {}).get("proxy-authorization")) == (proxy, authorization)


@pytest.mark.parametrize("make", [
    lambda jc, mk: JustClick(jc.login, jc.secret, f"{jc.base}/wrong/path/", 2.0),
    lambda jc, mk: Mailkit(mk.client_id, mk.client_md5, f"{mk.base}/nothing.fcgi", 2.0),
    lambda jc, mk: Mailkit(mk.client_id, mk.client_md5, f"{mk.base}/nothing.fcgi", 2.0, transport="xmlrpc"),
])
def test_a_wrong_api_url_is_configuration_not_an_outage(justclick, mailkit, make):
    connector = make(justclick, mailkit)
    result = connector.send(jc_payload() if connector.name == "justclick" else mk_payload())
    assert (result.status, result.transient, result.error_kind, result.code) == (
        "failed", False, "configuration", "http_404")
    assert "API_URL" in result.message



class MailkitAnswering(FakeServer):
    """A Mailkit endpoint that gives one fixed answer to any call: `json` at /json.fcgi, the XML-RPC value
    `xmlrpc` at /rpc.fcgi."""

    def __init__(self, json_answer, xmlrpc_value):
        super().__init__()
        self.json_answer, self.xmlrpc_value = json_answer, xmlrpc_value

    def handle(self, path, headers, body):
        if path.endswith("/json.fcgi"):
            return 200, "application/json", json.dumps(self.json_answer).encode()
        return 200, "text/xml", xmlrpc.client.dumps((self.xmlrpc_value,), methodresponse=True).encode()


ECHOES = [  # (id, what Mailkit names: ID_email or the XML-RPC value, the address sent, status, error kind)
    ("id", 282837491, EMAIL, "unsubscribed", None),
    ("echo", EMAIL, EMAIL, "not_subscribed", None),
    ("echo in other case", EMAIL.upper(), EMAIL, "not_subscribed", None),
    ("phone echo", "+420777123456", "+420777123456", "not_subscribed", None),
    ("phone echo without +", "420777123456", "+420777123456", "not_subscribed", None),
    ("echo rewritten", "ivan@пример.рф", "ivan@xn--e1afmkfd.xn--p1ai", "failed", "verification"),
    ("other address", "bob@example.com", EMAIL, "failed", "verification"),
    ("other phone", "+420777000000", "+420777123456", "failed", "verification"),
]
JSON_ONLY_ECHOES = [
    ("id as text", "282837491", EMAIL, "unsubscribed", None),
    ("empty", "", EMAIL, "failed", "verification"),
    ("missing", None, EMAIL, "failed", "verification"),
    ("arabic-indic digits", "١٢٣", EMAIL, "failed", "verification"),
]


@pytest.mark.parametrize("transport, echoed, sent, status, kind", [
    pytest.param(transport, *row[1:], id=f"{transport}: {row[0]}")
    for transport in ("json", "xmlrpc") for row in ECHOES] + [
    pytest.param("json", *row[1:], id=f"json: {row[0]}") for row in JSON_ONLY_ECHOES])
def test_mailkit_success_is_believed_only_for_the_address_sent(transport, echoed, sent, status, kind):
    """Mailkit names the contact's numeric ID or echoes the address sent; an answer about any other address
    is no success for ours, and its text (an address) is not repeated."""
    answer = {"error_status": "0", "status": "1", **({} if echoed is None else {"ID_email": echoed})}
    server = MailkitAnswering(answer, echoed).start()
    try:
        url = f"{server.base}/{'json' if transport == 'json' else 'rpc'}.fcgi"
        result = Mailkit("12345", "md5", url, 2.0, transport=transport).send(mk_payload(sent))
    finally:
        server.stop()
    assert (result.status, result.error_kind) == (status, kind)
    assert kind is None or not echoed or str(echoed) not in result.message
