"""make_link, link_url, the RFC 8058 headers and `--expires` durations."""

import time

import pytest

from links.make import link_url, list_unsubscribe_headers, make_link
from links.tokens import InvalidLink, LinkClaims, LinkSigner
from schemas.fields import parse_duration

SIGNER = LinkSigner("unsub-relay-test-vector-secret-0001")
NOW = 1_800_000_000


@pytest.mark.parametrize("text, seconds", [
    ("365d", 365 * 86400), ("12h", 43200), ("30m", 1800), ("90", 90 * 86400), (" 7D ", 7 * 86400),
    ("1m", 60), ("36500d", 36500 * 86400),
], ids=["days", "hours", "minutes", "bare-days", "spaces-and-case", "one-minute", "hundred-years"])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "d", "0d", "0", "-1d", "1w", "1.5d", "1d2h", "٣d", "36501d", "9999999d",
                                  "1 d", None, 5],
                         ids=["empty", "unit-only", "zero", "bare-zero", "negative", "weeks", "fraction",
                              "compound", "arabic-digit", "over-100-years", "huge", "inner-space", "none",
                              "int"])
def test_parse_duration_refuses(text):
    with pytest.raises(ValueError, match="duration|365d"):
        parse_duration(text)


@pytest.mark.parametrize("text, seconds", [("0", 0), ("0d", 0), ("90d", 90 * 86400)],
                         ids=["bare-zero", "zero-days", "days"])
def test_parse_duration_may_allow_zero(text, seconds):
    """Purge ages and import windows may be zero (`flask deliveries purge --older-than 0`); link expiries not."""
    assert parse_duration(text, zero=True) == seconds


@pytest.mark.parametrize("public_url, url", [
    ("https://unsub.example.com", "https://unsub.example.com/u/TOKEN"),
    ("https://unsub.example.com/", "https://unsub.example.com/u/TOKEN"),
    ("https://example.com/relay/", "https://example.com/relay/u/TOKEN"),
    ("http://127.0.0.1:8000", "http://127.0.0.1:8000/u/TOKEN"),
], ids=["host", "trailing-slash", "path-prefix", "port"])
def test_link_url(public_url, url):
    assert link_url(public_url, "TOKEN") == url


@pytest.mark.parametrize("public_url", ["", None, "unsub.example.com", "ftp://example.com", "https://",
                                        "https://example.com/?a=1", "https://example.com/#x",
                                        "javascript:alert(1)"],
                         ids=["empty", "none", "no-scheme", "ftp", "no-host", "query", "fragment",
                              "javascript"])
def test_link_url_refuses(public_url):
    with pytest.raises(ValueError, match="PUBLIC_URL"):
        link_url(public_url, "TOKEN")


def test_list_unsubscribe_headers():
    assert list_unsubscribe_headers("https://h/u/T") == {
        "List-Unsubscribe": "<https://h/u/T>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


@pytest.mark.parametrize("kwargs, claims", [
    ({}, LinkClaims("a@example.com")),
    ({"to": "justclick", "group": "VIP"}, LinkClaims("a@example.com", "justclick", "VIP")),
    ({"to": "mailkit", "campaign": "77"}, LinkClaims("a@example.com", "mailkit", campaign="77")),
    ({"expires_in": 3600}, LinkClaims("a@example.com", expires=NOW + 3600)),
    ({"expires_in": parse_duration("365d"), "group": "G", "campaign": "1"},
     LinkClaims("a@example.com", "all", "G", "1", NOW + 365 * 86400)),
], ids=["defaults", "justclick-group", "mailkit-campaign", "expiry", "every-field"])
def test_make_link_answers_the_documented_shape_and_verifies(kwargs, claims):
    link = make_link(SIGNER, "https://unsub.example.com/", "a@example.com", now=NOW, **kwargs)
    assert set(link) == {"url", "headers"}
    assert link["headers"] == list_unsubscribe_headers(link["url"])
    prefix = "https://unsub.example.com/u/"
    assert link["url"].startswith(prefix)
    assert SIGNER.verify(link["url"].removeprefix(prefix), now=NOW) == claims


def test_made_link_expires():
    link = make_link(SIGNER, "https://h", "a@example.com", expires_in=60, now=NOW)
    with pytest.raises(InvalidLink):
        SIGNER.verify(link["url"].removeprefix("https://h/u/"), now=NOW + 60)


def test_make_link_uses_the_clock_by_default():
    link = make_link(SIGNER, "https://h", "a@example.com", expires_in=60)
    claims = SIGNER.verify(link["url"].removeprefix("https://h/u/"), now=time.time())
    assert time.time() < claims.expires <= time.time() + 60


@pytest.mark.parametrize("kwargs, message", [
    ({"target": "not-an-address"}, "target must be"),
    ({"target": "a@example.com", "to": "nowhere"}, "to must be one of all, justclick, mailkit"),
    ({"target": "+420777123456", "to": "justclick"},
     "JustClick takes email addresses only: a phone number needs to=all or to=mailkit"),
    ({"target": "a@example.com", "to": "mailkit", "group": "G"},
     r"a group applies to JustClick only \(to=all or to=justclick\)"),
    ({"target": "a@example.com", "to": "justclick", "campaign": "1"},
     r"a campaign applies to Mailkit only \(to=all or to=mailkit\)"),
    ({"target": "a@example.com", "public_url": "example.com"}, "PUBLIC_URL"),
], ids=["bad-target", "unregistered-destination", "phone-for-justclick", "group-for-mailkit",
        "campaign-for-justclick", "bad-public-url"])
def test_make_link_refuses_with_a_message_for_the_caller(kwargs, message):
    kwargs = {"public_url": "https://h", **kwargs}
    with pytest.raises(ValueError, match=message):
        make_link(SIGNER, **kwargs)
