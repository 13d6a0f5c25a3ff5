"""Field types shared by the inbound and outbound schemas, and the strict checks the routes use too."""

import re
import unicodedata
from urllib.parse import urlsplit

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from marshmallow import ValidationError, fields

# Clear answers only; anything else is refused, so an unclear dry_run never becomes a real send.
YES = frozenset({"true", "1", "yes", "on", "y", "t"})
NO = frozenset({"false", "0", "no", "off", "n", "f"})
NOT_A_FLAG = "Not a clear yes or no: use true/false, 1/0, yes/no or on/off."
# C0 and C1 control characters and DEL (PostgreSQL cannot store NUL; a vendor or a log must not get a line
# break inside a name), and lone surrogates (no UTF-8 for them). No field here is multi-line, so tab, CR and
# LF are refused too.
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
MAX_INTEGER_DIGITS = 18
DURATION = re.compile(r"([0-9]{1,6})([dhm]?)")
UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "": 86400}  # a bare number is days
MAX_DURATION_SECONDS = 100 * 365 * 86400


def parse_duration(text, zero=False):
    """Seconds in '365d', '12h', '30m' or a bare number of days (link expiries, purge ages, import windows);
    ValueError for anything else, and for zero unless `zero` allows it."""
    match = DURATION.fullmatch(text.strip().lower()) if isinstance(text, str) else None
    if not match:
        raise ValueError("use a number of days, or e.g. 365d, 12h, 30m")
    seconds = int(match.group(1)) * UNIT_SECONDS[match.group(2)]
    if not (0 if zero else 1) <= seconds <= MAX_DURATION_SECONDS:
        least = "zero or more" if zero else "more than zero"
        raise ValueError(f"a duration must be {least} and at most 100 years")
    return seconds


def control_problem(text):
    """What is wrong with text a database or vendor would receive, or None when it is plain text."""
    found = CONTROL.search(text)
    if found is None:
        return None
    return f"Contains the control character U+{ord(found.group()):04X}; send plain text."


def refuse_control(text, name):
    """`text` unchanged, or ValidationError({name: [...]}) when it holds a control character."""
    problem = control_problem(text)
    if problem:
        raise ValidationError({name: [problem]})
    return text


def _flag_value(value):
    """True, False, or None when `value` is not a clear yes or no."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in YES or word in NO:
            return word in YES
    return None


def parse_flag(value, name):
    """True or False for a clear yes or no, else ValidationError({name: [...]}).

    Clear: JSON true/false, the integers 1/0, and in any case with surrounding whitespace ignored true/false,
    1/0, yes/no, on/off, y/n, t/f. Everything else is unclear, including "" and None: a bare `?dry_run` or an
    empty mapped field read as "no" would send for real, read as "yes" it would hide a mis-mapped field.
    """
    flag = _flag_value(value)
    if flag is None:
        raise ValidationError({name: [NOT_A_FLAG]})
    return flag


def any_flag(name, *values):
    """True when any of the given values (None = not given) is a clear yes; any unclear one is refused."""
    return any([parse_flag(value, name) for value in values if value is not None])


# What `strip` drops around a value: the whitespace people paste (spaces, tabs, line ends, no-break and wide
# spaces), but no other control character (str.strip() would drop U+0085 and the separators U+001C-001F
# too, and a value carrying one is refused, not quietly cleaned).
SPACE_AROUND = "\t\n\r" + "".join(c for c in map(chr, range(0x3001)) if unicodedata.category(c) == "Zs")


class Text(fields.String):
    """A string without control characters; `strip` drops surrounding whitespace first."""

    strip = False

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        text = text.strip(SPACE_AROUND) if self.strip else text
        problem = control_problem(text)
        if problem:
            raise ValidationError(problem)
        return text


class Name(Text):
    """A name someone typed or pasted (a group): surrounding whitespace is no part of it (" VIP" is VIP)."""

    strip = True


class Email(Text):
    """An email address, syntax-checked (no DNS look-ups on the hot path) and kept as received, trimmed.

    Why not email-validator's normalised form: it turns a punycode domain into Unicode (and lower-cases the
    domain), and a vendor matches the exact text it holds. Asked about ivan@пример.рф, JustClick answers
    "not found" for its ivan@xn--e1afmkfd.xn--p1ai, and the contact stays subscribed behind a success.
    """

    strip = True

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            validate_email(text, check_deliverability=False)
        except EmailNotValidError as exc:
            raise ValidationError(f"Not a valid email address: {exc}") from None
        return text


class Phone(Text):
    """A phone number in international format; what people type becomes +420777123456."""

    strip = True

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if text.startswith("00"):
            text = "+" + text[2:]
        try:
            number = phonenumbers.parse(text, None)
        except phonenumbers.NumberParseException:
            raise ValidationError("Not a phone number in international format (e.g. +420 777 123 456).") from None
        if not phonenumbers.is_valid_number(number):
            raise ValidationError("Not a valid phone number for its country code.")
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class Digits(Text):
    """A numeric identifier (Mailkit IDs), kept as a string of ASCII digits; `max_value` bounds what a
    vendor's wire can carry (XML-RPC's <int> is 32-bit signed)."""

    strip = True

    def __init__(self, *args, max_value=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.max_value = max_value

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        text = super()._deserialize(value, attr, data, **kwargs)
        # isdigit() alone also passes '²' and other scripts' digits, which no vendor reads as a number.
        if not (text.isascii() and text.isdigit()) or len(text) > MAX_INTEGER_DIGITS:
            raise ValidationError("Must be a numeric ID.")
        if self.max_value is not None and int(text) > self.max_value:
            raise ValidationError(f"Must be a numeric ID of at most {self.max_value}.")
        return text


class WholeNumber(fields.Integer):
    """An integer sent as a number or as text; over-long text is refused before int() has to read it."""

    def __init__(self, **kwargs):
        super().__init__(strict=False, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        too_long = isinstance(value, str) and len(value.strip()) > MAX_INTEGER_DIGITS
        # marshmallow's non-strict Integer would turn 30.5 into 30; NaN and infinity are no number of days
        if too_long or (isinstance(value, float) and not value.is_integer()):
            raise ValidationError(f"Not a whole number of at most {MAX_INTEGER_DIGITS} digits.")
        return super()._deserialize(value, attr, data, **kwargs)


class Flag(fields.Boolean):
    """A clear yes or no, read by parse_flag's rule."""

    def _deserialize(self, value, attr, data, **kwargs):
        flag = _flag_value(value)
        if flag is None:
            raise ValidationError(NOT_A_FLAG)
        return flag


class RedirectUrl(Text):
    """Where a person's browser goes next; a value that is no parseable URL is ignored like a foreign host."""

    max_length = 2048

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if len(text) > self.max_length:
            raise ValidationError(f"Longer than {self.max_length} characters.")
        try:
            parts = urlsplit(text)
            parts.hostname, parts.port  # noqa: B018 - each raises ValueError for '[::1' or a port like ':x'
        except ValueError:
            return None
        return text
