"""Whatever shape a caller sends -> flat mappings with canonical field names. Pure: no I/O."""

import json
from dataclasses import dataclass, field

from errors import Invalid

MAX_BATCH = 100

# Canonical field -> accepted names, compared lower-cased with '-' and ' ' read as '_'.
ALIASES = {
    "email": ("email", "e_mail", "email_address", "emailaddress", "lead_email", "mail", "your_email",
              "user_email", "subscriber_email", "contact_email"),
    "phone": ("phone", "phone_number", "phonenumber", "lead_phone", "tel", "telephone", "mobile",
              "mobile_phone", "sms"),
    "ID_email": ("id_email", "email_id"),
    "group": ("group", "rass_name", "list", "list_name", "group_name"),
    "ID_send_message": ("id_send_message", "campaign_id", "campaign", "send_message_id"),
    "send_optout": ("send_optout", "send_opt_out", "optout_email"),
    "timeout_days": ("timeout_days",),
    "redirect": ("redirect", "redirect_url"),
}
CANONICAL = {alias: name for name, aliases in ALIASES.items() for alias in aliases}
EVENT_KEYS = ("event_id", "eventId", "tranid")


class ShapeError(Invalid):
    """The body parsed but holds no usable unsubscribe; `messages` is field -> [messages]."""


@dataclass
class Inbound:
    """What one webhook body holds: (index, canonical dict) items or per-item errors, and its event key."""

    source: str = "generic"
    items: list = field(default_factory=list)
    errors: dict = field(default_factory=dict)
    event_key: str | None = None
    ping: bool = False
    batch: bool = False


def normal(name):
    """A field name as compared with the aliases."""
    return str(name).strip().lower().replace("-", "_").replace(" ", "_")


def unwrap(value):
    """Single-item lists stand for their item (Unbounce, repeated form fields)."""
    while isinstance(value, list) and len(value) == 1:
        value = value[0]
    return value


def unflatten(mapping):
    """Zapier's `a__b` keys as nested objects, merged with what is already nested."""
    out = {}
    for key, value in mapping.items():
        parts = str(key).split("__") if "__" in str(key).strip("_") else [key]
        node = out
        for part in parts[:-1]:
            child = node.get(part)
            node = node.setdefault(part, {}) if not isinstance(child, dict) else child
        node[parts[-1]] = value
    return out


def _top_level(item):
    found = {}
    for key, value in item.items():
        name = CANONICAL.get(normal(key))
        if name is None or isinstance(value, dict):
            continue
        found.setdefault(name, []).append((str(key), unwrap(value)))
    return found


def _one_level_down(item):
    found = {}
    for parent, child in item.items():
        if isinstance(child, dict):
            for name, pairs in _top_level(child).items():
                found.setdefault(name, []).extend((f"{parent}.{path}", v) for path, v in pairs)
    return found


def canonical(item):
    """One flat mapping of canonical names; a field found twice with different values is an error."""
    item = unflatten(item)
    top, below = _top_level(item), _one_level_down(item)
    out, errors = {}, {}
    for name in ALIASES:
        candidates = top.get(name) or below.get(name) or []
        values = {json.dumps(v, sort_keys=True, default=str) for _, v in candidates if v not in (None, "")}
        if len(values) > 1:
            paths = ", ".join(path for path, _ in candidates)
            errors[name] = [f"Found more than one different value for {name}: {paths}."]
        elif values:
            out[name] = next(v for _, v in candidates if v not in (None, ""))
    if errors:
        raise ShapeError(errors)
    return out


def _typeform(body):
    answers = body["form_response"].get("answers") or []
    item = dict(body["form_response"].get("hidden") or {})
    for answer in answers:
        if not isinstance(answer, dict):
            continue
        kind = answer.get("type")
        if kind == "email":
            item["email"] = answer.get("email")
        elif kind == "phone_number":
            item["phone"] = answer.get("phone_number")
    return item


def _tally(body):
    item = {}
    for entry in body["data"].get("fields") or []:
        if not isinstance(entry, dict):
            continue
        kind, value = entry.get("type"), entry.get("value")
        if kind == "INPUT_EMAIL":
            item["email"] = value
        elif kind == "INPUT_PHONE_NUMBER":
            item["phone"] = value
        elif entry.get("label") and normal(entry["label"]) in CANONICAL:
            item.setdefault(entry["label"], value)
    return item


def _unbounce(body):
    try:
        data = json.loads(unwrap(body["data.json"]))
    except (TypeError, ValueError):
        raise ShapeError({"data.json": ["Unbounce's data.json field is not valid JSON."]}) from None
    if not isinstance(data, dict):
        raise ShapeError({"data.json": ["Unbounce's data.json field is not a JSON object."]})
    return {key: unwrap(value) for key, value in data.items()}


def source_of(body):
    """Which sender a single object looks like."""
    if isinstance(body.get("form_response"), dict):
        return "typeform"
    if isinstance(body.get("data"), dict) and isinstance(body["data"].get("fields"), list):
        return "tally"
    if "data.json" in body:
        return "unbounce"
    if "formid" in body or "tranid" in body or {normal(k) for k in body} == {"test"}:
        return "tilda"
    return "generic"


ADAPTERS = {"typeform": _typeform, "tally": _tally, "unbounce": _unbounce}


def event_key(body):
    """The sender's own delivery id (Typeform event_id, Tally eventId, Tilda tranid), if any."""
    for key in EVENT_KEYS:
        value = unwrap(body.get(key))
        if isinstance(value, (str, int)) and str(value):
            return f"{key}:{value}"
    return None


def read_items(body, defaults=None):
    """An Inbound for a parsed body (object or array of objects); defaults fill missing fields."""
    defaults = defaults or {}
    objects = body if isinstance(body, list) else [body]
    inbound = Inbound(batch=isinstance(body, list))
    if not objects:
        raise ShapeError({"_schema": ["The batch is empty: send at least one object."]})
    if len(objects) > MAX_BATCH:
        raise ShapeError({"_schema": [f"A batch holds at most {MAX_BATCH} items."]})
    for index, obj in enumerate(objects):
        if not isinstance(obj, dict):
            inbound.errors[index] = {"_schema": ["Each item must be an object of fields."]}
            continue
        inbound.source = source_of(obj)
        if inbound.source == "tilda" and {normal(k) for k in obj} == {"test"}:
            inbound.ping = True
            return inbound
        inbound.event_key = inbound.event_key or (event_key(obj) if not inbound.batch else None)
        try:
            adapted = ADAPTERS.get(inbound.source, dict)(obj)
            inbound.items.append((index, {**defaults, **canonical(adapted)}))
        except ShapeError as exc:
            inbound.errors[index] = exc.messages
    return inbound
