"""JSON text read with bounds: over-long integers kept as digits, nesting deeper than MAX_DEPTH refused, and
a key given twice in one object refused (which of {"email": A, "email": B} was meant is anybody's guess:
json.loads would silently take B).

Pure; used by intake for bodies and by the inbound shapes for JSON embedded in a field (Unbounce's data.json).
"""

import json

from errors import BadBody

MAX_DEPTH = 32
DEEP = "The body is nested too deeply."
MAX_INT_DIGITS = 100
TWICE = "The key {!r} appears twice in one object: send each field once."


def _json_int(digits):
    """A JSON integer, or its digits when it is longer than any field could use."""
    return int(digits) if len(digits) <= MAX_INT_DIGITS else digits


def _one_each(pairs):
    """An object from its (key, value) pairs; BadBody when a key comes twice."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen = set()
        twice = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise BadBody(TWICE.format(twice[:40]))
    return obj


def load_json_text(text):
    """json.loads with over-long integers kept as digits; nesting deeper than MAX_DEPTH, or a key given
    twice in one object, is a BadBody."""
    try:
        value = json.loads(text, parse_int=_json_int, object_pairs_hook=_one_each)
    except RecursionError:
        raise BadBody(DEEP) from None
    if not shallow(value):
        raise BadBody(DEEP)
    return value


def shallow(body, limit=MAX_DEPTH):
    """True when no list or object in `body` is nested deeper than `limit` (checked without recursion)."""
    stack = [(body, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (dict, list)):
            if depth > limit:
                return False
            stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))
    return True
