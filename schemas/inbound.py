"""Whatever shape a caller sends -> flat mappings with canonical field names. Pure: no I/O."""

import json
from dataclasses import dataclass, field

from errors import Invalid
from schemas.fields import control_problem
from schemas.jsontext import MAX_DEPTH, load_json_text

MAX_BATCH = 100

# Canonical field -> accepted names, compared lower-cased with '-' and ' ' read as '_'. These are ours; each
# vendor adds its own fields and wire names (connectors/registry.py calls teach() as vendors register).
CORE_ALIASES = {
    "email": ("email", "e_mail", "email_address", "emailaddress", "mail", "your_email", "user_email",
              "subscriber_email", "contact_email"),
    "phone": ("phone", "phone_number", "phonenumber", "tel", "telephone", "mobile", "mobile_phone", "sms"),
    "redirect": ("redirect", "redirect_url"),
    "dry_run": ("dry_run", "dryrun"),
}
ALIASES = dict(CORE_ALIASES)  # changed in place by teach(): importers keep the live tables
CANONICAL = {}


def teach(vendor_aliases):
    """Make the vendors' fields and names known to intake: canonical name -> extra names, in the order the
    registry holds them. Replaces what an earlier call taught (a vendor that left takes its names along)."""
    merged = {name: tuple(aliases) for name, aliases in CORE_ALIASES.items()}
    for name, aliases in vendor_aliases.items():
        merged[name] = tuple(dict.fromkeys((*merged.get(name, (normal(name),)), *map(normal, aliases))))
    ALIASES.clear()
    ALIASES.update(merged)
    CANONICAL.clear()
    CANONICAL.update({alias: name for name, aliases in ALIASES.items() for alias in aliases})


EVENT_KEYS = ("event_id", "eventId", "tranid")
EMPTY = (None, "")
MAX_NAME = 100  # a field name echoed in an answer is cut here


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


def _path(key):
    """The nesting path a key names: ('data', 'email') for Zapier's `data__email`."""
    parts = tuple(str(key).split("__")) if "__" in str(key).strip("_") else (key,)
    if len(parts) > MAX_DEPTH:
        raise ShapeError({str(key)[:MAX_NAME]: ["The field name is nested too deeply."]})
    return parts


class _Nest:
    """The nested mapping being built, and which key put what where, to name both sides of a clash."""

    def __init__(self):
        self.root, self.owner = {}, {}
        self.own = {id(self.root)}  # dicts built here, changed in place; the caller's are copied first

    def put(self, path, value, key):
        node = self.root
        for depth in range(1, len(path)):
            node = self._child(node, path[:depth], key)
        self._leaf(node, path, value, key)

    def _child(self, node, path, key):
        child = node.get(path[-1])
        if child in EMPTY:
            child = {}
        elif not isinstance(child, dict):
            self._clash(path, key)
        if id(child) not in self.own:
            child = dict(child)
            self.own.add(id(child))
        node[path[-1]] = child
        self.owner.setdefault(path, key)
        return child

    def _leaf(self, node, path, value, key):
        existing = node.get(path[-1])
        if existing in EMPTY:
            node[path[-1]] = value
            self.owner[path] = key
        elif isinstance(existing, dict) and isinstance(value, dict):
            for name, inner in value.items():
                self.put(path + (name,), inner, key)
        elif value not in EMPTY and value != existing:
            self._clash(path, key)

    def _clash(self, path, key):
        other = next(self.owner[path[:n]] for n in range(len(path), 0, -1) if path[:n] in self.owner)
        other, key = str(other)[:MAX_NAME], str(key)[:MAX_NAME]
        raise ShapeError({key: [f"`{other}` and `{key}` give different values for the same field; "
                                "send only one of them."]})


def unflatten(mapping):
    """Zapier's `a__b` keys as nested objects, merged with what is already nested when the two agree."""
    nest = _Nest()
    for key, value in mapping.items():
        nest.put(_path(key), value, key)
    return nest.root


def _top_level(item):
    """Canonical name -> [(key, value)] for the fields of `item` that carry one of our names.

    A value of the wrong type is kept as it is (an object for `group`, a list, a number): the request schema
    refuses it naming the field. Skipping it would let a default (JUSTCLICK_GROUP) stand in for what the
    sender meant, and that would be sent."""
    found = {}
    for key, value in item.items():
        name = CANONICAL.get(normal(key))
        if name is None:
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


def _typed(container, name, kind, where):
    """container[name] when it is of `kind` (missing or null reads as empty), else a ShapeError for `where`."""
    value = container.get(name)
    if value is None:
        return kind()
    if not isinstance(value, kind):
        raise ShapeError({where: [f"Must be {'an object' if kind is dict else 'a list'}."]})
    return value


def _typeform(body):
    response = body["form_response"]
    answers = _typed(response, "answers", list, "form_response.answers")
    item = dict(_typed(response, "hidden", dict, "form_response.hidden"))
    for answer in answers:
        if not isinstance(answer, dict):
            raise ShapeError({"form_response.answers": ["Each answer must be an object."]})
        kind = answer.get("type")
        if kind == "email":
            item["email"] = answer.get("email")
        elif kind == "phone_number":
            item["phone"] = answer.get("phone_number")
    return item


def _tally(body):
    item = {}
    for entry in body["data"]["fields"]:
        if not isinstance(entry, dict) or not all(isinstance(entry.get(k), (str, type(None)))
                                                  for k in ("type", "label")):
            raise ShapeError({"data.fields": ["Each field must be an object whose type and label are text."]})
        kind, label, value = entry.get("type"), entry.get("label"), entry.get("value")
        if kind == "INPUT_EMAIL":
            item["email"] = value
        elif kind == "INPUT_PHONE_NUMBER":
            item["phone"] = value
        elif label and normal(label) in CANONICAL:
            item.setdefault(label, value)
    return item


def _unbounce(body):
    text = unwrap(body["data.json"])
    try:
        data = load_json_text(text) if isinstance(text, str) else None  # too deep: BadBody, 400 like any body
    except ValueError:
        data = None
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
        if value in EMPTY:
            continue
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise ShapeError({key: ["Must be text or an integer."]})
        problem = control_problem(str(value))  # the key is stored: PostgreSQL cannot hold NUL
        if problem:
            raise ShapeError({key: [problem]})
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
