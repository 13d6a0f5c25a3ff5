"""Signed per-recipient unsubscribe link tokens (pure: no Flask, no I/O).

Wire format, version 1 (documented with test vectors in the README, reproducible in any language):

    canonical = "v1\\n" + target + "\\n" + to + "\\n" + group + "\\n" + campaign + "\\n" + expires
    token     = b64url(canonical) + "." + b64url(HMAC-SHA256(key=secret, msg=canonical))

UTF-8 throughout; `b64url` is base64url without `=` padding; an absent group, campaign or expiry is the
empty string; `expires` is unix seconds in decimal. No field may contain a control character, so the
newline separator is unambiguous and the canonical string is the same bytes in every language.

Why the standard library and not itsdangerous (which is pinned anyway): itsdangerous decodes base64 leniently,
so the unused low bits of a signature's last character are ignored and four spellings of every token verify
(measured with itsdangerous 2.2.0); "any changed byte is invalid" would not hold. Its defaults (SHA-1, a
derived key, JSON payloads) would also have to be overridden one by one to stay reproducible in PHP. Here a
token is accepted only in its canonical spelling: the decoded bytes must re-encode to exactly the input.

The payload is signed, not encrypted: whoever holds the link can read the address it names (the recipient,
who knows it anyway). Keep link paths out of access logs.
"""

import base64
import binascii
import hashlib
import hmac
import re
import unicodedata
from dataclasses import dataclass

VERSION = "v1"
DESTINATION = re.compile(r"[a-z][a-z0-9_]{0,31}")  # all or a vendor's name (which ones: links/make.py)
MIN_SECRET_CHARS = 32
MAX_TOKEN_CHARS = 2048  # far above any real token (a 255-character Cyrillic group stays under 1,000)
B64URL = re.compile(r"[A-Za-z0-9_-]+")
PHONE = re.compile(r"\+[1-9][0-9]{6,14}")
CAMPAIGN = re.compile(r"[0-9]{1,18}")  # as schemas.fields.Digits
UNIX_SECONDS = re.compile(r"[0-9]{1,20}")


class InvalidLink(Exception):
    """Any token that does not verify: malformed, forged, tampered or expired (one message for all)."""

    def __init__(self):
        super().__init__("invalid or expired link")


def _has_control(text):
    # Cc only (fixed since Unicode 1.1): the check must not change with the Python version that verifies.
    return any(unicodedata.category(char) == "Cc" for char in text)


@dataclass(frozen=True)
class LinkClaims:
    """What a link unsubscribes: one normalised target, the destinations, and optional details. Only their
    form is checked here; which destination takes what is the vendors' to say (links/make.py asks them)."""

    target: str
    to: str = "all"
    group: str | None = None
    campaign: str | None = None
    expires: int | None = None

    def __post_init__(self):
        problem = self._problem()
        if problem:
            raise ValueError(problem)

    def _problem(self):
        """Why these claims cannot be signed, or None; checked for every claim built or parsed."""
        if not isinstance(self.target, str) or not (PHONE.fullmatch(self.target) or self._is_email()):
            return "target must be a normalised email address or an international phone number (+...)"
        if not isinstance(self.to, str) or not DESTINATION.fullmatch(self.to):
            return "to must be all or a destination's name"
        if self.group is not None and (not isinstance(self.group, str) or not 0 < len(self.group) <= 255
                                       or _has_control(self.group)):
            return "group must be 1 to 255 characters without control characters"
        if self.campaign is not None and not (isinstance(self.campaign, str)
                                              and CAMPAIGN.fullmatch(self.campaign)):
            return "campaign must be 1 to 18 digits"
        if self.expires is not None and (type(self.expires) is not int or self.expires < 0):
            return "expires must be unix seconds (a non-negative integer)"
        return None

    def _is_email(self):
        return ("@" in self.target and len(self.target) <= 254 and not _has_control(self.target)
                and not any(char.isspace() for char in self.target))

    @property
    def kind(self):
        """`phone` or `email`: the two are told apart by their normalised form."""
        return "phone" if self.target.startswith("+") else "email"

    def canonical(self):
        """The exact bytes that are signed, fields in their fixed order."""
        fields = (VERSION, self.target, self.to, self.group or "", self.campaign or "",
                  "" if self.expires is None else str(self.expires))
        return "\n".join(fields).encode()

    @classmethod
    def from_canonical(cls, payload):
        """Claims from signed bytes; anything unexpected is InvalidLink."""
        try:
            fields = payload.decode().split("\n")
            version, target, to, group, campaign, expires = fields
            if version != VERSION or (expires and not UNIX_SECONDS.fullmatch(expires)):
                raise InvalidLink()
            return cls(target, to, group or None, campaign or None, int(expires) if expires else None)
        except (UnicodeDecodeError, ValueError):
            raise InvalidLink() from None


def b64url(data):
    """base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode_strict(text):
    """Bytes of a canonical base64url string, else InvalidLink (no second spelling of the same bytes)."""
    if not B64URL.fullmatch(text):
        raise InvalidLink()
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise InvalidLink() from None
    if b64url(data) != text:
        raise InvalidLink()
    return data


def parse_secrets(secrets, first_number=1):
    """`LINK_SECRETS` (a space-separated string or a sequence) as HMAC keys, the signing one first; messages
    count the secrets from `first_number`."""
    values = secrets.split() if isinstance(secrets, str) else list(secrets)
    if not values:
        raise ValueError("LINK_SECRETS is empty: set at least one secret of 32 or more characters")
    for number, value in enumerate(values, first_number):
        if not (value.isascii() and value.isprintable()) or any(char.isspace() for char in value):
            raise ValueError(f"LINK_SECRETS: secret #{number} must be printable ASCII without spaces")
        if len(value) < MIN_SECRET_CHARS:  # the length only: a message never echoes the secret
            raise ValueError(f"LINK_SECRETS is too short: secret #{number} has {len(value)} characters; "
                             f"at least {MIN_SECRET_CHARS} are needed")
    return tuple(value.encode("ascii") for value in values)


class LinkSigner:
    """Signs with the first secret, verifies with any (rotation: new one first, old one dropped later)."""

    def __init__(self, secrets, signs=True):
        self._keys, self.signs = parse_secrets(secrets), signs  # signs: False verifies only (the first was refused)

    def __repr__(self):
        return f"LinkSigner(<{len(self._keys)} secrets>)"

    def sign(self, claims):
        if not self.signs:
            raise ValueError("this signer only verifies: the signing secret was refused")
        payload = claims.canonical()
        return b64url(payload) + "." + b64url(self._mac(self._keys[0], payload))

    def verify(self, token, now):
        """The claims of a genuine, unexpired token; InvalidLink for anything else."""
        if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN_CHARS or token.count(".") != 1:
            raise InvalidLink()
        encoded_payload, encoded_mac = token.split(".")
        payload, mac = _b64url_decode_strict(encoded_payload), _b64url_decode_strict(encoded_mac)
        # Every key is tried (no early exit) so the time taken does not tell which one matched.
        matches = [hmac.compare_digest(self._mac(key, payload), mac) for key in self._keys]
        if not any(matches):
            raise InvalidLink()
        claims = LinkClaims.from_canonical(payload)
        if claims.expires is not None and now >= claims.expires:
            raise InvalidLink()
        return claims

    @staticmethod
    def _mac(key, payload):
        return hmac.new(key, payload, hashlib.sha256).digest()
