"""The vendors this service delivers to, and everything the rest of the service asks about them.

Adding a vendor is a module describing it (connectors/vendor.py) and one `register()` call: below for the
built-in ones, or before create_app() for another (tests/test_vendor_third.py). Routes, the CLI, links,
intake and the console loop over what is registered here; none of them names a vendor.
"""

import re
from dataclasses import replace

from connectors.justclick import JustClickVendor
from connectors.mailkit import MailkitVendor
from schemas import inbound
from schemas.request import request_schema as schema_for

VENDORS = []  # in registration order; changed in place, so importers keep the live list
NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")  # a route segment, a --to choice and a link field as it is
TAKEN = ("all", "unsubscribe")  # --to all, /hooks/unsubscribe
KINDS = {"email": ("an email address", "email addresses"), "phone": ("a phone number", "phone numbers")}
_schema = []  # the request schema for the vendors registered now (built when first asked)


def register(vendor):
    """Deliver to `vendor` too: its name becomes a destination (/hooks/<name>, --to <name>, links), its
    options and names join intake. A name that is taken or no plain lower-case word is refused."""
    if not NAME.fullmatch(vendor.name) or vendor.name in TAKEN or vendor.name in names():
        raise ValueError(f"cannot register a vendor named {vendor.name!r}")
    VENDORS.append(vendor)
    _changed()


def unregister(name):
    """Stop knowing the vendor called `name` (a test's vendor, when the test ends)."""
    VENDORS[:] = [v for v in VENDORS if v.name != name]
    _changed()


def _changed():
    inbound.teach(aliases())
    _schema.clear()


def names():
    """The registered vendors' names, in registration order."""
    return tuple(v.name for v in VENDORS)


def destinations():
    """What a request or link may name as its destination: all, or one vendor."""
    return ("all", *names())


def read_back_names():
    """The vendors whose opt-outs can be read back (confirmed), in registration order."""
    return tuple(v.name for v in VENDORS if v.supports_read_back)


def vendor(name):
    """The description of one vendor by name; KeyError for a name not registered."""
    for v in VENDORS:
        if v.name == name:
            return v
    raise KeyError(name)


def options():
    """Every vendor's Options by key, in registration order; a key two vendors read is one Option (the
    first declaration's field), its names and publicity merged."""
    merged = {}
    for option in (o for v in VENDORS for o in v.options):
        first = merged.get(option.key)
        merged[option.key] = option if first is None else replace(
            first, aliases=(*first.aliases, *option.aliases), public=first.public or option.public,
            identifies=first.identifies or option.identifies)
    return merged


def aliases():
    """Canonical field -> the extra names senders use for it, from every vendor."""
    found = {}
    for v in VENDORS:
        for field, names_ in v.aliases.items():
            found[field] = (*found.get(field, ()), *names_)
    for key, option in options().items():
        found[key] = (*found.get(key, ()), *option.aliases)
    return found


def request_schema():
    """The request schema: our fields plus every registered vendor's options."""
    if not _schema:
        _schema.append(schema_for(options().values()))
    return _schema[0]


def public_fields():
    """Vendor option keys a public form key may carry."""
    return frozenset(key for key, option in options().items() if option.public)


def link_problem(to, kind, given):
    """Why a link to `to` for an address of `kind` ('email' or 'phone') cannot carry the options `given`
    ({link word: value}, e.g. {"group": "VIP", "campaign": "7"}), or None. Asked when a link is made and
    again when it is used."""
    if to not in destinations():
        return f"to must be one of {', '.join(destinations())}"
    takers = [v.name for v in VENDORS if kind in v.targets]
    if to != "all" and to not in takers:
        taken = " and ".join(KINDS[k][1] for k in vendor(to).targets)
        return (f"{vendor(to).title} takes {taken} only: {KINDS[kind][0]} needs to=all or to="
                + " or to=".join(takers))
    for word, value in given.items():
        key = inbound.CANONICAL.get(inbound.normal(word), word)
        readers = [v for v in VENDORS if key in {o.key for o in v.options}]
        if value is not None and to != "all" and vendor(to) not in readers:
            return (f"a {word} applies to {' and '.join(v.title for v in readers)} only (to=all or to="
                    + " or to=".join(v.name for v in readers) + ")")
    return None


def read_configs(env, problems):
    """Every vendor's configuration from the environment, by name."""
    return {vendor.name: vendor.read(env, problems) for vendor in VENDORS}


def build_connectors(configs, timeout):
    """One connector per vendor whose configuration is usable, by name."""
    return {v.name: v.build(configs[v.name], timeout) for v in VENDORS if v.usable(configs[v.name])}


def secrets(configs):
    """Every secret value of every vendor configuration."""
    return [value for v in VENDORS if v.name in configs for value in v.secrets(configs[v.name])]


class _Names:
    """The registered names as a live, read-only sequence, for modules that imported NAMES."""

    def __iter__(self):
        return iter(names())

    def __len__(self):
        return len(VENDORS)

    def __contains__(self, name):
        return name in names()

    def __getitem__(self, index):
        return names()[index]


NAMES = _Names()
register(JustClickVendor())
register(MailkitVendor())
