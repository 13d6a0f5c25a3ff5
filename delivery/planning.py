"""Planning: canonical fields -> validated UnsubscribeRequests -> one Planned delivery per destination.

Pure apart from reading the vendors' descriptions: each vendor builds its payload and says which ledger
columns it fills, so nothing else reads vendor wire keys. The edge asks here what a request may name
(destinations, the fields a public form may carry): the registry answers, and no edge names a vendor.
"""

import hashlib
import json
from dataclasses import dataclass

from marshmallow import ValidationError

from connectors import registry
from errors import Invalid
from store.ledger import Planned
from store.rows import asks


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


def destinations():
    """What a request, link or command may name as its destination: all, or a registered vendor."""
    return registry.destinations()


def public_fields():
    """The vendors' option fields a public form key may carry (a group)."""
    return registry.public_fields()


def planned(index, name, payload):
    """The ledger row for one vendor payload, with what earlier deliveries would answer it (dedup)."""
    vendor = registry.vendor(name)
    fields = vendor.ledger_fields(payload)
    answered_by = tuple(asks(answer, fields.target) for answer in vendor.answered_by(payload))
    return Planned(index, name, fields.target, fields.group, fields.campaign, fields.options or {}, payload,
                   answered_by)


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
            request = registry.request_schema().load(fields)
            built = payloads(request, names, configs)
        except ValidationError as exc:
            errors[index] = exc.messages
            continue
        requests.append((index, request))
        plans.extend(planned(index, name, payload) for name, payload in built.items())
    if errors:
        raise Invalid(errors if batch else next(iter(errors.values())))
    return Plan(tuple(requests), tuple(plans), batch)
