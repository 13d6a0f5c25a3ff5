"""The validated unsubscribe request that every inbound shape is turned into."""

from dataclasses import asdict, dataclass

from marshmallow import EXCLUDE, Schema, ValidationError, post_load, validate, validates_schema

from schemas.fields import Digits, Email, Flag, Phone, RedirectUrl, Text, WholeNumber

TIMEOUT_DAYS = validate.Range(min=14, max=90, error="Temporary unsubscribe lasts 14 to 90 days.")


@dataclass(frozen=True)
class UnsubscribeRequest:
    """Who to unsubscribe, from what, and how."""

    email: str | None = None
    phone: str | None = None
    id_email: str | None = None
    group: str | None = None
    campaign: str | None = None
    send_optout: bool = True
    timeout_days: int | None = None
    redirect: str | None = None
    dry_run: bool = False

    @property
    def target(self):
        """The address the person is known by: email, else phone, else Mailkit ID."""
        return self.email or self.phone or self.id_email

    def as_dict(self):
        """Plain fields, for the outbound schemas and the ledger."""
        return asdict(self)


class UnsubscribeRequestSchema(Schema):
    """Canonical field names in, UnsubscribeRequest out."""

    class Meta:
        unknown = EXCLUDE

    email = Email(load_default=None)
    phone = Phone(load_default=None)
    id_email = Digits(data_key="ID_email", load_default=None)
    group = Text(load_default=None, validate=validate.Length(min=1, max=255))
    campaign = Digits(data_key="ID_send_message", load_default=None)
    send_optout = Flag(load_default=True)
    timeout_days = WholeNumber(load_default=None, validate=TIMEOUT_DAYS)
    redirect = RedirectUrl(load_default=None)
    dry_run = Flag(load_default=False)

    @validates_schema
    def has_target(self, data, **kwargs):
        if not (data.get("email") or data.get("phone") or data.get("id_email")):
            raise ValidationError("An email address or phone number is required.", "email")

    @post_load
    def build(self, data, **kwargs):
        return UnsubscribeRequest(**data)


REQUEST_SCHEMA = UnsubscribeRequestSchema()
