"""Who may call: shared tokens, HMAC signatures over the raw body (sign/verify pairs) and public form keys.

Shared by the edges: the webhook routes, POST /links and the rate limits (whose credential is offered)."""

import base64
import binascii
import hashlib
import hmac
import re
import time

from errors import NotAuthorized
FORM, MULTIPART = "application/x-www-form-urlencoded", "multipart/form-data"  # the bodies with hidden fields

TOLERANCE_SECONDS = 5 * 60
UNIX_TIME = re.compile(r"[0-9]{1,12}")  # ASCII only: int() also reads "1_0", " 10 " and other digits


def _any_equal(candidates, expected):
    """Constant-time comparison against every candidate, without stopping at the first match."""
    found = False
    for candidate in candidates:
        offered, wanted = candidate.encode("utf-8", "replace"), expected.encode("utf-8", "replace")
        found |= hmac.compare_digest(offered, wanted)
    return found


def _hmac_b64(key, message):
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode("ascii")


def standard_key(secret):
    """The HMAC key of a Standard Webhooks `whsec_<base64>` secret."""
    try:
        return base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except (binascii.Error, ValueError):
        raise NotAuthorized("WEBHOOK_SECRET is not valid base64 after whsec_") from None


def sign_standard(secret, msg_id, timestamp, body):
    """The Standard Webhooks `webhook-signature` value for one message."""
    signed = f"{msg_id}.{int(timestamp)}.".encode() + body
    return "v1," + _hmac_b64(standard_key(secret), signed)


def verify_standard(secrets, headers, body, now=None):
    """Check webhook-id/-timestamp/-signature against any of the secrets (key rotation)."""
    msg_id = headers.get("webhook-id", "")
    stamp = headers.get("webhook-timestamp", "")
    signatures = headers.get("webhook-signature", "").split()
    if not (msg_id and stamp and signatures):
        raise NotAuthorized("missing webhook-id, webhook-timestamp or webhook-signature")
    if not UNIX_TIME.fullmatch(stamp):
        raise NotAuthorized("webhook-timestamp is not a unix time")
    timestamp = int(stamp)
    now = time.time() if now is None else now
    if abs(now - timestamp) > TOLERANCE_SECONDS:
        raise NotAuthorized("webhook-timestamp is more than 5 minutes off")
    offered = [sig.partition(",")[2] for sig in signatures if sig.startswith("v1,")]
    expected = [sign_standard(secret, msg_id, timestamp, body).partition(",")[2] for secret in secrets]
    if not any([_any_equal(offered, e) for e in expected]):
        raise NotAuthorized("no webhook-signature matches")


def sign_body(secret, body):
    """base64 HMAC-SHA256 of the raw body, as Typeform and Tally send it."""
    return _hmac_b64(secret.encode("utf-8"), body)


def verify_body(secret, header, body, prefix=""):
    """Check a Typeform (`sha256=` prefix) or Tally signature header over the raw body."""
    if not header.startswith(prefix):
        raise NotAuthorized("malformed signature header")
    if not _any_equal([header[len(prefix):].strip()], sign_body(secret, body)):
        raise NotAuthorized("signature does not match")


def query_secret(request, name):
    """A secret from the query string as it was meant: an unencoded `+` (base64, as a platform generates
    secrets) arrives as a space, and a configured secret never holds one (they are split on whitespace)."""
    return (request.args.get(name) or "").replace(" ", "+")


def offered_token(request):
    """The token a caller offers: Bearer header, X-Webhook-Token, or ?token= for forms."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.headers.get("X-Webhook-Token") or query_secret(request, "token")


def authorize(settings, request, body, now=None):
    """The method that vouches for this request; NotAuthorized when none of the configured ones does."""
    if not settings.auth_methods:
        raise NotAuthorized("no webhook authentication is configured: set WEBHOOK_TOKENS "
                            "(or WEBHOOK_SECRET, TYPEFORM_SECRET, TALLY_SECRET)")
    headers = request.headers
    token = offered_token(request)
    if token and settings.webhook_tokens and _any_equal(settings.webhook_tokens, token):
        return "token"
    checks = []
    if settings.webhook_secret and headers.get("webhook-signature"):
        checks.append(("standard_webhooks",
                       lambda: verify_standard(settings.webhook_secret, headers, body, now)))
    if settings.typeform_secret and headers.get("Typeform-Signature"):
        checks.append(("typeform", lambda: verify_body(settings.typeform_secret,
                                                       headers["Typeform-Signature"], body, "sha256=")))
    if settings.tally_secret and headers.get("Tally-Signature"):
        checks.append(("tally", lambda: verify_body(settings.tally_secret, headers["Tally-Signature"], body)))
    for name, check in checks:
        try:
            check()
            return name
        except NotAuthorized:
            continue
    if settings.webhook_tokens and _any_equal(settings.webhook_tokens, form_field(request, "token")):
        return "form_token"
    if settings.form_keys and _any_equal(settings.form_keys, public_key_offered(request)):
        return "form_key"
    raise NotAuthorized("not authorised: send a valid token (Authorization: Bearer, X-Webhook-Token, "
                        "?token=), a valid signature, or a public form key (?key= or a hidden field `key`)")


def form_field(request, name):
    """A hidden field of a form body (checked last: only forms carry one), or ''."""
    if request.mimetype not in (FORM, MULTIPART):
        return ""
    request.get_data(cache=True)  # keep the raw bytes: signatures and the parser need them after this
    return request.form.get(name, "")


def public_key_offered(request):
    """The public form key a request offers (`?key=` or a hidden field `key`), or ''."""
    return query_secret(request, "key") or form_field(request, "key")
