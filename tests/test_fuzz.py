"""Property-based fuzzing of the hooks: never a 5xx, and a refused request reaches neither vendor.

Bounded for CI (FUZZ_EXAMPLES, default 200, derandomized); raise it locally to search further.
"""

import json
import os
import time
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from schemas.inbound import ALIASES, EVENT_KEYS
from tests.helpers import TALLY_SECRET, TOKEN, TYPEFORM_SECRET, WHSEC, hmac_b64, standard_headers

SIGNED = {"WEBHOOK_SECRET": WHSEC, "TYPEFORM_SECRET": TYPEFORM_SECRET, "TALLY_SECRET": TALLY_SECRET}
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "200"))

# Names and values the service gives meaning to, mixed with arbitrary ones, so that examples reach past
# the parser into the shape adapters, the schemas and the vendors.
MEANINGFUL = [alias for aliases in ALIASES.values() for alias in aliases] + list(EVENT_KEYS) + [
    "data", "form_response", "hidden", "answers", "fields", "type", "value", "label", "data.json", "formid",
    "test", "token", "data__email", "email__x", "List-Unsubscribe", "Email"]
NAMES = st.sampled_from(MEANINGFUL) | st.text(max_size=8)
WORDS = st.sampled_from(["anna@example.com", "bob@example.org", "+420777123456", "Main", "VIP", "14", "90",
                         "yes", "no", "2", "dry", "email", "phone_number", "INPUT_EMAIL", "test", "One-Click",
                         "https://example.com/x", "http://[::1", "1" * 30, "a\x00b", "\r\n"])
# A lone surrogate only arrives as a JSON escape: a form, XML or multipart body is UTF-8 bytes.
PLAIN = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20) | WORDS
SCALARS = PLAIN | st.just("\ud800")
TREES = st.recursive(SCALARS, lambda kids: st.lists(kids, max_size=4) | st.dictionaries(NAMES, kids, max_size=5),
                     max_leaves=25)
TAGS = st.sampled_from(["email", "group", "data", "a", "x", "timeout_days", "_root_", "e-mail", "1"])
XML_BITS = st.text(max_size=12) | WORDS | st.sampled_from(
    ["<", "&amp;", "&#0;", "&x;", "<!DOCTYPE x>", "<?xml version='1.0'?>", "]]>", "<!ENTITY a 'b'>", "<a/>"])
XML = st.recursive(XML_BITS, lambda kids: st.builds(
    lambda tag, inner: f"<{tag}>{''.join(inner)}</{tag}>", TAGS, st.lists(kids, max_size=4)), max_leaves=20)
PAIRS = st.lists(st.tuples(NAMES, st.text(max_size=12) | WORDS), max_size=8)
# An address under an email alias, plus random fields: these get past validation often enough to be sent.
PLAUSIBLE = st.builds(lambda extra, name, address: {**extra, name: address},
                      st.dictionaries(NAMES, PLAIN, max_size=3), st.sampled_from(ALIASES["email"] + ("Email",)),
                      st.sampled_from(["anna@example.com", "bob@example.org"]))

BODIES = st.one_of(
    PLAUSIBLE.map(lambda fields: json.dumps(fields).encode()),
    PLAUSIBLE.map(lambda fields: urlencode({k: str(v) for k, v in fields.items()}).encode()),
    TREES.map(lambda tree: json.dumps(tree).encode()),
    PAIRS.map(lambda pairs: urlencode(pairs).encode()),
    XML.map(str.encode),
    st.binary(max_size=120),
    PAIRS.map(dict),  # multipart, encoded by the test client
)
CONTENT_TYPES = st.sampled_from([None, "", "application/json", "application/vnd.api+json", "text/json",
                                 "application/x-www-form-urlencoded", "multipart/form-data", "application/xml",
                                 "text/xml", "text/plain", "application/octet-stream", "image/png",
                                 "application/json; charset=latin-1", "multipart/form-data; boundary=x"])
HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
                      max_size=30)
HEADERS = st.dictionaries(st.sampled_from(
    ["Authorization", "X-Webhook-Token", "webhook-id", "webhook-timestamp", "webhook-signature",
     "Typeform-Signature", "Tally-Signature", "Idempotency-Key", "X-Dry-Run", "Prefer", "Accept"]),
    HEADER_TEXT | st.sampled_from(["Bearer " + TOKEN, "1", "respond-async", "text/html", "v1,abc", "9" * 400]),
    max_size=4)
AUTH = st.sampled_from(["none", "query", "bearer", "wrong", "standard", "stale", "typeform", "tally"])


def credentials(auth, data):
    """(query pairs, headers) that authenticate the way `auth` names, computed over the exact bytes."""
    raw = data if isinstance(data, bytes) else b""
    return {
        "none": ([], {}), "wrong": ([("token", "wrong")], {}),
        "query": ([("token", TOKEN)], {}), "bearer": ([], {"Authorization": f"Bearer {TOKEN}"}),
        "standard": ([], standard_headers(raw)),
        "stale": ([], standard_headers(raw, timestamp=int(time.time()) - 3600)),
        "typeform": ([], {"Typeform-Signature": "sha256=" + hmac_b64(TYPEFORM_SECRET.encode(), raw)}),
        "tally": ([], {"Tally-Signature": hmac_b64(TALLY_SECRET.encode(), raw)}),
    }[auth]


def vendor_answered(response):
    """A 4xx that carries per-destination results came from a vendor after a send (an unknown group)."""
    return response.is_json and isinstance(response.json, dict) and "results" in response.json


@pytest.fixture
def signed_client(make_app):
    """Built once per test, not per example (hence the suppressed health check): examples share its ledger."""
    return make_app(**SIGNED).test_client()


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(route=st.sampled_from(["justclick", "mailkit", "unsubscribe"]), data=BODIES, ctype=CONTENT_TYPES,
       headers=HEADERS, query=PAIRS, auth=AUTH, method=st.sampled_from(["POST", "PUT"]))
def test_hooks_never_answer_5xx_and_refusals_send_nothing(signed_client, justclick, mailkit, route, data, ctype,
                                                           headers, query, auth, method):
    justclick.reset()  # per example: the fixtures that reset them run once per test
    mailkit.reset()
    mailkit.calls.clear()
    auth_query, auth_headers = credentials(auth, data)
    url = f"/hooks/{route}?" + urlencode(auth_query + query)
    response = signed_client.open(url, method=method, data=data, content_type=ctype, headers={**headers, **auth_headers})
    event(f"HTTP {response.status_code}")
    assert response.status_code < 500, response.get_data(as_text=True)[:300]
    if 400 <= response.status_code < 500 and response.is_json and not vendor_answered(response):
        assert justclick.requests == [] and mailkit.requests == [], response.json
