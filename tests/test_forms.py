"""Public form keys: they carry what a visitor types, their answers say nothing a vendor said nor whether the
address was on a list, and the honeypot's decoy cannot be told from a real answer."""

import re
import uuid

import pytest

from tests.conftest import TOKEN
from tests.helpers import post

A = "anna@example.com"
FORM_KEY = "public-form-key-123"
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
SHOP = {"ALLOWED_REDIRECT_HOSTS": "shop.example.com"}


@pytest.fixture
def form_app(make_app):
    def build(**settings):
        return make_app(FORM_KEYS=FORM_KEY, PUBLIC_RATE_LIMIT="1000 per minute", **settings)
    return build


def submit(client, fields, kind="form", route="unsubscribe", query="", headers=None, token=None):
    """A landing page's submission: the form key in the URL (or a server token, when given)."""
    query = "&".join(q for q in (f"key={FORM_KEY}" if token is None else "", query) if q)
    return post(client, fields, kind, route=route, token=token, query=query, headers=headers)


def nothing_sent(justclick, mailkit):
    return justclick.requests == [] and mailkit.requests == []


VENDOR_FIELDS = [  # (id, kind, fields, query, the canonical field the 422 names)
    ("ID_email alone", "form", {"ID_email": "{id}"}, "", "ID_email"),
    ("ID_email as JSON number", "json", {"ID_email": "{id}"}, "", "ID_email"),
    ("email_id beside an address", "form", {"email": A, "email_id": "{id}"}, "", "ID_email"),
    ("ID_email in the query", "form", {"email": A}, "ID_email={id}", "ID_email"),
    ("ID_email one level down", "json", {"data": {"ID_email": "{id}"}}, "", "ID_email"),
    ("campaign", "form", {"email": A, "campaign_id": "99"}, "", "ID_send_message"),
    ("send_optout", "form", {"email": A, "send_optout": "no"}, "", "send_optout"),
    ("timeout_days", "json", {"email": A, "timeout_days": 30}, "", "timeout_days"),
]


@pytest.mark.parametrize("route", ["unsubscribe", "mailkit"])
@pytest.mark.parametrize("kind, fields, query, named", [v[1:] for v in VENDOR_FIELDS],
                         ids=[v[0] for v in VENDOR_FIELDS])
def test_a_form_key_carries_no_vendor_field(form_app, justclick, mailkit, route, kind, fields, query, named):
    mailkit.subscribe(A)
    known = str(mailkit.subscribed[A])
    fields = {k: ({"ID_email": known} if v == {"ID_email": "{id}"} else known if v == "{id}" else v)
              for k, v in fields.items()}
    answer = submit(form_app().test_client(), fields, kind, route, query.replace("{id}", known))
    assert answer.status_code == 422 and named in answer.json["errors"], answer.json
    assert nothing_sent(justclick, mailkit) and A in mailkit.subscribed


def test_ten_consecutive_ids_unsubscribe_nobody(form_app, justclick, mailkit):
    for n in range(10):
        mailkit.subscribe(f"person{n}@example.com")
    client = form_app().test_client()
    ids = sorted(mailkit.subscribed.values())
    answers = [submit(client, {"ID_email": str(i)}, route="mailkit") for i in ids]
    assert {a.status_code for a in answers} == {422} and nothing_sent(justclick, mailkit)
    assert len(mailkit.subscribed) == 10


@pytest.mark.parametrize("route, fields, query", [
    ("unsubscribe", {"email": A}, ""),
    ("mailkit", {"phone": "+420 777 123 456"}, ""),
    ("justclick", {"email": A, "group": "Main"}, ""),
    ("justclick", {"email": A}, "group=Main"),
    ("unsubscribe", {"email": A, "redirect": "https://shop.example.com/bye"}, ""),
    ("unsubscribe", {"email": A, "name": "Anna", "language": "cs", "website": "", "formid": "f1"}, ""),
], ids=["address", "phone", "group set by the page", "group in the URL", "redirect", "page's own fields"])
def test_a_form_key_takes_what_a_visitor_types(form_app, justclick, mailkit, route, fields, query):
    answer = submit(form_app(**SHOP).test_client(), fields, route=route, query=query)
    assert answer.status_code == 200, answer.json
    assert len(justclick.requests) + len(mailkit.requests) >= 1


def without_id(body):
    """The answer with its request id swapped for its format, to compare two answers."""
    assert uuid.UUID(hex=body["id"]).version == 4 and re.fullmatch("[0-9a-f]{32}", body["id"])
    return {**body, "id": "<uuid4 hex>"}


ALL_DONE = {"id": "<uuid4 hex>", "status": "unsubscribed",
            "results": [{"status": "unsubscribed"}, {"status": "unsubscribed"}]}
PUBLIC_OUTCOMES = [  # (id, vendor state, HTTP status, the whole public answer)
    ("both unsubscribed", "subscribed", 200, ALL_DONE),
    ("on no list", "nowhere", 200, ALL_DONE),
    ("already unsubscribed", "already", 200, ALL_DONE),
    ("vendor down", "down", 202, {"id": "<uuid4 hex>", "status": "queued",
                                   "results": [{"status": "queued"}, {"status": "queued"}]}),
    ("vendor refuses", "no_group", 422, {"id": "<uuid4 hex>", "status": "rejected",
                                         "results": [{"status": "rejected"}, {"status": "unsubscribed"}]}),
]


def set_state(state, justclick, mailkit):
    if state in ("subscribed", "already", "down"):
        justclick.subscribe(A, "Main")
        mailkit.subscribe(A)
    if state == "already":
        mailkit.unsubscribe(A)
        justclick.script[A] = 801
    if state == "down":
        justclick.script[A] = mailkit.script[A] = "500"
    if state == "no_group":
        justclick.groups.clear()


@pytest.mark.parametrize("state, http, expected", [o[1:] for o in PUBLIC_OUTCOMES],
                         ids=[o[0] for o in PUBLIC_OUTCOMES])
def test_public_answers_say_nothing_a_vendor_said(form_app, justclick, mailkit, state, http, expected):
    set_state(state, justclick, mailkit)
    answer = submit(form_app().test_client(), {"email": A})
    assert (answer.status_code, without_id(answer.json)) == (http, expected)
    text = answer.get_data(as_text=True)
    assert not re.search(r"282837|Успешно|justclick|mailkit|not_subscribed|code|message", text), text


def test_on_a_list_or_not_a_public_caller_gets_the_same_answer(form_app, justclick, mailkit):
    """Whether the address was on a list is no public information: JSON and page alike."""
    client = form_app().test_client()
    for n, headers in enumerate((None, BROWSER)):
        on_list, nowhere = f"on.list{n}@example.com", f"nowhere{n}@example.com"
        justclick.subscribe(on_list, "Main")
        mailkit.subscribe(on_list)
        first, second = (submit(client, {"email": a}, headers=headers) for a in (on_list, nowhere))
        assert on_list not in justclick.groups["Main"] and on_list in mailkit.unsubscribed
        assert presented(first) == presented(second)


def test_a_server_token_keeps_the_full_answer(form_app, justclick, mailkit):
    mailkit.subscribe(A)
    answer = submit(form_app().test_client(), {"email": A}, kind="json", token=TOKEN)
    results = {r["destination"]: r for r in answer.json["results"]}
    assert results["justclick"]["status"] == "not_subscribed" and results["justclick"]["code"] == "801"
    assert results["mailkit"]["code"] == "1" and str(mailkit.unsubscribed[A]) in results["mailkit"]["message"]
    assert results["mailkit"]["delivery_id"]


def presented(response):
    """What a caller can observe of an answer: status, headers, and the body (its request id as a format)."""
    headers = dict(response.headers)
    if response.is_json:
        body = response.json
        return response.status_code, headers, without_id(body) if "id" in body else body
    return response.status_code, headers, response.get_data(as_text=True)


DECOYS = [  # (id, app settings, extra fields, request headers)
    ("json", {}, {}, None),
    ("json, sent as JSON", {}, {"_kind": "json"}, None),
    ("page", {}, {}, BROWSER),
    ("page, success URL", {"UNSUBSCRIBE_SUCCESS_URL": "https://shop.example.com/bye"}, {}, BROWSER),
    ("page, redirect field", SHOP, {"redirect": "https://shop.example.com/thanks"}, BROWSER),
    ("json, redirect field", SHOP, {"redirect": "https://shop.example.com/thanks"}, None),
    ("invalid address", {}, {"email": "not-an-address"}, None),
    ("invalid address, page", {}, {"email": "not-an-address"}, BROWSER),
    ("vendor field", {}, {"ID_email": "5"}, None),
    ("sandbox", {"SANDBOX": "1"}, {}, None),
]


@pytest.mark.parametrize("settings, extra, headers", [d[1:] for d in DECOYS], ids=[d[0] for d in DECOYS])
def test_the_honeypot_decoy_is_a_real_answer(form_app, justclick, mailkit, settings, extra, headers):
    client = form_app(**settings).test_client()
    kind = extra.pop("_kind", "form")
    fields = {"email": A, **extra}
    decoy = submit(client, {**fields, "website": "http://spam.example"}, kind, headers=headers)
    assert nothing_sent(justclick, mailkit)
    real = submit(client, {**fields, "website": ""}, kind, headers=headers)
    assert presented(decoy) == presented(real)
    assert decoy.status_code in (200, 303, 422)
