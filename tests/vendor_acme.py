"""Acme, a made-up third vendor, written as a real one would be: every fact about it is in this one file.

Its API: POST {ACME_URL} a JSON object {"address", "list", "signature"}, signed with HMAC-SHA256 over
"address:list" under ACME_KEY; it answers {"result": "removed" | "absent", "address", "signature"}, the
signature over "result:address". It takes email addresses only, and reads a group (senders may call it
`segment`). tests/test_vendor_third.py registers it and sends it a webhook, a link and a CLI unsubscribe.
"""

import hashlib
import hmac
import json
from dataclasses import dataclass, field

from marshmallow import ValidationError, validate

from connectors.base import Connector
from connectors.errors import APIConnectionError, UpstreamError, VerificationError
from connectors.vendor import Option, Var, Vendor, check_url
from schemas.fields import Text
from schemas.shapes import Delivery, Outcome
from status import NOT_SUBSCRIBED, UNSUBSCRIBED

RESULTS = {"removed": UNSUBSCRIBED, "absent": NOT_SUBSCRIBED}


def signature(key, *parts):
    """HMAC-SHA256 hex over the parts joined by ':'."""
    return hmac.new(key.encode(), ":".join(parts).encode(), hashlib.sha256).hexdigest()


class Acme(Connector):
    """One Acme account."""

    name = "acme"

    def __init__(self, url, key, timeout, http=None):
        super().__init__(url, timeout, http)
        self._key = key

    def body(self, payload):
        return {**payload, "signature": signature(self._key, payload["address"], payload["list"] or "")}

    def preview(self, payload):
        return {"url": self.url, "json": {**self.body(payload), "signature": "***"}}

    def call(self, payload):
        response = self.post(json.dumps(self.body(payload)).encode(), "application/json")
        try:
            answer = response.json()
        except ValueError:
            raise self.unreadable(response, "JSON", "ACME_URL") from None
        if not isinstance(answer, dict) or not all(isinstance(answer.get(k), str)
                                                   for k in ("result", "address", "signature")):
            raise APIConnectionError("Acme answered JSON without result, address and signature")
        expected = signature(self._key, answer["result"], answer["address"])
        if not hmac.compare_digest(expected, answer["signature"]) or answer["address"] != payload["address"]:
            raise VerificationError("Acme's answer failed its signature check: wrong ACME_KEY, or altered")
        if answer["result"] not in RESULTS:
            raise UpstreamError(f"Acme answered an unknown result {answer['result']!r}")
        return Outcome(self.name, RESULTS[answer["result"]], answer["result"], answer["result"])


@dataclass(frozen=True)
class AcmeConfig:
    url: str = ""
    key: str = field(default="", repr=False)


class AcmeVendor(Vendor):
    """Acme as the registry sees it."""

    name = "acme"
    title = "Acme"
    config_class = AcmeConfig
    targets = ("email",)
    options = (Option("group", Text(load_default=None, validate=validate.Length(min=1, max=255)),
                      aliases=("segment",), public=True),)
    variables = (Var("ACME_URL", "url", required=True), Var("ACME_KEY", "key", required=True, secret=True))
    supports_read_back = False  # Acme has no call that reads a contact's state: its opt-outs stay unconfirmed

    def checked(self, values, problems):
        return {**values, "url": check_url("ACME_URL", values["url"], problems)}

    def build(self, config, timeout):
        return Acme(config.url, config.key, timeout)

    def delivery(self, unsubscribe, config):
        if not unsubscribe.email:
            raise ValidationError({"email": ["Acme identifies contacts by email only."]})
        group = unsubscribe.options.get("group")
        payload = {"address": unsubscribe.email, "list": group}
        return Delivery(self.name, unsubscribe.email, payload, group=group)

    def probe(self, connector, config):  # pragma: no cover - not exercised: Acme documents no harmless call
        return False, "Acme documents no harmless call"
