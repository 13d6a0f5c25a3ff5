"""One schema per vendor: a validated UnsubscribeRequest in, that vendor's payload out."""

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, validate, validates_schema

from schemas.fields import Digits, Flag
from schemas.request import TIMEOUT_DAYS


class JustClickUnsubscribeSchema(Schema):
    """JustClick DeleteSubscribe: lead_email and rass_name, in the order they are signed."""

    class Meta:
        unknown = EXCLUDE

    email = fields.String(required=True, allow_none=False, error_messages={
        "required": "JustClick identifies contacts by email only: an email address is required.",
        "null": "JustClick identifies contacts by email only: an email address is required."})
    group = fields.String(required=True, allow_none=False, validate=validate.Length(min=1), error_messages={
        "required": "JustClick needs a group: send `group` (or rass_name) or set JUSTCLICK_GROUP.",
        "null": "JustClick needs a group: send `group` (or rass_name) or set JUSTCLICK_GROUP."})

    @post_load
    def build(self, data, **kwargs):
        return {"lead_email": data["email"], "rass_name": data["group"]}


class MailkitUnsubscribeSchema(Schema):
    """mailkit.email.unsubscribe parameters, before either transport encodes them."""

    class Meta:
        unknown = EXCLUDE

    email = fields.String(load_default=None)
    phone = fields.String(load_default=None)
    id_email = Digits(load_default=None)
    campaign = Digits(load_default=None)
    send_optout = Flag(load_default=True)
    timeout_days = fields.Integer(load_default=None, validate=TIMEOUT_DAYS)

    @validates_schema
    def has_target(self, data, **kwargs):
        if not (data.get("email") or data.get("phone") or data.get("id_email")):
            raise ValidationError("Mailkit needs an email address, phone number or ID_email.", "email")

    @post_load
    def build(self, data, **kwargs):
        return {
            "email": data["email"] or data["phone"],
            "ID_email": None if (data["email"] or data["phone"]) else data["id_email"],
            "ID_send_message": data["campaign"],
            "send_optout": data["send_optout"],
            "timeout_days": data["timeout_days"],
        }


# Built once: a marshmallow schema instance copies its fields when created.
JUSTCLICK_SCHEMA, MAILKIT_SCHEMA = JustClickUnsubscribeSchema(), MailkitUnsubscribeSchema()


def justclick_payload(request, default_group):
    """The JustClick form fields for a request; raises ValidationError when it cannot be sent."""
    return JUSTCLICK_SCHEMA.load(
        {"email": request.email, "group": request.group or default_group or None})


def mailkit_payload(request):
    """The Mailkit parameters for a request; raises ValidationError when it cannot be sent."""
    data = {k: v for k, v in request.as_dict().items() if k != "group" and k != "redirect"}
    return MAILKIT_SCHEMA.load(data)
