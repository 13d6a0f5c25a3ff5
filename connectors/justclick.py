"""JustClick DeleteSubscribe and GetLeadGroupStatuses: PHP-compatible md5 signatures, signed JSON answers."""

import hashlib
import hmac
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

from marshmallow import EXCLUDE, Schema, fields, post_load, validate

from connectors.base import Connector, short
from connectors.errors import (APIConnectionError, ConfigurationError, InvalidRequestError,
                               RateLimitError, UpstreamError, VerificationError)
from connectors.php import http_build_query
from connectors.vendor import Option, Var, Vendor, check_url
from schemas.events import NotAnEvent, VendorEvent
from schemas.fields import CONTROL, Name
from schemas.shapes import Confirmation, Delivery, Outcome
from status import CONFIRMED, NOT_SUBSCRIBED, STILL_SUBSCRIBED, UNSUBSCRIBED

DEFAULT_URL = "https://{login}.justclick.ru/api/"
PROBE_ADDRESS = "credential-check@unsub-relay.invalid"  # RFC 2606: .invalid is never anyone's address
FORM = "application/x-www-form-urlencoded"

# JustClick's documented answer codes, and what each means for us.
ERRORS = {
    1: (ConfigurationError, "JustClick says the request carried no signature"),
    2: (ConfigurationError, "JustClick says the request carried no parameters"),
    3: (InvalidRequestError, "JustClick refused the parameters"),
    4: (ConfigurationError, "JustClick refused our signature: check JUSTCLICK_SECRET"),
    5: (ConfigurationError, "JustClick does not know this login: check JUSTCLICK_LOGIN"),
    6: (ConfigurationError, "JustClick denies API access from this server's IP address"),
    7: (ConfigurationError, "the JustClick account is disabled"),
    8: (RateLimitError, "JustClick's API limit for this address is exhausted; retry later"),
    800: (InvalidRequestError, "JustClick has no contact group of that name"),
}


# GetLeadGroupStatuses: what each rass_status says of the group a delivery left (help.justclick.io/archives/
# 2629, and InfluencerSoft's copy of JustClick's help for the last two).
READ_STATES = {
    "STATUS_UNSUBSCRIBE": (CONFIRMED, ""),
    "STATUS_UNSUBSCRIBE_BY_SERVICE": (CONFIRMED, ""),
    "STATUS_INVALID_EMAIL": (CONFIRMED, " (the address does not exist: nobody to mail)"),
    "STATUS_SUBSCRIBE": (STILL_SUBSCRIBED, ""),
    "STATUS_WAIT": (STILL_SUBSCRIBED, " (awaiting activation)"),  # activating would mail them again
}
# Its answer codes that mean there is nobody in the account to mail (archives/511: "group list by email").
NOBODY = {500: "JustClick has no such contact (code 500): nobody to mail",
          501: "the contact is in no JustClick group (code 501): nobody to mail"}
NOT_IN_GROUP = "the contact is not in this group at JustClick: nobody in it to mail"
DATE_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2})?)?")


def md5_hex(text):
    """md5 of the UTF-8 bytes, as PHP's md5() returns it."""
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def sign(query, login, secret):
    """The request hash over an http_build_query() string: md5(query::login::secret)."""
    return md5_hex(f"{query}::{login}::{secret}")


def answer_hash(code, text, secret):
    """The hash JustClick puts on its answers: md5(error_code::error_text::secret)."""
    return md5_hex(f"{code}::{text}::{secret}")


def error_for(code, text):
    """Map a JustClick error code to the error class that says what it means."""
    cls, meaning = ERRORS.get(code, (UpstreamError, "JustClick answered an undocumented code"))
    return cls(f"{meaning} ({text})" if text else meaning, code=code)


def _php_string(value):
    if isinstance(value, bool):
        return "1" if value else ""
    return str(value)


class JustClick(Connector):
    """One JustClick account: POST {api}/DeleteSubscribe as x-www-form-urlencoded."""

    name = "justclick"

    supports_read_back = True

    def __init__(self, login, secret, api_url, timeout, http=None):
        super().__init__(api_url.rstrip("/") + "/DeleteSubscribe", timeout, http)
        self.read_url = api_url.rstrip("/") + "/GetLeadGroupStatuses"
        self.login = login
        self._secret = secret

    def body(self, payload):
        """The exact bytes sent: the signed query string plus &hash=..."""
        query = http_build_query(payload)
        digest = sign(query, self.login, self._secret)
        return f"{query}&hash={digest}" if query else f"hash={digest}"

    def preview(self, payload):
        """What would be sent, with the signature redacted."""
        return {"url": self.url, "form": {**payload, "hash": "***"}}

    def call(self, payload):
        response = self.post(self.body(payload).encode("ascii"), FORM)
        answer = self._verified(response)
        code = answer["error_code"]
        if code == 0:
            return Outcome(self.name, UNSUBSCRIBED, "0", answer["error_text"] or "unsubscribed")
        if code == 801:
            return Outcome(self.name, NOT_SUBSCRIBED, "801", answer["error_text"] or "contact not found")
        raise error_for(code, answer["error_text"])

    def read(self, payload):
        """GetLeadGroupStatuses for the delivery's address, signed as DeleteSubscribe is: the rass_status of
        the group it left. The answer's hash covers its code and text only, so `result` rests on TLS."""
        body = self.body({"email": payload["lead_email"]}).encode("ascii")
        answer = self._verified(self.post(body, FORM, self.read_url))
        code = answer["error_code"]
        if code in NOBODY:
            return Confirmation(self.name, CONFIRMED, NOBODY[code])
        if code != 0:
            raise error_for(code, answer["error_text"])
        if "result" not in answer:
            raise APIConnectionError("JustClick answered GetLeadGroupStatuses without a result")
        return group_state(self.name, answer["result"], payload["rass_name"])

    def _verified(self, response):
        try:
            answer = response.json()
        except ValueError:
            raise self.unreadable(response, "JSON", "JUSTCLICK_API_URL") from None
        if not isinstance(answer, dict) or "error_code" not in answer:
            raise APIConnectionError("JustClick answered JSON without an error_code")
        code, text = answer.get("error_code"), answer.get("error_text", "")
        expected = answer_hash(_php_string(code), _php_string(text), self._secret)
        received = answer.get("hash")
        if not isinstance(received, str) or not hmac.compare_digest(
                expected.encode(), received.strip().lower().encode("utf-8")):
            raise VerificationError(f"JustClick's answer (code {code}) failed its hash check, so it is not "
                                    "trusted: JUSTCLICK_SECRET is wrong or the answer was altered", code=code)
        try:
            code = int(code)
        except (TypeError, ValueError):
            raise VerificationError(f"JustClick answered a non-numeric code {code!r}") from None
        verified = {"error_code": code, "error_text": _php_string(text)}
        return {**verified, "result": answer["result"]} if "result" in answer else verified


def group_state(destination, result, group):
    """The Confirmation GetLeadGroupStatuses' `result` gives for `group`: the item naming it exactly, else
    in another case (a group named in another case must not pass for one the contact is not in)."""
    items = _items(result)
    item = next((i for i in items if i.get("rass_name") == group), None) or next(
        (i for i in items if str(i.get("rass_name", "")).casefold() == group.casefold()), None)
    if item is None:
        return Confirmation(destination, CONFIRMED, NOT_IN_GROUP)
    status = str(item.get("rass_status", "")).strip().upper()
    if status not in READ_STATES:
        raise UpstreamError(f"JustClick answered an undocumented rass_status {short(status, 40)!r}")
    state, meaning = READ_STATES[status]
    when = subscription_time(item.get("subscription_time"))
    detail = f"rass_status={status}{meaning}" + (f", subscribed {when}" if when else "")
    return Confirmation(destination, state, detail)


def _items(result):
    """The result's items: a list, or an object of them (PHP encodes an array with gaps as one)."""
    if result is None:
        return []
    if isinstance(result, dict):
        result = list(result.values())
    if not isinstance(result, list):
        raise APIConnectionError("JustClick answered a GetLeadGroupStatuses result that is not a list")
    return [item for item in result if isinstance(item, dict)]


def subscription_time(value):
    """subscription_time as text for a detail, or "": its format is undocumented, so a Unix time and a date
    text are read and anything else is left out."""
    if isinstance(value, bool):
        return ""
    if isinstance(value, (int, float)) or (isinstance(value, str) and value.strip().isdigit()):
        try:
            when = datetime.fromtimestamp(int(float(value)), timezone.utc)
        except (ValueError, OverflowError, OSError):
            return ""
        return when.strftime("%Y-%m-%d %H:%M:%S UTC") if when.year > 1970 else ""
    text = value.strip() if isinstance(value, str) else ""
    return text if DATE_TEXT.fullmatch(text) else ""


def read_notification(form):
    """JustClick's "URL for Notifications" POST (form fields email, id_group, status, ...; documented only in
    InfluencerSoft's English copy of its help) as a VendorEvent: status 0 is an unsubscribe, 1 and 2 notices
    of activation and subscription. We assume id_group is the group's API name (rass_name)."""
    email, group, status = (str(form.get(key) or "").strip() for key in ("email", "id_group", "status"))
    if "@" not in email or len(email) > 320 or len(group) > 255 or status not in ("0", "1", "2"):
        raise NotAnEvent("a JustClick notification carries an email, its id_group and a status 0, 1 or 2")
    if CONTROL.search(email + group):
        raise NotAnEvent("email or id_group holds control characters")
    return VendorEvent("justclick", email, "notification", None, group or None, unsubscribe=status == "0")


class JustClickUnsubscribeSchema(Schema):
    """JustClick DeleteSubscribe: lead_email and rass_name, in the order they are signed."""

    class Meta:
        unknown = EXCLUDE

    email = fields.String(required=True, allow_none=False, error_messages={
        "required": "JustClick identifies contacts by email only: an email address is required.",
        "null": "JustClick identifies contacts by email only: an email address is required."})
    group = fields.String(required=True, allow_none=False, validate=validate.Length(min=1), error_messages={
        "required": "JustClick needs a group: send `group` (or rass_name) or set JUSTCLICK_GROUP.",
        "null": "JustClick needs a group: send `group` (or rass_name) or set JUSTCLICK_GROUP."})

    @post_load
    def build(self, data, **kwargs):
        return {"lead_email": data["email"], "rass_name": data["group"]}


@dataclass(frozen=True)
class JustClickConfig:
    """JustClick settings as read from the environment; the secret stays out of repr()."""

    login: str = ""
    secret: str = field(default="", repr=False)
    group: str = ""
    api_url: str = ""

    @property
    def url(self):
        """The API base URL with the login filled in."""
        return (self.api_url or DEFAULT_URL).replace("{login}", self.login)


class JustClickVendor(Vendor):
    """JustClick as the registry sees it."""

    name = "justclick"
    title = "JustClick"
    supports_read_back = True  # GetLeadGroupStatuses
    config_class = JustClickConfig
    targets = ("email",)  # DeleteSubscribe finds contacts by lead_email only
    # The group (rass_name) a person leaves; a public form may name it (the README's forms do).
    options = (Option("group", Name(load_default=None, validate=validate.Length(min=1, max=255)),
                      aliases=("rass_name", "list", "list_name", "group_name"), public=True),)
    aliases = {"email": ("lead_email",), "phone": ("lead_phone",)}
    # JustClick publishes no number; its code 8 says our address's limit is spent. 10/s (36,000 an hour) is
    # far above any list's opt-outs and drains a 100,000-line import in under three hours.
    default_rate = 10.0
    schema = JustClickUnsubscribeSchema()  # built once: a schema instance copies its fields
    variables = (
        Var("JUSTCLICK_LOGIN", "login", required=True),
        Var("JUSTCLICK_SECRET", "secret", required=True, secret=True),
        Var("JUSTCLICK_GROUP", "group"),
        Var("JUSTCLICK_API_URL", "api_url"),
    )

    def checked(self, values, problems):
        return {**values, "api_url": check_url("JUSTCLICK_API_URL", values["api_url"], problems)}

    def build(self, config, timeout):
        return JustClick(config.login, config.secret, config.url, timeout)

    def delivery(self, unsubscribe, config):
        group = unsubscribe.options.get("group") or config.group or None
        payload = self.schema.load({"email": unsubscribe.email, "group": group})
        return Delivery(self.name, payload["lead_email"], payload, group=payload["rass_name"])

    def report(self, config):
        return {"api_url": config.url, "default_group": config.group or None}

    def probe(self, connector, config):
        """DeleteSubscribe for an address under .invalid: 801 (no such contact) proves login, key and IP."""
        result = connector.send({"lead_email": PROBE_ADDRESS, "rass_name": config.group})
        if result.code == "801":
            return True, "login, API key and IP accepted; the group JUSTCLICK_GROUP exists"
        if result.code == "800" and not config.group:
            return True, "login, API key and IP accepted; JUSTCLICK_GROUP is not set, so requests must name a group"
        if result.code == "800":
            return False, f"login, API key and IP accepted, but JustClick has no group {config.group!r}: fix JUSTCLICK_GROUP"
        if result.error_kind in ("configuration", "verification"):
            return False, result.message
        return False, f"could not tell: {result.message or 'JustClick answered code ' + str(result.code)}"
