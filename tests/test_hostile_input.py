"""Hostile and faulty input: each class is a clear 4xx before anything reaches JustClick or Mailkit."""

import json
import logging
import time

import pytest
from marshmallow import ValidationError

from schemas.fields import any_flag, parse_flag, refuse_control
from delivery.answer import Entry
from tests.helpers import TALLY_SECRET, TYPEFORM_SECRET, WHSEC, post, standard_headers
from webhooks.intake import collect
from webhooks.logs import log_safe, webhook_line

A = "anna@example.com"
SIGNED = {"WEBHOOK_SECRET": WHSEC, "TYPEFORM_SECRET": TYPEFORM_SECRET, "TALLY_SECRET": TALLY_SECRET}


def assert_refused(response, status, justclick, mailkit):
    """The answer is `status` in the JSON error shape, and no vendor saw a request."""
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.is_json and response.json["status"] in ("invalid", "rejected", "unauthorized")
    assert justclick.requests == [] and mailkit.requests == [] and mailkit.calls == []
    return response.json


def case(name, *values):
    return pytest.param(*values, id=name)


MEGABYTE_OF_A = b"<a/>" * 262_000  # just under MAX_CONTENT_LENGTH (1 MiB), so the parser has to read it
XML_AND_FORMS = [
    case("1 MB of <a/>", MEGABYTE_OF_A, "application/xml", "too many elements"),
    case("1 MB of <a/> sniffed", MEGABYTE_OF_A, None, "too many elements"),
    case("1001 elements under a root", f"<r><email>{A}</email>{'<x>1</x>' * 1000}</r>".encode(), "text/xml",
         "too many elements"),
    case("33 levels deep", f"{'<d>' * 33}<email>{A}</email>{'</d>' * 33}".encode(), "application/xml",
         "nested too deeply"),
    case("1001 form fields", f"email={A}&".encode() + b"&".join(b"x=%d" % i for i in range(1000)),
         "application/x-www-form-urlencoded", "more than 1000 fields"),
]


@pytest.mark.parametrize("data, ctype, message", XML_AND_FORMS)
def test_element_bombs_are_refused_fast(client, justclick, mailkit, data, ctype, message):
    started = time.process_time()
    response = post(client, data, "raw", content_type=ctype)
    cpu = time.process_time() - started
    assert message in assert_refused(response, 400, justclick, mailkit)["message"]
    assert cpu < 1.0, f"{cpu:.2f} s of CPU"  # before: 100 KB took 0.7 s, 1 MB minutes


def test_repeated_names_are_collected_in_linear_time():
    started = time.process_time()
    collected = collect([("a", str(i)) for i in range(50_000)] + [("b", "1")])
    assert time.process_time() - started < 1.0  # re-concatenating lists took ~10 s for this
    assert collected["a"][:3] == ["0", "1", "2"] and len(collected["a"]) == 50_000 and collected["b"] == "1"


def test_a_thousand_elements_are_still_read(client, justclick):
    justclick.subscribe(A, "Main")
    xml = f"<r><email>{A}</email>{'<x>1</x>' * 998}</r>"
    response = post(client, xml, "xml", route="justclick")
    assert response.status_code == 200 and response.json["status"] == "unsubscribed"


def stamp(value):
    return lambda data: {**standard_headers(data), "webhook-timestamp": value}


MALFORMED_SIGNATURES = [
    case("timestamp of 400 digits", stamp("9" * 400)),
    case("negative timestamp of 400 digits", stamp("-" + "9" * 400)),
    case("timestamp with underscores", stamp(f"{int(time.time()):_}")),
    case("timestamp as a float", stamp(f"{time.time():.3f}")),
    case("timestamp in exponent form", stamp("1.7e9")),
    case("timestamp of Arabic-Indic digits", stamp("١٧٠٠٠٠٠٠٠٠")),
    case("signature without a value", lambda d: {**standard_headers(d), "webhook-signature": "v1,"}),
    case("signature of 20000 characters", lambda d: {**standard_headers(d), "webhook-signature": "v1," + "A" * 20_000}),
    case("webhook-id of 20000 characters", lambda d: {**standard_headers(d), "webhook-id": "m" * 20_000}),
    case("typeform prefix only", lambda d: {"Typeform-Signature": "sha256="}),
    case("typeform latin-1 garbage", lambda d: {"Typeform-Signature": "sha256=\xff\xfe=="}),
    case("tally padding only", lambda d: {"Tally-Signature": "===="}),
]


@pytest.mark.parametrize("sign", MALFORMED_SIGNATURES)
def test_malformed_signature_headers_are_401(make_app, justclick, mailkit, sign):
    client = make_app(**SIGNED).test_client()
    response = post(client, {"email": A}, token=None, sign=sign)
    assert_refused(response, 401, justclick, mailkit)


INTEGERS = [
    case("timeout_days: JSON number of 5000 digits", b'{"email": "%s", "timeout_days": %s}' % (A.encode(), b"9" * 5000),
         "timeout_days"),
    case("timeout_days: JSON number of 4000 digits", b'{"email": "%s", "timeout_days": %s}' % (A.encode(), b"9" * 4000),
         "timeout_days"),
    case("timeout_days: text of 5000 digits", json.dumps({"email": A, "timeout_days": "9" * 5000}), "timeout_days"),
    case("timeout_days: 1e400", b'{"email": "%s", "timeout_days": 1e400}' % A.encode(), "timeout_days"),
    case("timeout_days: NaN", b'{"email": "%s", "timeout_days": NaN}' % A.encode(), "timeout_days"),
    case("timeout_days: 30.5", json.dumps({"email": A, "timeout_days": 30.5}), "timeout_days"),
    case("timeout_days: -30", json.dumps({"email": A, "timeout_days": "-30"}), "timeout_days"),
    case("campaign: JSON number of 5000 digits", b'{"email": "%s", "campaign_id": %s}' % (A.encode(), b"7" * 5000),
         "ID_send_message"),
    case("campaign: superscript digits", json.dumps({"email": A, "campaign_id": "²³"}), "ID_send_message"),
    case("campaign: fullwidth digits", json.dumps({"email": A, "campaign_id": "１２３"}), "ID_send_message"),
    case("ID_email: 19 digits", json.dumps({"ID_email": "9" * 19}), "ID_email"),
]


@pytest.mark.parametrize("data, field", INTEGERS)
def test_integer_fields_out_of_any_range_are_422(client, justclick, mailkit, data, field):
    response = post(client, data, "raw", content_type="application/json")
    body = assert_refused(response, 422, justclick, mailkit)
    assert body["errors"][field]


FLATTENED = [
    case("scalar and its flattened child", {"data": "x", "data__email": A}, "", ["`data`", "`data__email`"]),
    case("object and a different flattened value", {"data": {"email": A}, "data__email": "bob@example.com"}, "",
         ["`data`", "`data__email`"]),
    case("flattened first, object second", {"data__email": "bob@example.com", "data": {"email": A}}, "",
         ["`data__email`", "`data`"]),
    case("list and its flattened child", {"data": [1, 2], "data__email": A}, "", ["`data`", "`data__email`"]),
    case("twins in the query", {"email": A}, "group=Main&group__x=1", ["`group`", "`group__x`"]),
    case("40 levels of __", {"email": A, "__".join(["a"] * 40): "1"}, "", ["nested too deeply"]),
]


@pytest.mark.parametrize("body, query, named", FLATTENED)
def test_conflicting_flattened_twins_are_422_naming_both(client, justclick, mailkit, body, query, named):
    response = post(client, body, "json", query=query)
    errors = json.dumps(assert_refused(response, 422, justclick, mailkit)["errors"])
    assert all(name in errors for name in named), errors


@pytest.mark.parametrize("body", [
    pytest.param({"data": {"email": A}, "data__email": A}, id="same value twice"),
    pytest.param({"data": "", "data__email": A}, id="empty scalar and a child"),
    pytest.param({"data": {"name": "Anna"}, "data__email": A}, id="object and a new flattened child"),
    pytest.param({"data__email": A, "data": {"name": "Anna"}}, id="flattened child, then the object"),
])
def test_compatible_flattened_twins_merge(client, justclick, body):
    justclick.subscribe(A, "Main")
    response = post(client, body, route="justclick")
    assert response.status_code == 200 and response.json["status"] == "unsubscribed"


def typeform(hidden=None, answers=None):
    return {"event_id": "e1", "form_response": {"hidden": hidden, "answers": answers or [
        {"type": "email", "email": A}]}}


def tally(*fields):
    return {"eventId": "t1", "data": {"fields": [{"type": "INPUT_EMAIL", "value": A}, *fields]}}


SHAPES = [
    case("typeform hidden is a list", typeform(hidden=["group"]), 422),
    case("typeform hidden is text", typeform(hidden="group=Main"), 422),
    case("typeform hidden is a number", typeform(hidden=5), 422),
    case("typeform answers is text", typeform(answers=A), 422),
    case("typeform answers is an object", typeform(answers={"type": "email", "email": A}), 422),
    case("typeform answers holds text", typeform(answers=[{"type": "email", "email": A}, "x"]), 422),
    case("typeform answers nested lists", typeform(answers=[[{"type": "email", "email": A}]]), 422),
    case("tally field is text", tally("INPUT_TEXT"), 422),
    case("tally label is a list", tally({"type": "INPUT_TEXT", "label": ["group"], "value": "Main"}), 422),
    case("tally type is an object", tally({"type": {"x": 1}, "value": "Main"}), 422),
    case("unbounce data.json 100 levels deep", {"data.json": "[" * 100 + "]" * 100, "page_id": "p"}, 400),
    case("unbounce data.json 100000 levels deep", {"data.json": "[" * 100_000 + "]" * 100_000}, 400),
    case("unbounce data.json is a list", {"data.json": json.dumps([{"email": A}])}, 422),
    case("unbounce data.json is no JSON", {"data.json": "{email"}, 422),
]


@pytest.mark.parametrize("body, status", SHAPES)
def test_sender_shapes_of_the_wrong_type_are_refused(client, justclick, mailkit, body, status):
    assert_refused(post(client, body), status, justclick, mailkit)


CONTROL = [  # (name, body, field the 422 names); objects and lone surrogates cannot travel in a form
    ("NUL in email", {"email": "anna\x00@example.com"}, "email"),
    ("NUL after email", {"email": f"{A}\x00"}, "email"),
    ("NUL in phone", {"email": A, "phone": "+420777123456\x00"}, "phone"),
    ("NUL in group", {"email": A, "group": "Main\x00x"}, "group"),
    ("line feed in group", {"email": A, "group": "Main\nVIP"}, "group"),
    ("escape in group", {"email": A, "group": "Main\x1b[2J"}, "group"),
    ("C1 control in group", {"email": A, "group": "Main\x85"}, "group"),
    ("NUL in campaign", {"email": A, "campaign_id": "12\x00"}, "ID_send_message"),
    ("NUL in ID_email", {"ID_email": "12\x0034"}, "ID_email"),
    ("NUL in redirect", {"email": A, "redirect": "https://example.com/\x00"}, "redirect"),
    ("NUL in tranid", {"Email": A, "formid": "f1", "tranid": "1:2\x00"}, "tranid"),
]
JSON_ONLY = [
    ("lone surrogate in group", {"email": A, "group": "Main\ud800"}, "group"),
    ("NUL in event_id", {**typeform(), "event_id": "e\x00"}, "event_id"),
    ("NUL in eventId", {**tally(), "eventId": "t\x00"}, "eventId"),
    ("tranid that is an object", {"Email": A, "formid": "f1", "tranid": {"a": 1}}, "tranid"),
]


@pytest.mark.parametrize("kind, body, field", [
    case(f"{kind}: {name}", kind, body, field) for name, body, field in CONTROL for kind in ("json", "form")
] + [case(f"json: {name}", "json", body, field) for name, body, field in JSON_ONLY])
def test_control_characters_are_refused_at_validation(client, justclick, mailkit, kind, body, field):
    errors = assert_refused(post(client, body, kind), 422, justclick, mailkit)["errors"]
    assert field in errors, errors


@pytest.mark.parametrize("field, value", [
    ("send_optout", "2"), ("send_optout", "dry"), ("send_optout", " "), ("send_optout", "maybe"),
    ("send_optout", 2), ("send_optout", [True, False]), ("dry_run", "dry"), ("dry_run", "2"),
])
def test_unclear_flags_in_a_body_are_422(client, justclick, mailkit, field, value):
    response = post(client, {"email": A, field: value}, route="mailkit")
    assert assert_refused(response, 422, justclick, mailkit)["errors"][field]


YES, NO = [True, 1, "1", "true", "TRUE", " yes ", "On", "y", "T"], [False, 0, "0", "false", "No", "off", " N", "f"]
UNCLEAR = ["", " ", "2", "-1", "dry", "yess", "true false", "1.0", 2, -1, 1.0, 0.0, None, [], ["1"], {"a": 1}]


@pytest.mark.parametrize("value, expected", [(v, True) for v in YES] + [(v, False) for v in NO]
                         + [(v, None) for v in UNCLEAR], ids=repr)
def test_parse_flag(value, expected):
    if expected is None:
        with pytest.raises(ValidationError) as refused:
            parse_flag(value, "dry_run")
        assert list(refused.value.messages) == ["dry_run"]
    else:
        assert parse_flag(value, "dry_run") is expected


@pytest.mark.parametrize("values, expected", [
    ((None, None), False), (("1", None), True), ((None, "yes"), True), (("0", "no"), False), (("0", "1"), True),
    (("dry", "1"), None), ((None, ""), None),
], ids=repr)
def test_any_flag(values, expected):
    if expected is None:
        with pytest.raises(ValidationError):
            any_flag("dry_run", *values)
    else:
        assert any_flag("dry_run", *values) is expected


@pytest.mark.parametrize("text, refused", [
    ("key-123:abc", None), ("Группа № 1", None), ("tab\there", "U+0009"), ("k\x00", "U+0000"),
    ("\x7f", "U+007F"), ("\x9f", "U+009F"), ("\udfff", "U+DFFF"), ("\u2028", None),
], ids=repr)
def test_refuse_control(text, refused):  # the check the routes apply to Idempotency-Key
    if refused is None:
        assert refuse_control(text, "Idempotency-Key") == text
    else:
        with pytest.raises(ValidationError, match=refused.replace("+", r"\+")) as error:
            refuse_control(text, "Idempotency-Key")
        assert list(error.value.messages) == ["Idempotency-Key"]


@pytest.mark.parametrize("text, logged", [
    ("/hooks/unsubscribe", "/hooks/unsubscribe"),
    ("/hooks/x\r\n2026-01-01 INFO forged", "/hooks/x\\x0d\\x0a2026-01-01 INFO forged"),
    ("a\x00b\x1bc\x7fd\x85e", "a\\x00b\\x1bc\\x7fd\\x85e"),
    ("line\u2028sep", "line\\u2028sep"),
    ("\ud800", "\\ud800"),
    ("back\\x0a", "back\\\\x0a"),
    ("Группа", "Группа"),
    ("x" * 205, "x" * 200 + "...(+5 chars)"),
], ids=repr)
def test_log_safe(text, logged):
    assert log_safe(text) == logged


def test_webhook_line_cannot_be_forged(caplog):
    outcome = Entry(0, "justclick", "unsubscribed", "0\nINFO forged", "ok", "d1")
    with caplog.at_level(logging.INFO, logger="unsub_relay.web"):
        webhook_line("/hooks/x\r\nINFO forged", "generic", "token", [outcome], 200, 1.0, {0: A})
    [record] = caplog.records
    assert "\n" not in record.getMessage() and "\r" not in record.getMessage()
    assert "a***@e***.com" in record.getMessage() and A not in record.getMessage()


WRONG_TYPES = [  # (id, fields sent besides the address, the canonical field the 422 names)
    ("group is an object", {"group": {"name": "VIP"}}, "group"),
    ("rass_name is an object", {"rass_name": {"name": "VIP"}}, "group"),
    ("group is an empty object", {"group": {}}, "group"),
    ("group is a list", {"group": ["VIP", "Main"]}, "group"),
    ("group is a number", {"group": 5}, "group"),
    ("group is true", {"group": True}, "group"),
    ("group holds NUL", {"group": "VIP\x00"}, "group"),
    ("group one level down is an object", {"data": {"group": {"name": "VIP"}}}, "group"),
    ("group flattened into an object", {"group__name": "VIP"}, "group"),
    ("phone is an object", {"phone": {"number": "+420777123456"}}, "phone"),
    ("phone is a number", {"phone": 420777123456}, "phone"),
    ("ID_email is an object", {"ID_email": {"id": 5}}, "ID_email"),
    ("ID_email is a list", {"ID_email": [5, 6]}, "ID_email"),
    ("ID_email is a fraction", {"ID_email": 5.5}, "ID_email"),
    ("campaign is an object", {"campaign_id": {"id": 5}}, "ID_send_message"),
    ("campaign is true", {"campaign_id": True}, "ID_send_message"),
    ("send_optout is an object", {"send_optout": {"x": 1}}, "send_optout"),
    ("timeout_days is an object", {"timeout_days": {"days": 30}}, "timeout_days"),
    ("timeout_days is a list", {"timeout_days": [30, 40]}, "timeout_days"),
    ("redirect is an object", {"redirect": {"url": "https://example.com/"}}, "redirect"),
    ("redirect is a number", {"redirect": 5}, "redirect"),
    ("dry_run is an object", {"dry_run": {"x": 1}}, "dry_run"),
]
WRONG_ADDRESSES = [  # (id, the whole body, the field named)
    ("email is an object", {"email": {"address": A}}, "email"),
    ("email is a list", {"email": [A, "bob@example.com"]}, "email"),
    ("email is a number", {"email": 42}, "email"),
    ("email holds NUL", {"email": A + "\x00"}, "email"),
    ("email alias is an object", {"E-Mail": {"value": A}}, "email"),
]


@pytest.mark.parametrize("route", ["justclick", "mailkit"])
@pytest.mark.parametrize("body, field", [case(name, {"email": A, **fields}, field)
                                         for name, fields, field in WRONG_TYPES] +
                         [case(name, body, field) for name, body, field in WRONG_ADDRESSES])
def test_a_field_of_the_wrong_type_is_422_naming_it(client, justclick, mailkit, route, body, field):
    """Nothing stands in for a field of the wrong type: not JUSTCLICK_GROUP for an object in `group`."""
    justclick.subscribe(A, "Main")
    mailkit.subscribe(A)
    errors = assert_refused(post(client, body, route=route), 422, justclick, mailkit)["errors"]
    assert field in errors, errors


@pytest.mark.parametrize("kind, data", [
    ("xml", f"<email>{A}</email><group><name>VIP</name></group>"),
    ("form", {"email": A, "group": ["VIP", "Main"]}),
], ids=["xml: group holds an element", "form: group twice"])
def test_a_wrong_type_in_xml_or_a_form_is_422_too(client, justclick, mailkit, kind, data):
    errors = assert_refused(post(client, data, kind, route="justclick"), 422, justclick, mailkit)["errors"]
    assert "group" in errors, errors


@pytest.mark.parametrize("raw", [
    b'{"email": "a@example.com", "email": "b@example.com"}',
    b'{"data": {"email": "a@example.com", "email": "b@example.com"}}',
    b'[{"email": "a@example.com"}, {"email": "b@example.com", "group": "Main", "group": "VIP"}]',
], ids=["top-level", "nested", "in-a-batch-item"])
def test_a_key_given_twice_is_400_naming_it(client, justclick, mailkit, raw):
    """Which of two values was meant is anybody's guess: json.loads would silently send the last."""
    response = post(client, raw, "raw", content_type="application/json")
    assert "appears twice" in assert_refused(response, 400, justclick, mailkit)["message"]
