"""What Mailkit's answers mean, for both of its calls (connectors/mailkit.py): its error texts, the addresses
it echoes, the last day of a temporary opt-out, and XML-RPC parsed with entities refused."""

import xmlrpc.client
from datetime import date
from xml.parsers.expat import ExpatError

from defusedxml import DefusedXmlException
from defusedxml.xmlrpc import DefusedExpatParser

from connectors.errors import (APIConnectionError, ConfigurationError, InvalidRequestError, UpstreamError,
                               VerificationError)

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
