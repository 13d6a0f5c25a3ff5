"""Mailkit mailkit.email.unsubscribe and mailkit.email.unsubscribe.getstatus over its JSON or XML-RPC
transport; what its answers mean is in connectors/mailkit_wire.py."""

import json
import xmlrpc.client
from dataclasses import dataclass, field

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, validate, validates_schema

from connectors.base import Connector
from connectors.errors import APIConnectionError, UpstreamError, VerificationError
from connectors.mailkit_wire import (OTHER_ADDRESS, NoSuchContact, an_address, echoes, error_for, flagged,
                                     parse_xmlrpc, unsubscribed_events)
from connectors.vendor import Option, Var, Vendor, check_url
from schemas.fields import Digits, Flag, WholeNumber
from schemas.shapes import Confirmation, Delivery, Outcome, asks
from status import ALREADY_UNSUBSCRIBED, CONFIRMED, NOT_SUBSCRIBED, UNSUBSCRIBED

URLS = {"json": "https://api.mailkit.eu/json.fcgi", "xmlrpc": "https://api.mailkit.eu/rpc.fcgi"}
FUNCTION = "mailkit.email.unsubscribe"
READ_FUNCTION = "mailkit.email.unsubscribe.getstatus"
LIST_FUNCTION = "mailkit.mailinglist.unsubscribed"
MAX_ID = 2**31 - 1  # Mailkit's IDs travel as XML-RPC <int>: 32-bit signed
TIMEOUT_DAYS = validate.Range(min=14, max=90, error="Temporary unsubscribe lasts 14 to 90 days.")
NOBODY = "Mailkit knows no such contact: nobody to mail"


class Mailkit(Connector):
    """One Mailkit account; `transport` is "json" or "xmlrpc"."""

    name = "mailkit"
    supports_read_back = True

    def __init__(self, client_id, client_md5, url, timeout, transport="json", http=None):
        super().__init__(url, timeout, http)
        self.client_id = client_id
        self._client_md5 = client_md5
        self.transport = transport

    def json_body(self, params, md5=None):
        """The JSON call: strings as in Mailkit's own example, absent options left out."""
        wire = {"send_optout": "TRUE" if params["send_optout"] else "FALSE"}
        for key in ("email", "ID_email", "ID_send_message"):
            if params.get(key) is not None:
                wire[key] = str(params[key])
        if params.get("timeout_days"):
            wire.update(timeout="TRUE", timeout_days=str(params["timeout_days"]))
        return {"function": FUNCTION, "id": self.client_id,
                "md5": self._client_md5 if md5 is None else md5, "parameters": wire}

    def xmlrpc_body(self, params, md5=None):
        """The XML-RPC call: positional client_id, md5, email_id, ID_send_message, send_optout[, struct]."""
        target = params.get("email") or int(params["ID_email"])
        campaign = int(params["ID_send_message"]) if params.get("ID_send_message") else ""
        args = [int(self.client_id), self._client_md5 if md5 is None else md5, target, campaign,
                bool(params["send_optout"])]
        if params.get("timeout_days"):
            args.append({"timeout": True, "timeout_days": int(params["timeout_days"])})
        return xmlrpc.client.dumps(tuple(args), methodname=FUNCTION, encoding="utf-8")

    def preview(self, params):
        """What would be sent, with the client md5 redacted."""
        if self.transport == "xmlrpc":
            return {"url": self.url, "xml": self.xmlrpc_body(params, md5="***")}
        return {"url": self.url, "json": self.json_body(params, md5="***")}

    def call(self, params):
        # Mailkit echoes an address it has in no list; an ID_email is echoed on success too.
        sent = params.get("email")
        if self.transport == "xmlrpc":
            body = self.xmlrpc_body(params).encode("utf-8")
            response = self.post(body, "text/xml; charset=utf-8")
            return self._xmlrpc_result(response, sent)
        response = self.post(json.dumps(self.json_body(params)).encode("utf-8"), "application/json")
        return self._json_result(response, sent)

    def _json_answer(self, response):
        """A JSON answer's object; its error (a non-zero error_status) raised as what it means."""
        try:
            answer = response.json()
        except ValueError:
            raise self.unreadable(response, "JSON", "MAILKIT_API_URL") from None
        if not isinstance(answer, dict):
            raise APIConnectionError("Mailkit answered JSON that is not an object")
        error_status = str(answer.get("error_status", "0")).strip()
        if error_status not in ("", "0"):
            raise error_for(str(answer.get("error") or "no error text"), code=error_status)
        return answer

    def _json_result(self, response, sent):
        answer = self._json_answer(response)
        status = str(answer.get("status", "")).strip()
        if status == "2":
            return Outcome(self.name, ALREADY_UNSUBSCRIBED, "2", "already unsubscribed")
        if status == "1":
            return self._status_one(str(answer.get("ID_email", "")).strip(), sent)
        raise UpstreamError(f"Mailkit answered an unknown status {status!r}", code=status or None)

    def _status_one(self, echoed, sent):
        """Status 1 carries the contact's numeric ID_email (unsubscribed) or echoes the address we sent (it
        is in no list). Anything else is about an address we did not send: no success is read from it."""
        if echoes(echoed, sent):  # first: a phone number echoed without its '+' is no ID
            return Outcome(self.name, NOT_SUBSCRIBED, "1", "the address is in no list")
        if echoed.isascii() and echoed.isdigit():
            return Outcome(self.name, UNSUBSCRIBED, "1", f"unsubscribed (ID_email {echoed})")
        raise VerificationError(OTHER_ADDRESS, code="1")

    def _xmlrpc_result(self, response, sent):
        try:
            value = parse_xmlrpc(response)
        except APIConnectionError:
            raise self.unreadable(response, "XML-RPC", "MAILKIT_API_URL") from None
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise UpstreamError(f"Mailkit answered an unexpected {type(value).__name__}")
        if isinstance(value, int):
            return Outcome(self.name, UNSUBSCRIBED, str(value), f"unsubscribed (ID_email {value})")
        if echoes(value, sent):
            return Outcome(self.name, NOT_SUBSCRIBED, None, "the address is in no list")
        if an_address(value):
            raise VerificationError(OTHER_ADDRESS)
        raise error_for(value)

    def read(self, params):
        """mailkit.email.unsubscribe.getstatus for the delivery's address (or ID_email), over the
        configured transport. Mailkit signs no answer: a JSON one must name the address asked."""
        email = params.get("email")
        asked = {"email": email, "ID_email": None if email else str(params["ID_email"])}
        try:
            response = self._ask(READ_FUNCTION, email or int(params["ID_email"]), asked)
            return self._read_xmlrpc(response) if self.transport == "xmlrpc" else \
                self._read_json(response, asked)
        except NoSuchContact:  # an assumption: Mailkit documents no answer for an address it never held
            return Confirmation(self.name, CONFIRMED, NOBODY)

    def _ask(self, function, argument, parameters):
        """POST one read call in the configured transport: XML-RPC (client_id, md5, argument), or JSON."""
        if self.transport == "xmlrpc":
            body = xmlrpc.client.dumps((int(self.client_id), self._client_md5, argument), methodname=function,
                                       encoding="utf-8")
            return self.post(body.encode("utf-8"), "text/xml; charset=utf-8")
        body = {"function": function, "id": self.client_id, "md5": self._client_md5, "parameters": parameters}
        return self.post(json.dumps(body).encode("utf-8"), "application/json")

    def unsubscribed(self, since):
        """mailkit.mailinglist.unsubscribed from the day `since` on: VendorEvents; UpstreamError if it fails."""
        day = since.isoformat()
        return unsubscribed_events(self._ask(LIST_FUNCTION, day, {"range_from": day}), self.transport)

    def _read_json(self, response, asked):
        """{"email", "ID_email", "unsubscribe": "TRUE" | "FALSE", "timeout": {"date"}, "topics"}."""
        answer = self._json_answer(response)
        email, id_email = (str(answer.get(key) or "").strip() for key in ("email", "ID_email"))
        if (asked["email"] and email and not echoes(email, asked["email"])) or (
                asked["ID_email"] and id_email and id_email != asked["ID_email"]):
            raise VerificationError(OTHER_ADDRESS)
        # Mailkit does not sign JSON: the answer is believed only when it names the contact asked about.
        if not ((asked["email"] and email) or (asked["ID_email"] and id_email)):
            raise VerificationError("Mailkit's read-back answer names no contact: not believed")
        return flagged(self.name, str(answer.get("unsubscribe", "")).strip().upper(), answer.get("timeout"))

    def _read_xmlrpc(self, response):
        """XML-RPC answers the string TRUE or FALSE, or an error text; no date for a temporary opt-out."""
        try:
            value = parse_xmlrpc(response)
        except APIConnectionError:
            raise self.unreadable(response, "XML-RPC", "MAILKIT_API_URL") from None
        if not isinstance(value, (bool, str)):
            raise UpstreamError(f"Mailkit answered an unexpected {type(value).__name__}")
        if str(value).strip().upper() in ("TRUE", "FALSE"):
            return flagged(self.name, str(value).strip().upper())
        if an_address(value):
            raise VerificationError(OTHER_ADDRESS)
        raise error_for(value)


class MailkitUnsubscribeSchema(Schema):
    """mailkit.email.unsubscribe parameters, before either transport encodes them."""

    class Meta:
        unknown = EXCLUDE

    email = fields.String(load_default=None)
    phone = fields.String(load_default=None)
    id_email = Digits(load_default=None, max_value=MAX_ID)
    campaign = Digits(load_default=None, max_value=MAX_ID)
    send_optout = Flag(load_default=True)
    timeout_days = fields.Integer(load_default=None, validate=TIMEOUT_DAYS)

    @validates_schema
    def has_target(self, data, **kwargs):
        if not (data.get("email") or data.get("phone") or data.get("id_email")):
            raise ValidationError("Mailkit needs an email address, phone number or ID_email.", "email")

    @post_load
    def build(self, data, **kwargs):
        return {
            "email": data["email"] or data["phone"],
            "ID_email": None if (data["email"] or data["phone"]) else data["id_email"],
            "ID_send_message": data["campaign"],
            "send_optout": data["send_optout"],
            "timeout_days": data["timeout_days"],
        }


@dataclass(frozen=True)
class MailkitConfig:
    """Mailkit settings as read from the environment; the client md5 stays out of repr()."""

    client_id: str = ""
    client_md5: str = field(default="", repr=False)
    transport: str = "json"
    api_url: str = ""

    @property
    def url(self):
        """The endpoint for the chosen transport."""
        return self.api_url or URLS.get(self.transport, "")


class MailkitVendor(Vendor):
    """Mailkit as the registry sees it."""

    name = "mailkit"
    title = "Mailkit"
    supports_read_back = True  # mailkit.email.unsubscribe.getstatus
    config_class = MailkitConfig
    # A public form key carries none of these: ID_email names a contact by number (ten numbers, ten contacts),
    # send_optout hides the confirmation mail from the address's owner.
    options = (
        Option("ID_email", Digits(load_default=None, max_value=MAX_ID), aliases=("id_email", "email_id"), identifies=True),
        Option("ID_send_message", Digits(load_default=None, max_value=MAX_ID),
               aliases=("id_send_message", "campaign_id", "campaign", "send_message_id")),
        Option("send_optout", Flag(load_default=True), aliases=("send_opt_out", "optout_email")),
        Option("timeout_days", WholeNumber(load_default=None, validate=TIMEOUT_DAYS)),
    )
    # Mailkit publishes no rate limit; every unsubscribe may send a confirmation mail, so keep it gentle.
    default_rate = 10.0
    schema = MailkitUnsubscribeSchema()
    variables = (
        Var("MAILKIT_CLIENT_ID", "client_id", required=True),
        Var("MAILKIT_CLIENT_MD5", "client_md5", required=True, secret=True),
        Var("MAILKIT_TRANSPORT", "transport"),
        Var("MAILKIT_API_URL", "api_url"),
    )

    def checked(self, values, problems):
        transport = values["transport"].lower() or "json"
        if transport not in URLS:
            problems.append(f"MAILKIT_TRANSPORT must be json or xmlrpc, got {transport!r}")
            transport = "json"
        if values["client_id"] and not values["client_id"].isdigit():
            problems.append("MAILKIT_CLIENT_ID must be the numeric client ID from Profile/Integration")
        return {**values, "transport": transport,
                "api_url": check_url("MAILKIT_API_URL", values["api_url"], problems)}

    def usable(self, config):
        return not self.missing(config) and config.client_id.isdigit()

    def build(self, config, timeout):
        return Mailkit(config.client_id, config.client_md5, config.url, timeout, transport=config.transport)

    def delivery(self, unsubscribe, config):
        options = unsubscribe.options
        payload = self.schema.load({"email": unsubscribe.email, "phone": unsubscribe.phone,
                                    "id_email": options.get("ID_email"),
                                    "campaign": options.get("ID_send_message"),
                                    "send_optout": options.get("send_optout", True),
                                    "timeout_days": options.get("timeout_days")})
        target = payload["email"] or payload["ID_email"]
        return Delivery(self.name, target, payload, campaign=payload["ID_send_message"],
                        options={"send_optout": payload["send_optout"], "timeout_days": payload["timeout_days"]},
                        answered_by=self.answered_by(payload, target))

    @staticmethod
    def answered_by(payload, target):
        """A temporary opt-out is answered by a permanent one asked just before: sending it after would make
        the permanent one expire (timeout_days: how long the recipient stays unsubscribed)."""
        if payload["timeout_days"]:
            return asks(payload, target), asks({**payload, "timeout_days": None}, target)
        return ()

    def report(self, config):
        return {"transport": config.transport, "api_url": config.url}

    def probe(self, connector, config):
        """mailkit.email.unsubscribe for ID_email 0 (no such contact), no confirmation mail: Mailkit's
        "Invalid ID_email or email" proves the client ID, the md5 and this server's IP."""
        params = {"email": None, "ID_email": "0", "ID_send_message": None, "send_optout": False,
                  "timeout_days": None}
        result = connector.send(params)
        if result.error_kind == "invalid_request" and "invalid id_email or email" in result.message.lower():
            return True, "client ID, MD5 code and IP accepted"
        if result.error_kind in ("configuration", "verification"):
            return False, result.message
        return False, f"could not tell: {result.message or 'Mailkit answered ' + str(result.status)}"
