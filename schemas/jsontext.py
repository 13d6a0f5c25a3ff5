"""JSON text read with bounds: over-long integers kept as digits, nesting deeper than MAX_DEPTH refused.

Pure; used by intake for bodies and by the inbound shapes for JSON embedded in a field (Unbounce's data.json).
"""

import json

from errors import BadBody

MAX_DEPTH = 32
DEEP = "The body is nested too deeply."
MAX_INT_DIGITS = 100


def _json_int(digits):
    """A JSON integer, or its digits when it is longer than any field could use."""
    return int(digits) if len(digits) <= MAX_INT_DIGITS else digits


def load_json_text(text):
    """json.loads with over-long integers kept as digits; nesting deeper than MAX_DEPTH is a BadBody."""
    try:
        value = json.loads(text, parse_int=_json_int)
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
