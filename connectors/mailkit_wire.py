"""What Mailkit's answers mean, for both of its calls (connectors/mailkit.py): its error texts, the addresses
it echoes, the last day of a temporary opt-out, and XML-RPC parsed with entities refused."""

import re
import xmlrpc.client
from datetime import date
from xml.parsers.expat import ExpatError

from defusedxml import DefusedXmlException
from defusedxml.xmlrpc import DefusedExpatParser

from connectors.base import short
from connectors.errors import (APIConnectionError, ConfigurationError, InvalidRequestError, UpstreamError,
                               VerificationError)
from schemas.events import NotAnEvent, VendorEvent
from schemas.fields import CONTROL
from schemas.shapes import Confirmation
from status import CONFIRMED, STILL_SUBSCRIBED

IP_HINT = ("Mailkit only answers whitelisted IP addresses: add this server's outbound IP in "
           "Mailkit, and on a PaaS route through a static outbound proxy (set HTTPS_PROXY)")


class NoSuchContact(InvalidRequestError):
    """Mailkit knows no contact by that address or ID: a refusal to an unsubscribe, nobody to mail to a
    read-back."""


# Mailkit's error texts (by prefix), and what each means for us.
ERRORS = (
    ("Invalid ID_email or email", NoSuchContact, "Mailkit says the address or ID is invalid"),
    ("Missing ID_email or email", InvalidRequestError, "Mailkit says the address is missing"),
    ("Unauthorized", ConfigurationError,
     "Mailkit refused the credentials: check MAILKIT_CLIENT_ID and MAILKIT_CLIENT_MD5"),
    ("Disallowed IP", ConfigurationError, IP_HINT),
)

# An answer naming another address than ours (the one sent, rewritten, or someone else's) says nothing about
# ours; its text is not repeated, since it holds an address.
OTHER_ADDRESS = "Mailkit's answer names an address other than the one sent, so it is not trusted"


def an_address(text):
    """True when an answer's text is an email address or a phone number rather than an error text."""
    text = text.strip()
    return "@" in text or (text.startswith("+") and text[1:].isdigit())


def echoes(text, sent):
    """True when an answer's text is the address or phone number we sent (any case, a phone with or without
    its '+'), which Mailkit answers for an address that is in no list."""
    return bool(sent) and text.strip().lstrip("+").lower() == sent.strip().lstrip("+").lower()


def error_for(text, code=None):
    """Map a Mailkit error text to the error class that says what it means."""
    for prefix, cls, meaning in ERRORS:
        if text.strip().lower().startswith(prefix.lower()):
            return cls(f"{meaning} ({text})", code=code)
    return UpstreamError(f"Mailkit answered an error: {text}", code=code)


def timeout_date(timeout):
    """(the last day of a temporary opt-out or None, words for a detail) from getstatus' `timeout`
    ({"date": "YYYY-MM-DD"}; "0000-00-00" for a permanent opt-out)."""
    text = str(timeout.get("date") or "").strip() if isinstance(timeout, dict) else ""
    if not text or text.startswith("0000-00-00"):
        return None, ""
    try:
        until = date.fromisoformat(text[:10])
    except ValueError:
        return None, ", timeout date unreadable"
    return until, f", timeout {until.isoformat()}"


def parse_xmlrpc(response):
    """The single value of a methodResponse, parsed with entities and external references forbidden."""
    if "html" in response.headers.get("Content-Type", "").lower():
        raise APIConnectionError(f"Mailkit answered HTTP {response.status_code} with an HTML page, "
                                 "not XML-RPC", code=f"http_{response.status_code}")
    unmarshaller = xmlrpc.client.Unmarshaller()
    parser = DefusedExpatParser(unmarshaller)
    try:
        parser.feed(response.content)
        parser.close()
        values = unmarshaller.close()
    except xmlrpc.client.Fault as fault:
        raise error_for(str(fault.faultString), code=fault.faultCode) from None
    except DefusedXmlException:
        raise VerificationError("Mailkit's answer declared XML entities: refused as hostile") from None
    except (ExpatError, xmlrpc.client.ResponseError, ValueError, TypeError):
        raise APIConnectionError(f"Mailkit answered HTTP {response.status_code} with a body that is "
                                 "not XML-RPC", code=f"http_{response.status_code}") from None
    if len(values) != 1:
        raise APIConnectionError("Mailkit answered an XML-RPC response without exactly one value")
    return values[0]


# Mailkit's unsubscribe webhook (mailkit/mailkit-api UnsubscribeWebHook; no vendor field dictionary exists).
METHOD = re.compile(r"[a-z0-9_-]{1,40}")  # lowercase on the wire: link_in_mail, list-unsubscribe_oneclick, ...
NO_END = ("", "0", "0000-00-00", "0000-00-00 00:00:00")  # TIMEOUT/EXPIRE of an opt-out without an end
LIMITS = {"EMAIL": 320, "METHOD": 60, "DATE": 40, "ID_ML": 20, "TIMEOUT": 40, "EXPIRE": 40}


def _text(body, name):
    """One field of the event as text ('' when absent); NotAnEvent for another type, control characters or
    a length no real value has (the message names the field, never its value)."""
    value = body.get(name)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise NotAnEvent(f"{name} is not a string")
    text = str(value).strip()
    if len(text) > LIMITS[name] or CONTROL.search(text):
        raise NotAnEvent(f"{name} is too long or holds control characters")
    return text


def read_event(body):
    """Mailkit's unsubscribe webhook (a JSON object: EMAIL, DATE, ID_ML, METHOD, TIMEOUT, EXPIRE, ...) as a
    VendorEvent. A temporary opt-out carries a TIMEOUT or an EXPIRE (their exact meaning is unconfirmed), or
    METHOD timeout. NotAnEvent for a body that is no such object."""
    if not isinstance(body, dict):
        raise NotAnEvent("the body is not a JSON object")
    email = _text(body, "EMAIL")
    if not email:
        raise NotAnEvent("EMAIL is missing")
    method = _text(body, "METHOD").lower()
    temporary = _text(body, "TIMEOUT") not in NO_END or _text(body, "EXPIRE") not in NO_END
    return VendorEvent("mailkit", email, method if METHOD.fullmatch(method) else "unknown",
                       _text(body, "DATE") or None, _text(body, "ID_ML") or None,
                       temporary=temporary or method == "timeout")


def unsubscribed_events(response, transport):
    """mailkit.mailinglist.unsubscribed's answer ([{DATE, ID_UNSUBSCRIBE_GROUP, EMAIL}], JSON or XML-RPC)
    as VendorEvents without a METHOD; an entry that cannot be read is left out (the read-back decides)."""
    if transport == "xmlrpc":
        answer = parse_xmlrpc(response)
        if isinstance(answer, str):
            raise error_for(answer)
    else:
        try:
            answer = response.json()
        except ValueError:
            raise APIConnectionError(f"Mailkit answered HTTP {response.status_code} with a body that is not "
                                     "JSON", code=f"http_{response.status_code}") from None
    if isinstance(answer, dict) and str(answer.get("error_status", "0")).strip() not in ("", "0"):
        raise error_for(str(answer.get("error") or "no error text"), code=str(answer["error_status"]))
    entries = list(answer.values()) if isinstance(answer, dict) else answer
    if not isinstance(entries, list):
        raise APIConnectionError("Mailkit answered an unsubscribed list that is not a list")
    events = []
    for entry in entries:
        try:
            email, when = _text(entry, "EMAIL"), _text(entry, "DATE")
        except (NotAnEvent, AttributeError):
            continue
        if email:
            events.append(VendorEvent("mailkit", email, None, when or None))
    return events


def flagged(name, flag, timeout=None):
    """What getstatus' `unsubscribe` says, with the last day of a temporary opt-out (JSON only)."""
    if flag == "TRUE":
        until, words = timeout_date(timeout)
        return Confirmation(name, CONFIRMED, "unsubscribe=TRUE" + words, until=until)
    if flag == "FALSE":
        return Confirmation(name, STILL_SUBSCRIBED, "unsubscribe=FALSE")
    raise UpstreamError(f"Mailkit answered an undocumented unsubscribe value {short(flag, 20)!r}")
