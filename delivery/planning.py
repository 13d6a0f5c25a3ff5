"""Planning: canonical fields -> validated UnsubscribeRequests -> one Planned delivery per destination.

Pure apart from reading the vendors' descriptions: each vendor builds its payload and says which ledger
columns it fills, so nothing else reads vendor wire keys.
"""

import hashlib
import json
from dataclasses import dataclass

from marshmallow import ValidationError

from connectors import registry
from errors import Invalid
from schemas.request import REQUEST_SCHEMA
from store.ledger import Planned


@dataclass(frozen=True)
class Plan:
    """What one request asks for: the validated items, their deliveries, and a fingerprint of both."""

    requests: tuple  # (index, UnsubscribeRequest)
    plans: tuple  # Planned, in item then destination order
    batch: bool

    @property
    def fingerprint(self):
        """sha256 of what would be sent: a reused idempotency key must ask for exactly this."""
        wire = [[p.index, p.destination, p.payload] for p in self.plans]
        return hashlib.sha256(json.dumps(wire, sort_keys=True, default=str).encode()).hexdigest()

    @property
    def first_request(self):
        """The first item's request (a form's redirect is read from it)."""
        return self.requests[0][1]


def planned(index, name, payload):
    """The ledger row for one vendor payload."""
    fields = registry.vendor(name).ledger_fields(payload)
    return Planned(index, name, fields.target, fields.group, fields.campaign, fields.options or {}, payload)


def payloads(request, names, configs):
    """{destination: payload} for one request, or ValidationError keyed by destination."""
    built, errors = {}, {}
    for name in names:
        try:
            built[name] = registry.vendor(name).payload(request, configs[name])
        except ValidationError as exc:
            errors[name] = exc.messages
    if errors:
        raise ValidationError(errors)
    return built


def make_plan(items, errors, batch, names, configs):
    """A Plan for [(index, canonical fields)] read from a body; Invalid (nothing sent) when any item fails.

    `errors` are the items that could not be read at all; a single request's errors are reported flat,
    a batch's keyed by item index (marshmallow's shape).
    """
    errors, requests, plans = dict(errors), [], []
    for index, fields in items:
        try:
            request = REQUEST_SCHEMA.load(fields)
            built = payloads(request, names, configs)
        except ValidationError as exc:
            errors[index] = exc.messages
            continue
        requests.append((index, request))
        plans.extend(planned(index, name, payload) for name, payload in built.items())
    if errors:
        raise Invalid(errors if batch else next(iter(errors.values())))
    return Plan(tuple(requests), tuple(plans), batch)
