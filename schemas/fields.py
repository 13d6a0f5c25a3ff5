"""Field types shared by the inbound and outbound schemas."""

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from marshmallow import ValidationError, fields

TRUTHY = {"true", "1", "yes", "on", "y", "t", 1, True}
FALSY = {"false", "0", "no", "off", "n", "f", "", 0, False}


class Email(fields.String):
    """An email address, syntax-checked and normalised (no DNS look-ups on the hot path)."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        try:
            return validate_email(text, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            raise ValidationError(f"Not a valid email address: {exc}") from None


class Phone(fields.String):
    """A phone number in international format; what people type becomes +420777123456."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        if text.startswith("00"):
            text = "+" + text[2:]
        try:
            number = phonenumbers.parse(text, None)
        except phonenumbers.NumberParseException:
            raise ValidationError("Not a phone number in international format (e.g. +420 777 123 456).") from None
        if not phonenumbers.is_valid_number(number):
            raise ValidationError("Not a valid phone number for its country code.")
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class Digits(fields.String):
    """A numeric identifier (Mailkit IDs), kept as a string of digits."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        if not text.isdigit() or len(text) > 18:
            raise ValidationError("Must be a numeric ID.")
        return text


class Flag(fields.Boolean):
    """true/false, 1/0, yes/no, on/off, in any case."""

    def __init__(self, **kwargs):
        super().__init__(truthy=TRUTHY, falsy=FALSY, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            value = value.strip().lower()
        return super()._deserialize(value, attr, data, **kwargs)
