"""The validated, vendor-neutral unsubscribe request that every inbound shape is turned into.

The address and the controls are ours; every other field is a vendor's Option (connectors/vendor.py), and
the registry builds the schema from the vendors it holds (request_schema below), so no vendor is named here.
"""

from marshmallow import EXCLUDE, Schema, ValidationError, post_load, validates_schema

from schemas.fields import Email, Flag, Phone, RedirectUrl
from schemas.shapes import Unsubscribe

CORE = ("email", "phone", "redirect", "dry_run")


class RequestSchema(Schema):
    """Canonical field names in, Unsubscribe out; subclassed with the vendors' options."""

    class Meta:
        unknown = EXCLUDE

    identifiers = ()  # option keys that name a person without an address

    email = Email(load_default=None)
    phone = Phone(load_default=None)
    redirect = RedirectUrl(load_default=None)
    dry_run = Flag(load_default=False)

    @validates_schema
    def has_target(self, data, **kwargs):
        if not any(data.get(name) for name in ("email", "phone", *self.identifiers)):
            raise ValidationError("An email address or phone number is required.", "email")

    @post_load
    def build(self, data, **kwargs):
        options = {key: value for key, value in data.items() if key not in CORE}
        return Unsubscribe(**{key: data[key] for key in CORE}, options=options)


def request_schema(options=()):
    """A schema instance for the core fields plus these vendor Options (unique by key)."""
    fields = {option.key: option.field for option in options}
    identifiers = tuple(option.key for option in options if option.identifies)
    return type("UnsubscribeSchema", (RequestSchema,), {**fields, "identifiers": identifiers})()
