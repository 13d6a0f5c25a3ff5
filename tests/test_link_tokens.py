"""Signed link tokens: round trips, tampering, secrets, rotation, expiry, malformed input, test vectors."""

import base64
import hashlib
import hmac
import itertools
import json
import re
import string
import subprocess
import sys
from pathlib import Path

import pytest

from links.make import list_unsubscribe_headers
from links.tokens import InvalidLink, LinkClaims, LinkSigner
from tests.browser import require_program

SECRET = "unsub-relay-test-vector-secret-0001"
OLD_SECRET = "an-older-secret-still-listed-for-a-while"
NOW = 1_800_000_000
EVERY_FIELD = LinkClaims("o'brien+tag@example.com", "all", "Новости 2026", "123", NOW + 60)

# (claims, token) with SECRET: the documented vectors (docs/links.md); the PHP and Python snippets must
# reproduce them.
VECTORS = [
    (LinkClaims("jane.doe@example.com"),
     "djEKamFuZS5kb2VAZXhhbXBsZS5jb20KYWxsCgoK.0NypO7YgRsyHvREwIFsLTwOpKOentcPQL7wF5tkThqU"),
    (LinkClaims("petr@example.cz", "mailkit", campaign="4711", expires=1893456000),
     "djEKcGV0ckBleGFtcGxlLmN6Cm1haWxraXQKCjQ3MTEKMTg5MzQ1NjAwMA.tqx02FmZUtgztwLBRCX2-EPrzc8qKIGkAh5C0vkqEaI"),
    (LinkClaims("+420777123456", "mailkit"),
     "djEKKzQyMDc3NzEyMzQ1NgptYWlsa2l0CgoK.PKOv1sN7ZxvUHw-zIt_qQ3B4J8EtFfGh8T5arJloCXA"),
    (LinkClaims("ivan@example.ru", "justclick", group="Новости 2026"),
     "djEKaXZhbkBleGFtcGxlLnJ1Cmp1c3RjbGljawrQndC-0LLQvtGB0YLQuCAyMDI2Cgo.h8eOSh6AtdpdIxyzeLs2r5j6HG4pXqijRmAROmWdMwc"),
    (LinkClaims("o'brien+tag@example.com", "all", "VIP", "123", 4102444800),
     "djEKbydicmllbit0YWdAZXhhbXBsZS5jb20KYWxsClZJUAoxMjMKNDEwMjQ0NDgwMA.mMRErsf__VK0DVsqH4Dgtg87nH0n02FRdVBRLcJcuH4"),
]
VECTOR_IDS = ["email-all", "mailkit-campaign-expiry", "phone", "cyrillic-group", "every-field"]


def signed(payload, secret=SECRET):
    """A token for arbitrary payload bytes, correctly signed: reaches the parser behind the MAC check."""
    def b64(data):
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    return b64(payload) + "." + b64(hmac.new(secret.encode(), payload, hashlib.sha256).digest())


def verify(token, secrets=SECRET, now=NOW):
    return LinkSigner(secrets).verify(token, now)


def every_field_combination():
    """Each destination with each optional field present or absent, for an email and a phone number (the
    token carries any of them; which vendor takes what is checked when a link is made: test_link_make.py)."""
    for target, to, group, campaign, expires in itertools.product(
            ["a@example.com", "+420777123456"], ["all", "justclick", "mailkit"], [None, "Моя группа"],
            [None, "987654"], [None, NOW + 1]):
        claims = LinkClaims(target, to, group, campaign, expires)
        name = "-".join(["phone" if target.startswith("+") else "email", to] + [
            label for label, value in (("group", group), ("campaign", campaign), ("expiry", expires))
            if value])
        yield pytest.param(claims, id=name)


@pytest.mark.parametrize("claims", list(every_field_combination()))
def test_round_trip(claims):
    assert verify(LinkSigner(SECRET).sign(claims)) == claims


@pytest.mark.parametrize("claims, token", VECTORS, ids=VECTOR_IDS)
def test_fixed_vectors(claims, token):
    assert LinkSigner(SECRET).sign(claims) == token
    assert verify(token, now=0) == claims


@pytest.mark.parametrize("replacement", [string.ascii_letters + string.digits + "-_",
                                         ".=+/ %\x00\x7féЖ\n"], ids=["base64url-alphabet", "others"])
def test_every_single_byte_change_is_invalid(replacement):
    token = LinkSigner(SECRET).sign(EVERY_FIELD)
    tried = 0
    for position, original in enumerate(token):
        for char in replacement.replace(original, ""):
            with pytest.raises(InvalidLink):
                verify(token[:position] + char + token[position + 1:])
            tried += 1
        with pytest.raises(InvalidLink):
            verify(token[:position] + token[position + 1:])  # the byte removed
    assert tried >= len(token) * (len(replacement) - 1)


def test_the_other_spellings_of_the_last_base64_character_are_invalid():
    """Lenient decoders ignore the low bits of the last character: four spellings of one signature."""
    token = LinkSigner(SECRET).sign(EVERY_FIELD)
    alphabet = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"
    last = alphabet.index(token[-1])
    same_bytes = [alphabet[(last & ~3) | low] for low in range(4) if (last & ~3) | low != last]
    assert len(same_bytes) == 3
    for char in same_bytes:
        with pytest.raises(InvalidLink):
            verify(token[:-1] + char)


@pytest.mark.parametrize("signing, verifying, valid", [
    (SECRET, SECRET, True),
    (SECRET, "x" * 32, False),
    (SECRET, f"{OLD_SECRET} {SECRET}", True),               # listed second, the old secret still verifies
    (OLD_SECRET, f"{SECRET} {OLD_SECRET}", True),           # a link from before the rotation
    (OLD_SECRET, SECRET, False),                            # the old secret removed: its links stop working
    (f"{SECRET} {OLD_SECRET}", SECRET, True),               # the first secret is the one that signs
    (f"{SECRET} {OLD_SECRET}", OLD_SECRET, False),
    (SECRET, SECRET.upper(), False),
    (SECRET, [SECRET], True),                               # a sequence, as settings may hold it
], ids=["same", "wrong-secret", "rotation-new-link", "rotation-old-link", "old-secret-removed", "first-signs",
        "second-does-not-sign", "case-matters", "sequence"])
def test_secrets_and_rotation(signing, verifying, valid):
    token = LinkSigner(signing).sign(EVERY_FIELD)
    if valid:
        assert verify(token, verifying) == EVERY_FIELD
    else:
        with pytest.raises(InvalidLink):
            verify(token, verifying)


@pytest.mark.parametrize("now, valid", [
    (NOW, True), (NOW + 59, True), (NOW + 59.999, True), (NOW + 60, False), (NOW + 10**9, False),
], ids=["now", "a-second-before", "just-before", "at-expiry", "long-after"])
def test_expiry(now, valid):
    token = LinkSigner(SECRET).sign(EVERY_FIELD)
    if valid:
        assert verify(token, now=now).expires == NOW + 60
    else:
        with pytest.raises(InvalidLink, match="^invalid or expired link$"):
            verify(token, now=now)


def test_no_expiry_never_expires():
    assert verify(VECTORS[0][1], now=10**12) == VECTORS[0][0]


GOOD = VECTORS[0][1]


@pytest.mark.parametrize("token", [
    "", ".", "..", GOOD + ".", "." + GOOD, GOOD.replace(".", ".."), GOOD.split(".")[0], GOOD.split(".")[1],
    GOOD + "=", GOOD.split(".")[0] + "==." + GOOD.split(".")[1], GOOD + "\n", " " + GOOD, GOOD + "\x00",
    "ü" + GOOD, "A" * 100_000 + "." + "A" * 43, GOOD[:-1], GOOD + "A", "A.A", "AAAAA.AAAAA",
    VECTORS[4][1].replace("_", "/"), None, GOOD.encode(), 12345, ["a", "b"],
    signed(b"v2\njane.doe@example.com\nall\n\n\n"), signed(b"v1\njane.doe@example.com\nall\n\n"),
    signed(b"v1\njane.doe@example.com\nall\n\n\n\n"), signed(b"v1\njane.doe@example.com\nSome one\n\n\n"),
    signed(b"v1\njane.doe@example.com\nall\n\n\nsoon"), signed(b"v1\njane.doe@example.com\nall\n\n\n-5"),
    signed(b"v1\n\xff\xfe@example.com\nall\n\n\n"), signed(b"v1\njane doe@example.com\nall\n\n\n"),
    signed(b"v1\njane.doe@example.com\nall\n\n12a\n"),
    signed(b"v1\njane.doe@example.com\nall\n\t\n\n"), signed(b""),
], ids=["empty", "dot", "two-dots", "trailing-dot", "leading-dot", "double-dot", "payload-only", "mac-only",
        "padding", "padded-payload", "newline", "leading-space", "nul", "non-ascii", "huge", "truncated",
        "extended", "tiny", "zeros", "standard-base64", "none", "bytes", "int", "list",
        "signed-v2", "signed-5-fields", "signed-7-fields", "signed-bad-destination", "signed-bad-expiry",
        "signed-negative-expiry", "signed-invalid-utf8", "signed-bad-target", "signed-bad-campaign",
        "signed-control-char-group", "signed-empty"])
def test_malformed_is_invalid_link_and_nothing_else(token):
    with pytest.raises(InvalidLink) as caught:
        verify(token)
    assert str(caught.value) == "invalid or expired link"


@pytest.mark.parametrize("fields, message", [
    (("jane",), "target must be"),
    (("jane @example.com",), "target must be"),
    (("a@example.com\n",), "target must be"),
    (("+0123",), "target must be"),
    (("420777123456",), "target must be"),
    ((None,), "target must be"),
    (("a@example.com", "Both!"), "to must be all or a destination's name"),
    (("a@example.com", None), "to must be all or a destination's name"),
    (("a@example.com", "all", ""), "group must be 1 to 255"),
    (("a@example.com", "all", "x" * 256), "group must be 1 to 255"),
    (("a@example.com", "all", "a\nb"), "without control characters"),
    (("a@example.com", "all", None, "12a"), "campaign must be 1 to 18 digits"),
    (("a@example.com", "all", None, "١٢"), "campaign must be 1 to 18 digits"),
    (("a@example.com", "all", None, 12), "campaign must be 1 to 18 digits"),
    (("a@example.com", "all", None, None, -1), "expires must be unix seconds"),
    (("a@example.com", "all", None, None, 1.5), "expires must be unix seconds"),
    (("a@example.com", "all", None, None, True), "expires must be unix seconds"),
], ids=["no-at", "space", "newline", "short-phone", "phone-without-plus", "none", "bad-destination",
        "no-destination", "empty-group", "long-group", "control-in-group", "campaign-letters", "campaign-arabic-digits", "campaign-int", "negative-expiry", "float-expiry",
        "bool-expiry"])
def test_claims_that_cannot_be_signed(fields, message):
    with pytest.raises(ValueError, match=message):
        LinkClaims(*fields)


@pytest.mark.parametrize("secrets, message", [
    ("", "LINK_SECRETS is empty"),
    ("   ", "LINK_SECRETS is empty"),
    ("short-secret", "secret #1 has 12 characters; at least 32"),
    (f"{SECRET} tooshort", "secret #2 has 8 characters"),
    ("ж" * 40, "secret #1 must be printable ASCII"),
    (["x" * 31 + "\x00"], "secret #1 must be printable ASCII"),
], ids=["empty", "blank", "short", "second-short", "non-ascii", "control"])
def test_bad_secrets_are_refused_at_construction_without_echoing_them(secrets, message):
    with pytest.raises(ValueError, match=message) as caught:
        LinkSigner(secrets)
    assert "short-secret" not in str(caught.value) and "tooshort" not in str(caught.value)


def test_signer_repr_hides_secrets():
    assert SECRET not in repr(LinkSigner(SECRET)) and SECRET not in str(vars(LinkSigner(SECRET)).keys())


@pytest.mark.parametrize("claims", [
    LinkClaims("x" * 48 + "@example.com", "all", "Newsletter", "1234567890", 4102444800),
    LinkClaims("x" * 48 + "@example.com", "justclick", "Рассылка", None, 4102444800),
], ids=["latin-group", "cyrillic-group"])
def test_tokens_for_a_60_character_address_fit_a_url_path(claims):
    assert len(claims.target) == 60
    assert len(LinkSigner(SECRET).sign(claims)) < 300


@pytest.mark.parametrize("target, kind", [("a@example.com", "email"), ("+420777123456", "phone")],
                         ids=["email", "phone"])
def test_kind(target, kind):
    assert LinkClaims(target).kind == kind


ROOT = Path(__file__).resolve().parent.parent
PUBLIC_URL = "https://unsub.example.com/"


def documented_snippet(language, marker):
    """The fenced `language` block holding `marker`, from the documentation's link recipe (docs/links.md)."""
    for doc in (ROOT / "README.md", ROOT / "docs" / "links.md"):
        for block in re.findall(rf"```{language}\n(.*?)```", doc.read_text(), re.S):
            if marker in block:
                return block
    pytest.fail(f"no {language} block with {marker!r} in docs/links.md")


def documented_vectors():
    """(claims, token) from the vector table of the link recipe (docs/links.md): one row per vector."""
    text = next(doc.read_text() for doc in (ROOT / "README.md", ROOT / "docs" / "links.md")
                if "unsub-relay-test-vector-secret-0001" in doc.read_text())
    vectors = []
    for line in text.splitlines():
        cells = [cell.strip().strip("`") or None for cell in line.split("|")[1:-1]]
        if len(cells) == 6 and cells[5] and cells[5].startswith("djE"):  # base64url of "v1\n"
            target, to, group, campaign, expires, token = cells
            vectors.append((LinkClaims(target, to, group, campaign, expires and int(expires)), token))
    return vectors


def test_the_documented_vectors_are_the_tested_ones():
    assert documented_vectors() == VECTORS


def vector_args():
    return [[SECRET, PUBLIC_URL, claims.target, claims.to, claims.group, claims.campaign, claims.expires]
            for claims, _ in VECTORS]


def expected_urls():
    return [f"https://unsub.example.com/u/{token}" for _, token in VECTORS]


def test_documented_php_snippet_makes_the_same_links():
    php = require_program("php", "php-cli")
    code = documented_snippet("php", "function unsub_link") + """
foreach (json_decode($argv[1], true) as $args) { echo unsub_link(...$args), "\\n"; }
echo "---\\n", $headers;
"""
    out = subprocess.run([php, "-d", "error_reporting=-1", "-d", "display_errors=stderr", "-r",
                          code.removeprefix("<?php\n"), json.dumps(vector_args())],
                         capture_output=True, timeout=30, env={"LINK_SECRET": SECRET})  # bytes: keep CRLF
    assert out.returncode == 0 and out.stderr == b"", out.stderr
    urls, headers = out.stdout.decode().split("---\n")
    assert urls.splitlines() == expected_urls()
    expected = list_unsubscribe_headers(f"https://unsub.example.com/u/{VECTORS[0][1]}")
    assert headers == "".join(f"{name}: {value}\r\n" for name, value in expected.items())


def test_documented_python_snippet_uses_only_the_standard_library_and_makes_the_same_links():
    code = documented_snippet("python", "def unsub_link") + """
import json, sys
for args in json.loads(sys.argv[1]):
    print(unsub_link(*args))
"""
    # -I -S: no site-packages at all, so only the standard library can be imported.
    out = subprocess.run([sys.executable, "-I", "-S", "-c", code, json.dumps(vector_args())],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == expected_urls()
