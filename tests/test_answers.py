"""Every HTTP answer the hooks give, and what reached the upstream in each case."""

import json
import time

import pytest

from tests.helpers import post

A = "anna@example.com"


@pytest.mark.parametrize("kind, body, ctype, status, needle", [
    ("raw", b"{not json", "application/json", 400, "not valid JSON"),
    ("raw", b'"just a string"', "application/json", 400, "object or an array"),
    ("raw", "<email>a@b.c</emial>", "application/xml", 400, "not well-formed XML"),
    ("raw", b"\xff\xfe\x00garbage", "application/json", 400, "not UTF-8"),
    ("raw", b"", None, 400, "empty"),
    ("raw", b"%PDF-1.4", "application/pdf", 415, "Unsupported media type"),
    ("raw", '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
            "<r><email>&b;</email></r>", "application/xml", 400, "DTD or entities"),
    ("raw", '<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r><email>&x;</email></r>', "text/xml",
     400, "DTD or entities"),
    ("raw", b"[" * 100000 + b"]" * 100000, "application/json", 400, "nested too deeply"),
    ("raw", "<a>" * 50000 + "</a>" * 50000, "application/xml", 400, "nested too deeply"),
    ("raw", '{"data": ' * 5000 + "1" + "}" * 5000, "application/json", 400, "nested too deeply"),
    ("json", {"name": "no address"}, None, 422, "email"),
    ("json", {"email": "not-an-address"}, None, 422, "email"),
    ("json", {"email": 42}, None, 422, "Not a valid string"),
    ("json", {"email": A, "timeout_days": 200}, None, 422, "14 to 90"),
    ("json", {"email": A, "send_optout": "maybe"}, None, 422, "send_optout"),
    ("json", {"a": {"email": A}, "b": {"email": "bob@example.com"}}, None, 422, "a.email, b.email"),
    ("json", [], None, 422, "empty"),
    ("json", [{"email": A}, "x"], None, 422, "object of fields"),
    ("json", {"phone": "+420777123456"}, None, 422, "JustClick identifies contacts by email only"),
])
def test_bad_input_is_answered_and_sends_nothing(client, justclick, mailkit, kind, body, ctype, status, needle):
    response = post(client, body, kind, content_type=ctype)
    assert response.status_code == status
    assert needle in json.dumps(response.json, ensure_ascii=False)
    assert justclick.requests == [] and mailkit.requests == []


def test_batch_errors_are_keyed_by_index(client, justclick):
    response = post(client, [{"email": A}, {"email": "nope"}])
    assert response.status_code == 422 and list(response.json["errors"]) == ["1"]
    assert justclick.requests == []


def test_oversized_body_is_413(make_app, justclick):
    client = make_app(MAX_CONTENT_LENGTH="2048").test_client()
    response = post(client, {"email": A, "padding": "x" * 4096})
    assert response.status_code == 413 and response.json["status"] == "error"
    assert justclick.requests == []


def test_oversized_multipart_is_413(make_app):
    client = make_app(MAX_CONTENT_LENGTH="2048").test_client()
    response = client.post("/hooks/unsubscribe?token=tok-primary-0123456789",
                           data={"email": A, "f": "y" * 5000}, content_type="multipart/form-data")
    assert response.status_code == 413


@pytest.mark.parametrize("script, route, status, overall, code", [
    (None, "justclick", 200, "unsubscribed", "0"),
    ("no_group", "justclick", 422, "rejected", "800"),
    ("bad_hash", "justclick", 502, "failed", "0"),
    (6, "justclick", 502, "failed", "6"),
    (7, "justclick", 502, "failed", "7"),
    (8, "justclick", 202, "queued", "8"),
    ("500", "justclick", 202, "queued", "http_500"),
    ("html", "justclick", 202, "queued", "http_200"),
    ("disallowed_ip", "mailkit", 502, "failed", "1"),
    ("500", "mailkit", 202, "queued", "http_500"),
])
def test_upstream_outcomes_map_to_http(client, justclick, mailkit, script, route, status, overall, code):
    if script == "no_group":
        justclick.groups.clear()
    else:
        justclick.subscribe(A, "Main")
    mailkit.subscribe(A)
    if script not in (None, "no_group"):
        (justclick if route == "justclick" else mailkit).script[A] = script
    response = post(client, {"email": A}, route=route)
    assert (response.status_code, response.json["status"]) == (status, overall)
    result = response.json["results"][0]
    assert result["code"] == code and result["delivery_id"]
    assert set(response.json) == {"id", "status", "results"}


def test_rejection_carries_the_upstream_reason(client, justclick):
    response = post(client, {"email": A, "group": "Nope"}, route="justclick")
    assert response.status_code == 422
    assert "Группа контактов не найдена" in response.json["results"][0]["message"]


def test_not_subscribed_is_200_so_zapier_keeps_the_zap_on(client):
    response = post(client, {"email": "nobody@example.com"})
    assert response.status_code == 200
    assert {r["status"] for r in response.json["results"]} == {"not_subscribed"}


def test_hanging_upstream_is_answered_202_within_the_timeout(make_app, justclick):
    justclick.subscribe(A, "Main")
    justclick.script[A] = "hang"
    justclick.hang_seconds = 4
    client = make_app(UPSTREAM_TIMEOUT="0.5").test_client()
    started = time.monotonic()
    response = post(client, {"email": A}, route="justclick")
    elapsed = time.monotonic() - started
    assert response.status_code == 202 and response.json["status"] == "queued"
    assert elapsed < 0.5 + 1.5


@pytest.mark.parametrize("how", [{"query": "dry_run=1"}, {"headers": {"X-Dry-Run": "true"}}])
def test_dry_run_sends_nothing_and_redacts(client, env, justclick, mailkit, how):
    response = post(client, {"email": A, "group": "VIP"}, **how)
    assert response.status_code == 200 and response.json["status"] == "dry_run"
    text = response.get_data(as_text=True)
    assert env["JUSTCLICK_SECRET"] not in text and env["MAILKIT_CLIENT_MD5"] not in text
    forms = {r["destination"]: r["request"] for r in response.json["results"]}
    assert forms["justclick"]["form"] == {"lead_email": A, "rass_name": "VIP", "hash": "***"}
    assert forms["mailkit"]["json"]["md5"] == "***"
    assert justclick.requests == [] and mailkit.requests == []


BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@pytest.mark.parametrize("settings, fields, script, location", [
    ({"UNSUBSCRIBE_SUCCESS_URL": "https://shop.example.com/bye"}, {}, None, "https://shop.example.com/bye"),
    ({"UNSUBSCRIBE_FAILURE_URL": "https://shop.example.com/oops"}, {}, 6, "https://shop.example.com/oops"),
    ({"ALLOWED_REDIRECT_HOSTS": "shop.example.com", "UNSUBSCRIBE_SUCCESS_URL": "https://d.example.com/"},
     {"redirect": "https://shop.example.com/thanks"}, None, "https://shop.example.com/thanks"),
    ({"ALLOWED_REDIRECT_HOSTS": "shop.example.com", "UNSUBSCRIBE_SUCCESS_URL": "https://d.example.com/"},
     {"redirect": "https://evil.example.net/phish"}, None, "https://d.example.com/"),
    ({"ALLOWED_REDIRECT_HOSTS": "shop.example.com", "UNSUBSCRIBE_SUCCESS_URL": "https://d.example.com/"},
     {"redirect": "http://[shop.example.com/"}, None, "https://d.example.com/"),
    ({"ALLOWED_REDIRECT_HOSTS": "shop.example.com", "UNSUBSCRIBE_SUCCESS_URL": "https://d.example.com/"},
     {"redirect": "https://shop.example.com:99999/x"}, None, "https://d.example.com/"),
], ids=["success-url", "failure-url", "allowed-redirect", "foreign-redirect", "not-a-url", "bad-port"])
def test_browser_form_gets_a_303(make_app, justclick, settings, fields, script, location):
    justclick.subscribe(A, "Main")
    if script:
        justclick.script[A] = script
    client = make_app(**settings).test_client()
    response = post(client, {"email": A, **fields}, "form", route="justclick", headers=BROWSER)
    assert response.status_code == 303 and response.headers["Location"] == location


@pytest.mark.parametrize("fields, status, heading", [
    ({"email": A}, 200, "You are unsubscribed"),
    ({"email": "broken"}, 422, "did not go through"),
])
def test_browser_form_without_urls_gets_a_page(client, justclick, fields, status, heading):
    justclick.subscribe(A, "Main")
    response = post(client, fields, "form", route="justclick",
                    headers=BROWSER, query="redirect=https://evil.example.net/")
    assert response.status_code == status and heading in response.get_data(as_text=True)
    assert response.mimetype == "text/html"


@pytest.mark.parametrize("method, path, status", [
    ("get", "/hooks/justclick", 405), ("delete", "/hooks/unsubscribe", 405), ("get", "/nowhere", 404),
    ("get", "/healthz", 200),
])
def test_routes_answer_json(client, method, path, status):
    response = getattr(client, method)(path)
    assert response.status_code == status and response.is_json


def test_unconfigured_destination_is_503(make_app):
    client = make_app(MAILKIT_CLIENT_ID=None).test_client()
    response = post(client, {"email": A}, route="mailkit")
    assert response.status_code == 503 and "flask check" in response.json["message"]


def test_one_log_line_per_webhook_without_address_or_secret(client, justclick, env, caplog):
    justclick.subscribe(A, "Main")
    with caplog.at_level("INFO", logger="unsub_relay"):
        post(client, {"email": A}, route="justclick")
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("webhook ")]
    assert len(lines) == 1
    assert "justclick:unsubscribed:0:a***@e***.com" in lines[0] and "duration_ms=" in lines[0]
    everything = caplog.text
    for secret in (A, env["JUSTCLICK_SECRET"], env["WEBHOOK_TOKENS"].split(",")[-1].strip()):
        assert secret not in everything


@pytest.mark.parametrize("body, token, line", [
    ({"email": "not-an-address"}, "tok-primary-0123456789", "http=422 status=rejected fields=email"),
    ({"email": A}, "wrong", "http=401 status=unauthorized fields=-"),
])
def test_refused_webhooks_are_logged_without_values(client, caplog, body, token, line):
    with caplog.at_level("INFO", logger="unsub_relay"):
        post(client, body, token=token)
    [logged] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("webhook ")]
    assert line in logged and "not-an-address" not in caplog.text and A not in caplog.text
