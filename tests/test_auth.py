"""Who may call: tokens, Standard Webhooks, Typeform and Tally signatures, checked on the raw bytes."""

import json
import time

import pytest

from tests.helpers import TALLY_SECRET, TOKEN, TYPEFORM_SECRET, WHSEC, hmac_b64, post, standard_headers

BODY = {"email": "anna@example.com"}
SIGNED = {"WEBHOOK_SECRET": f"whsec_b2xkLXJvdGF0ZWQta2V5 {WHSEC}", "TYPEFORM_SECRET": TYPEFORM_SECRET,
          "TALLY_SECRET": TALLY_SECRET}


def typeform(data, secret=TYPEFORM_SECRET):
    return {"Typeform-Signature": "sha256=" + hmac_b64(secret.encode(), data)}


def tally(data, secret=TALLY_SECRET):
    return {"Tally-Signature": hmac_b64(secret.encode(), data)}


@pytest.mark.parametrize("token, headers, sign, status", [
    (TOKEN, {}, None, 200),
    ("old-token-xyz", {}, None, 200),
    (None, {"Authorization": f"Bearer {TOKEN}"}, None, 200),
    (None, {"X-Webhook-Token": TOKEN}, None, 200),
    (None, {}, None, 401),
    ("wrong", {}, None, 401),
    (None, {"Authorization": "Basic dXNlcjpwYXNz"}, None, 401),
    (None, {"Authorization": "Bearer"}, None, 401),
    (None, {"X-Webhook-Token": "ткн"}, None, 401),
    (None, {}, standard_headers, 200),
    (None, {}, lambda d: standard_headers(d, timestamp=int(time.time()) - 600), 401),
    (None, {}, lambda d: standard_headers(d, timestamp=int(time.time()) + 600), 401),
    (None, {}, lambda d: standard_headers(d, secret="whsec_d3Jvbmc="), 401),
    (None, {}, lambda d: {**standard_headers(d), "webhook-timestamp": "yesterday"}, 401),
    (None, {}, lambda d: {**standard_headers(d), "webhook-signature": "v1,!!! garbage"}, 401),
    (None, {}, lambda d: {**standard_headers(d), "webhook-signature": "v2,abc " +
                          standard_headers(d)["webhook-signature"]}, 200),
    (None, {}, lambda d: {**standard_headers(d), "webhook-id": ""}, 401),
    (None, {}, typeform, 200),
    (None, {}, lambda d: typeform(d, "other"), 401),
    (None, {}, lambda d: {"Typeform-Signature": "md5=abc"}, 401),
    (None, {}, tally, 200),
    (None, {}, lambda d: tally(d, "other"), 401),
    (None, {}, lambda d: tally(d + b" "), 401),
])
def test_auth_methods(make_app, justclick, mailkit, token, headers, sign, status):
    client = make_app(**SIGNED).test_client()
    response = post(client, BODY, token=token, headers=headers, sign=sign)
    assert response.status_code == status, response.json
    assert response.is_json
    if status == 401:
        assert justclick.requests == [] and mailkit.requests == []


def test_rotated_standard_webhooks_secret(make_app):
    old = "whsec_b2xkLXJvdGF0ZWQta2V5"
    client = make_app(**SIGNED).test_client()
    response = post(client, BODY, token=None, sign=lambda d: standard_headers(d, secret=old))
    assert response.status_code == 200


def test_signature_covers_the_exact_bytes(make_app, justclick):
    client = make_app(**SIGNED).test_client()
    signed = json.dumps(BODY).encode()
    headers = standard_headers(signed)
    tampered = json.dumps({"email": "mallory@example.com"})
    response = client.post("/hooks/unsubscribe", data=tampered, headers=headers, content_type="application/json")
    assert response.status_code == 401 and justclick.requests == []


def test_nothing_configured_says_what_to_set(make_app, justclick):
    client = make_app(WEBHOOK_TOKENS=None).test_client()
    response = post(client, BODY)
    assert response.status_code == 401
    assert "WEBHOOK_TOKENS" in response.json["message"] and justclick.requests == []


def test_unauthorised_request_is_refused_before_parsing(make_app):
    client = make_app().test_client()
    response = post(client, b"{broken", "raw", token="wrong", content_type="application/json")
    assert response.status_code == 401


@pytest.mark.parametrize("field, status", [(TOKEN, 200), ("wrong", 401), ("", 401)])
def test_hidden_form_field_token(make_app, justclick, field, status):
    client = make_app().test_client()
    response = post(client, {"email": "anna@example.com", "token": field}, "form", token=None)
    assert response.status_code == status
    if status == 401:
        assert justclick.requests == []


def test_form_token_field_is_not_read_from_json(make_app, justclick):
    client = make_app().test_client()
    assert post(client, {"email": "anna@example.com", "token": TOKEN}, token=None).status_code == 401


BASE64_TOKEN = "q+8/Zx3Vb1LmN0pQr7sTu9wXy2A4cE6gH8jK0mO2qS4="  # as Render's generateValue makes them


@pytest.mark.parametrize("query, status", [
    (f"token={BASE64_TOKEN}", 200),  # pasted as is: each + arrives as a space
    ("token=" + BASE64_TOKEN.replace("+", "%2B").replace("/", "%2F").replace("=", "%3D"), 200),
    ("token=" + BASE64_TOKEN.replace("+", "-"), 401),
    ("token=" + BASE64_TOKEN.replace("+", "%20"), 200),  # the same bytes a + decodes to
], ids=["unencoded", "percent-encoded", "altered", "space-encoded"])
def test_a_base64_token_in_the_query_string_works_unencoded(make_app, justclick, query, status):
    client = make_app(WEBHOOK_TOKENS=BASE64_TOKEN).test_client()
    response = client.post(f"/hooks/justclick?{query}", json=BODY)
    assert response.status_code == status, response.json
