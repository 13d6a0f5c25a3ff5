"""PHP's urlencode and http_build_query, byte for byte, for signatures PHP servers recompute."""

from urllib.parse import quote_plus


def urlencode(value):
    """PHP urlencode(): space as '+', every byte outside A-Za-z0-9_.- as upper-case %XX."""
    # quote_plus leaves '~' alone (RFC 3986 unreserved); PHP's urlencode does not.
    return quote_plus(str(value).encode("utf-8"), safe="").replace("~", "%7E")


def _scalar(value):
    if isinstance(value, bool):  # PHP casts true/false to 1/0
        return "1" if value else "0"
    if isinstance(value, float):
        return repr(value) if not value.is_integer() else str(int(value))
    return str(value)


def _pairs(prefix, value):
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in items:
        name = f"{prefix}[{key}]"
        if item is None:
            continue
        if isinstance(item, (dict, list, tuple)):
            yield from _pairs(name, item)
        else:
            yield name, _scalar(item)


def http_build_query(params):
    """PHP http_build_query($params) with its defaults: '&', PHP_QUERY_RFC1738, nulls dropped."""
    parts = []
    for key, value in params.items():
        if value is None:
            continue
        pairs = _pairs(str(key), value) if isinstance(value, (dict, list, tuple)) else [(key, _scalar(value))]
        parts.extend(f"{urlencode(k)}={urlencode(v)}" for k, v in pairs)
    return "&".join(parts)
