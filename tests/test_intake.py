"""Every shape a sender uses reaches the upstream with the right address, group and options."""

import json

import pytest

from tests.helpers import post

A = "anna@example.com"


def sent_emails(justclick):
    return [dict(p.split("=", 1) for p in r["body"].decode().split("&"))["lead_email"].replace("%40", "@")
            for r in justclick.requests]


SHAPES = [
    ("json flat", "json", {"email": A}, None),
    ("json+suffix media type", "raw", json.dumps({"email": A}), "application/vnd.api+json"),
    ("json no content type (sniffed)", "raw", json.dumps({"email": A}), None),
    ("json as text/plain (sniffed)", "raw", json.dumps({"email": A}), "text/plain"),
    ("zapier unflattened", "json", {"data": {"email": A}}, None),
    ("zapier flattened keys", "json", {"data__email": A, "data__name": "Anna"}, None),
    ("form", "form", {"email": A}, None),
    ("form sniffed", "raw", f"email={A}", None),
    ("xml without root", "xml", f"<email>{A}</email><name>Anna</name>", None),
    ("xml with root and declaration", "xml",
     f'<?xml version="1.0" encoding="utf-8"?><unsubscribe><email>{A}</email></unsubscribe>', None),
    ("xml nested", "xml", f"<data><email>{A}</email></data>", None),
    ("alias e-mail", "json", {"E-Mail": A}, None),
    ("alias email_address", "form", {"Email_Address": A}, None),
    ("alias lead_email", "form", {"lead_email": A}, None),
    ("alias mail", "json", {"MAIL": A}, None),
    ("single-item list", "json", {"email": [A]}, None),
    ("tilda", "form", {"Email": A, "Name": "Anna", "formid": "form123", "tranid": "987:654"}, None),
    ("unbounce", "form", {"data.json": json.dumps({"email": [A], "name": ["Anna"]}), "page_id": "p1",
                          "page_url": "https://lp.example.com/", "variant": "a"}, None),
    ("typeform", "json", {"event_id": "01H", "event_type": "form_response", "form_response": {
        "form_id": "abc", "hidden": {}, "answers": [
            {"type": "text", "text": "Anna", "field": {"id": "1", "type": "short_text"}},
            {"type": "email", "email": A, "field": {"id": "2", "type": "email"}}]}}, None),
    ("tally", "json", {"eventId": "e1", "eventType": "FORM_RESPONSE", "data": {"fields": [
        {"key": "q1", "label": "Name", "type": "INPUT_TEXT", "value": "Anna"},
        {"key": "q2", "label": "Your email", "type": "INPUT_EMAIL", "value": A}]}}, None),
]


@pytest.mark.parametrize("name, kind, body, ctype", SHAPES, ids=[s[0] for s in SHAPES])
def test_shape_reaches_justclick(client, justclick, name, kind, body, ctype):
    justclick.subscribe(A, "Main")
    response = post(client, body, kind, route="justclick", content_type=ctype)
    assert response.status_code == 200, response.json
    assert response.json["status"] == "unsubscribed"
    assert sent_emails(justclick) == [A]


def test_multipart_form(client, justclick):
    justclick.subscribe(A, "Main")
    response = client.post("/hooks/justclick?token=tok-primary-0123456789",
                           data={"email": A, "group": "Main"}, content_type="multipart/form-data")
    assert response.status_code == 200 and sent_emails(justclick) == [A]


def test_batch_answers_one_result_per_item_and_destination(client, justclick, mailkit):
    justclick.subscribe(A, "Main")
    response = post(client, [{"email": A}, {"data": {"email": "bob@example.com"}}])
    assert response.status_code == 200
    assert [(r["index"], r["destination"]) for r in response.json["results"]] == [
        (0, "justclick"), (0, "mailkit"), (1, "justclick"), (1, "mailkit")]
    assert [r["status"] for r in response.json["results"]] == [
        "unsubscribed", "not_subscribed", "not_subscribed", "not_subscribed"]


@pytest.mark.parametrize("fields, expect", [
    ({"email": A, "group": "VIP"}, "VIP"),
    ({"email": A, "rass_name": "VIP"}, "VIP"),
    ({"email": A, "LIST": "VIP"}, "VIP"),
    ({"email": A}, "Main"),
    ({"email": A, "group": "Группа с пробелами"}, "Группа с пробелами"),
    ({"email": A, "group": "  VIP "}, "VIP"),
], ids=["group", "rass_name", "any-case-alias", "default", "spaces-inside", "spaces-around-trimmed"])
def test_group_aliases_and_default(client, justclick, fields, expect):
    justclick.subscribe(A, expect)
    response = post(client, fields, "form", route="justclick")
    assert response.status_code == 200 and response.json["status"] == "unsubscribed"


def test_query_fields_fill_in_what_the_body_lacks(client, justclick):
    justclick.subscribe(A, "VIP")
    response = post(client, {"email": A}, "form", route="justclick", query="group=VIP")
    assert response.status_code == 200 and response.json["status"] == "unsubscribed"


@pytest.mark.parametrize("fields, params", [
    ({"phone": "+420 777 123 456"}, {"email": "+420777123456"}),
    ({"phone_number": "00420777123456", "send_optout": "no"}, {"email": "+420777123456", "send_optout": "FALSE"}),
    ({"email": A, "campaign_id": "99", "send_optout": "off", "timeout_days": "14"},
     {"email": A, "ID_send_message": "99", "send_optout": "FALSE", "timeout": "TRUE", "timeout_days": "14"}),
    ({"email": A, "ID_send_message": 5, "send_optout": "YES"}, {"email": A, "ID_send_message": "5"}),
    ({"ID_email": "{id}"}, {"ID_email": "{id}"}),
])
def test_mailkit_fields(client, mailkit, fields, params):
    mailkit.subscribe(A)
    known_id = str(mailkit.subscribed[A])
    fields = {k: known_id if v == "{id}" else v for k, v in fields.items()}
    params = {k: known_id if v == "{id}" else v for k, v in params.items()}
    response = post(client, fields, "json", route="mailkit")
    assert response.status_code == 200, response.json
    sent = mailkit.calls[-1][1]["parameters"]
    assert {k: sent[k] for k in params} == params


def test_tilda_setup_ping_reaches_no_upstream(client, justclick, mailkit):
    response = post(client, {"test": "test"}, "form")
    assert response.status_code == 200 and response.json["status"] == "ok"
    assert justclick.requests == [] and mailkit.requests == []


def test_one_click_unsubscribe_rfc8058(client, justclick):
    justclick.subscribe(A, "Main")
    response = client.post(f"/hooks/justclick?token=tok-primary-0123456789&email={A}",
                           data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded",
                           headers={"Accept": "text/html"})
    assert response.status_code == 200 and response.json["status"] == "unsubscribed"


@pytest.mark.parametrize("field, value, status", [
    ("ID_email", "2147483647", None), ("ID_email", "2147483648", 422), ("ID_email", "99999999999", 422),
    ("ID_send_message", "2147483648", 422),
], ids=["id-at-the-int32-top", "id-past-it", "id-of-11-digits", "campaign-past-it"])
def test_a_mailkit_id_past_what_xml_rpc_carries_is_refused_before_anything_is_sent(make_app, mailkit, field,
                                                                                  value, status):
    client = make_app(MAILKIT_TRANSPORT="xmlrpc").test_client()
    before = len(mailkit.requests)
    answer = post(client, {"email": "id@example.com", field: value}, route="mailkit")
    assert answer.status_code != 422 if status is None else answer.status_code == status, answer.json
    assert len(mailkit.requests) - before == (1 if status is None else 0)  # the top one is sent
