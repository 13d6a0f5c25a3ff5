"""Raw request bytes -> a parsed body (dict or list), by Content-Type, sniffed when it is missing."""

import io
import json
from urllib.parse import parse_qsl
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from errors import BadBody
from schemas.jsontext import DEEP, MAX_DEPTH, load_json_text, shallow  # noqa: F401 - re-exported

JSON_TYPES = ("application/json", "text/json")
XML_TYPES = ("application/xml", "text/xml")
FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
SNIFFED = ("", "text/plain", "application/octet-stream")
MAX_FIELDS = 1000
# Longer JSON integers stay digit strings, which the schemas refuse with a 422 (int() stops at 4300 digits).


def kind_of(mimetype, raw):
    """json, xml, form or multipart: declared, or sniffed from the first byte when not."""
    if mimetype in JSON_TYPES or mimetype.endswith("+json"):
        return "json"
    if mimetype in XML_TYPES or mimetype.endswith("+xml"):
        return "xml"
    if mimetype == FORM:
        return "form"
    if mimetype == MULTIPART:
        return "multipart"
    if mimetype not in SNIFFED:
        raise BadBody(f"Unsupported media type {mimetype!r}: send JSON, XML or a form.", 415)
    head = raw.lstrip()[:1]
    if head in (b"{", b"["):
        return "json"
    if head == b"<":
        return "xml"
    if b"=" in raw:
        return "form"
    raise BadBody("The body is empty or in no format we read: send JSON, XML or a form.")


def _text(raw):
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadBody("The body is not UTF-8.") from None


def parse_json(raw):
    """A JSON object or array of objects."""
    try:
        body = load_json_text(_text(raw))
    except json.JSONDecodeError as exc:
        raise BadBody(f"The body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}.") from None
    if not isinstance(body, (dict, list)):
        raise BadBody("The JSON body must be an object or an array of objects.")
    return body


def parse_form(raw):
    """An urlencoded body; a repeated field becomes a list."""
    try:
        pairs = parse_qsl(_text(raw), keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except ValueError:
        raise BadBody(f"The form has more than {MAX_FIELDS} fields.") from None
    return collect(pairs)


def collect(pairs):
    """Field pairs as a mapping, repeated names as lists, appended in place so that it stays linear."""
    out, repeated = {}, set()
    for key, value in pairs:
        if key in repeated:
            out[key].append(value)
        elif key in out:
            out[key] = [out[key], value]
            repeated.add(key)
        else:
            out[key] = value
    return out


def _element(node):
    children = list(node)
    if not children:
        return (node.text or "").strip()
    return collect((child.tag, _element(child)) for child in children)


def _bounded_tree(data):
    """The parsed element tree, read as a stream that stops at MAX_FIELDS elements or MAX_DEPTH levels."""
    events = iterparse(io.BytesIO(data), events=("start", "end"), forbid_dtd=True)
    elements = depth = 0
    for event, _ in events:
        if event == "end":
            depth -= 1
            continue
        elements, depth = elements + 1, depth + 1
        if elements > MAX_FIELDS + 1:  # + 1: the wrapping root is ours
            raise BadBody(f"The XML has too many elements (more than {MAX_FIELDS}).")
        if depth > MAX_DEPTH:
            raise BadBody(DEEP)
    return events.root


def parse_xml(raw):
    """Zapier's XML: flat elements with or without one root; DTDs and entities refused."""
    text = _text(raw).strip()
    if "<!doctype" in text[:4096].lower() or "<!entity" in text.lower():
        raise BadBody("XML with a DTD or entities is refused.")
    if text.startswith("<?xml"):
        text = text[text.find("?>") + 2:]
    try:
        root = _bounded_tree(b"<_root_>" + text.encode("utf-8") + b"</_root_>")
    except DefusedXmlException:
        raise BadBody("XML with a DTD or entities is refused.") from None
    except ParseError as exc:
        raise BadBody(f"The body is not well-formed XML: {exc}.") from None
    body = _element(root)
    if not isinstance(body, dict):
        raise BadBody("The XML holds no fields.")
    # A single root element wrapping the fields (<unsubscribe><email>..</email></unsubscribe>).
    if len(body) == 1 and isinstance(next(iter(body.values())), dict):
        body = next(iter(body.values()))
    return body


PARSERS = {"json": parse_json, "xml": parse_xml, "form": parse_form}


def parse(mimetype, raw, form_reader):
    """The parsed body for one request; form_reader() returns multipart fields as pairs.

    Each parser bounds its own nesting (JSON after decoding, XML while streaming); forms are flat.
    """
    kind = kind_of(mimetype, raw)
    return collect(form_reader()) if kind == "multipart" else PARSERS[kind](raw)
