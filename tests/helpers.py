"""One helper that builds a webhook request in any shape a caller (Zapier, a form, a script) uses."""

import base64
import hashlib
import hmac
import json
import time
from urllib.parse import urlencode

TOKEN = "tok-primary-0123456789"
WHSEC = "whsec_" + base64.b64encode(b"standard-webhooks-key-32-bytes!!").decode()
TYPEFORM_SECRET = "typeform-shared-secret"
TALLY_SECRET = "tally-shared-secret"


def encode(kind, body):
    """(bytes, content type) for a body sent as json, form, multipart-free xml or raw."""
    if kind == "json":
        return json.dumps(body).encode(), "application/json"
    if kind == "form":
        return urlencode(body, doseq=True).encode(), "application/x-www-form-urlencoded"
    if kind == "xml":
        return body.encode(), "application/xml"
    return (body if isinstance(body, bytes) else str(body).encode()), None


def hmac_b64(key, message):
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


def standard_headers(body, msg_id="msg_1", secret=WHSEC, timestamp=None):
    """Standard Webhooks headers, computed here from the spec rather than by the code under test."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signature = hmac_b64(key, f"{msg_id}.{timestamp}.".encode() + body)
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp), "webhook-signature": f"v1,{signature}"}


def post(client, body=None, kind="json", route="unsubscribe", token=TOKEN, query="", headers=None,
         content_type=None, sign=None):
    """POST a webhook; `token` goes in the query (None sends none); `sign` computes signature headers."""
    data, ctype = encode(kind, body)
    headers = dict(headers or {})
    if sign:
        headers.update(sign(data))
    params = [p for p in (f"token={token}" if token else "", query) if p]
    url = f"/hooks/{route}" + ("?" + "&".join(params) if params else "")
    ctype = content_type if content_type is not None else ctype
    return client.post(url, data=data, headers=headers, content_type=ctype)
