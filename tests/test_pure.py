"""Pure pieces as tables: intake's kind_of, inbound's canonical, the answer's statuses and HTTP mapping."""

from dataclasses import replace

import pytest
from marshmallow import ValidationError

from connectors.base import failure
from connectors.errors import APIConnectionError, ConfigurationError
from delivery.answer import answer_of, entry_of, row_status
from errors import BadBody, Invalid
from schemas.fields import Email
from schemas.inbound import canonical
from status import overall
from schemas.shapes import Delivery, Outcome
from webhooks.answers import http_status, public_body
from webhooks.intake import kind_of

DELIVERY = Delivery("justclick", "a@example.com", {}, group="Main", id="d1")


@pytest.mark.parametrize("mimetype, raw, kind", [
    ("application/json", b"", "json"), ("application/vnd.api+json", b"", "json"), ("text/json", b"", "json"),
    ("application/xml", b"", "xml"), ("application/atom+xml", b"", "xml"),
    ("application/x-www-form-urlencoded", b"", "form"), ("multipart/form-data", b"", "multipart"),
    ("", b'  {"email": 1}', "json"), ("text/plain", b"[{}]", "json"), ("", b"<email>a</email>", "xml"),
    ("application/octet-stream", b"email=a%40b.cz", "form"),
], ids=["json", "plus-json", "text-json", "xml", "plus-xml", "form", "multipart", "sniff-object",
        "sniff-array", "sniff-xml", "sniff-form"])
def test_kind_of(mimetype, raw, kind):
    assert kind_of(mimetype, raw) == kind


@pytest.mark.parametrize("mimetype, raw, status", [
    ("image/png", b"{}", 415), ("", b"", 400), ("text/plain", b"hello", 400),
], ids=["unsupported", "empty", "unreadable"])
def test_kind_of_refuses(mimetype, raw, status):
    with pytest.raises(BadBody) as caught:
        kind_of(mimetype, raw)
    assert caught.value.http_status == status


@pytest.mark.parametrize("item, expected", [
    ({"Email": "a@b.cz"}, {"email": "a@b.cz"}),
    ({"E-Mail": "a@b.cz", "rass_name": "VIP"}, {"email": "a@b.cz", "group": "VIP"}),
    ({"data": {"email": "a@b.cz"}}, {"email": "a@b.cz"}),
    ({"data__email": "a@b.cz", "campaign_id": 7}, {"email": "a@b.cz", "ID_send_message": 7}),
    ({"email": ["a@b.cz"], "mobile phone": "+420777123456"}, {"email": "a@b.cz", "phone": "+420777123456"}),
    ({"email": "a@b.cz", "data": {"email": "a@b.cz"}}, {"email": "a@b.cz"}),
    ({"name": "Anna", "email": ""}, {}),
    ({"email": "a@b.cz", "group": {"name": "VIP"}}, {"email": "a@b.cz", "group": {"name": "VIP"}}),
    ({"email": "a@b.cz", "list": {}}, {"email": "a@b.cz", "group": {}}),
    ({"data": {"email": {"value": "a@b.cz"}}}, {"email": {"value": "a@b.cz"}}),
], ids=["alias-case", "dash-and-group", "one-level-down", "zapier-flattened", "single-list-and-space",
        "same-value-twice", "nothing-usable", "object-kept-for-the-schema-to-refuse", "empty-object-kept",
        "object-one-level-down-kept"])
def test_canonical(item, expected):
    assert canonical(item) == expected


def test_canonical_names_both_paths_of_a_conflict():
    with pytest.raises(Invalid) as caught:
        canonical({"data": {"email": "a@b.cz"}, "form": {"email": "c@d.cz"}})
    assert "data.email" in caught.value.errors["email"][0] and "form.email" in caught.value.errors["email"][0]


@pytest.mark.parametrize("statuses, top, http", [
    (["unsubscribed"], "unsubscribed", 200), (["not_subscribed", "already_unsubscribed"], "already_unsubscribed", 200),
    (["unsubscribed", "queued"], "queued", 202), (["queued", "rejected"], "rejected", 422),
    (["rejected", "failed", "unsubscribed"], "failed", 502), ([], "unsubscribed", 200),
], ids=["one", "successes", "queued", "rejected", "failed", "none"])
def test_overall_status_and_http(statuses, top, http):
    assert overall(statuses) == top and http_status(top) == http


@pytest.mark.parametrize("error, status", [
    (None, "unsubscribed"), (APIConnectionError("down"), "queued"), (ConfigurationError("key"), "failed"),
], ids=["sent", "transient-is-queued", "configuration"])
def test_entry_of_a_send(error, status):
    outcome = Outcome("justclick", "unsubscribed", "0") if error is None else failure("justclick", error)
    entry = entry_of(DELIVERY, outcome)
    assert (entry.status, entry.delivery_id, entry.destination) == (status, "d1", "justclick")


@pytest.mark.parametrize("state, outcome, status", [
    ("pending", None, "queued"), ("done", "not_subscribed", "not_subscribed"), ("failed", "rejected", "rejected"),
    ("failed", None, "failed"), ("failed", "still_subscribed", "failed"),
], ids=["pending", "done", "failed-rejected", "failed-bare", "failed-still-subscribed"])
def test_row_status(state, outcome, status):
    assert row_status(state, outcome) == status
    entry = entry_of(replace(DELIVERY, is_new=False, status=state, outcome=outcome))
    assert (entry.status, entry.message) == (status, "answered from an earlier identical request")


@pytest.mark.parametrize("delivery, message", [
    (DELIVERY, "accepted; the worker will send it"),
    (replace(DELIVERY, hold="the breaker is open"), "the breaker is open"),
    (replace(DELIVERY, last_text="contact not found"), "contact not found"),
    (replace(DELIVERY, is_new=False, last_text="not found"), "answered from an earlier identical request"),
], ids=["accepted", "held", "read-back", "earlier"])
def test_entry_of_a_delivery_not_sent_now(delivery, message):
    assert entry_of(delivery).message == message


def test_answer_of_a_batch_carries_indexes():
    answer = answer_of("r1", [(DELIVERY, None)], batch=True)
    assert answer.body == {"id": "r1", "status": "queued", "results": [
        {"index": 0, "destination": "justclick", "status": "queued", "code": None,
         "message": "accepted; the worker will send it", "delivery_id": "d1"}]}


@pytest.mark.parametrize("received, carried", [
    ("anna@example.com", "anna@example.com"), ("ivan@xn--e1afmkfd.xn--p1ai", "ivan@xn--e1afmkfd.xn--p1ai"),
    ("ivan@пример.рф", "ivan@пример.рф"), ("Anna.Smith@Example.COM", "Anna.Smith@Example.COM"),
    ("anna+news@example.com", "anna+news@example.com"), (" anna@example.com\t", "anna@example.com"),
    ("not-an-address", None), ("anna@example", None), ("anna@\u0000example.com", None),
], ids=["ascii", "punycode", "unicode-domain", "mixed-case", "plus", "trimmed", "no-at", "no-dot", "nul"])
def test_email_is_checked_and_carried_as_received(received, carried):
    if carried is None:
        with pytest.raises(ValidationError):
            Email().deserialize(received)
    else:
        assert Email().deserialize(received) == carried


def entry(status, **more):
    return {"destination": "mailkit", "status": status, "code": "1", "message": "unsubscribed (ID_email 28)",
            "delivery_id": "d1", **more}


@pytest.mark.parametrize("top, statuses, public_top, public_statuses", [
    ("unsubscribed", ["unsubscribed", "not_subscribed"], "unsubscribed", ["unsubscribed", "unsubscribed"]),
    ("not_subscribed", ["not_subscribed"], "unsubscribed", ["unsubscribed"]),
    ("already_unsubscribed", ["already_unsubscribed"], "unsubscribed", ["unsubscribed"]),
    ("queued", ["queued", "not_subscribed"], "queued", ["queued", "unsubscribed"]),
    ("rejected", ["rejected"], "rejected", ["rejected"]),
    ("failed", ["failed", "unsubscribed"], "failed", ["failed", "unsubscribed"]),
], ids=["mixed-successes", "not-subscribed", "already", "queued", "rejected", "failed"])
def test_public_body_keeps_the_outcome_and_drops_the_vendor(top, statuses, public_top, public_statuses):
    body = {"id": "r1", "status": top, "results": [entry(s) for s in statuses]}
    assert public_body(body) == {"id": "r1", "status": public_top,
                                 "results": [{"status": s} for s in public_statuses]}
    assert http_status(public_body(body)["status"]) == http_status(top)
