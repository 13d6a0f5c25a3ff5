"""Planning: canonical fields -> validated Unsubscribes -> one Delivery per destination, made by its vendor.

Pure apart from reading the vendors' descriptions: each vendor builds its own Delivery (payload and ledger
columns), so nothing else reads vendor wire keys. The edge asks here what a request may name (destinations,
the fields a public form may carry): the registry answers, and no edge names a vendor.
"""

import hashlib
import json
from dataclasses import replace

from marshmallow import ValidationError

from connectors import registry
from errors import Invalid


def destinations():
    """What a request, link or command may name as its destination: all, or a registered vendor."""
    return registry.destinations()


def public_fields():
    """The vendors' option fields a public form key may carry (a group)."""
    return registry.public_fields()


def fingerprint(deliveries):
    """sha256 of what would be sent: a reused idempotency key must ask for exactly this (stored with the
    key, so the formula stays as it is)."""
    wire = [[d.index, d.destination, d.payload] for d in deliveries]
    return hashlib.sha256(json.dumps(wire, sort_keys=True, default=str).encode()).hexdigest()


def deliveries_of(index, unsubscribe, names, configs):
    """One Delivery per destination for one Unsubscribe, or ValidationError keyed by destination."""
    built, errors = [], {}
    for name in names:
        try:
            delivery = registry.vendor(name).delivery(unsubscribe, configs[name])
        except ValidationError as exc:
            errors[name] = exc.messages
            continue
        built.append(replace(delivery, index=index, request=unsubscribe))
    if errors:
        raise ValidationError(errors)
    return built


def make_plan(items, errors, batch, names, configs, how=None):
    """The Deliveries for [(index, canonical fields)] read from a body, in item then destination order;
    Invalid (nothing sent) when any item fails. `how`: the Unsubscribe's channel, auth and received_at.

    `errors` are the items that could not be read at all; a single request's errors are reported flat,
    a batch's keyed by item index (marshmallow's shape).
    """
    errors, made = dict(errors), []
    for index, fields in items:
        try:
            unsubscribe = replace(registry.request_schema().load(fields), **(how or {}))
            made.extend(deliveries_of(index, unsubscribe, names, configs))
        except ValidationError as exc:
            errors[index] = exc.messages
    if errors:
        raise Invalid(errors if batch else next(iter(errors.values())))
    return tuple(made)
