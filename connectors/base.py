"""What every connector shares: its Outcome and Confirmation, and the pooled HTTP transport under one overall
deadline."""

from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

from connectors.errors import (APIConnectionError, ConfigurationError, RateLimitError, UpstreamError,
                               VerificationError)
from connectors.transport import Transport, TransportError
from schemas.shapes import Confirmation, Outcome
from status import CONFIRM_UNKNOWN

MAX_RETRY_AFTER = 6 * 3600.0  # a vendor's Retry-After is believed up to this, well inside the 48 hours


def retry_after_seconds(value, now=None):
    """A Retry-After header (seconds or an HTTP date) as seconds from now, or None when absent or unreadable."""
    value = (value or "").strip()
    if value.isdigit() and len(value) < 10:
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    seconds = (when - (now or datetime.now(timezone.utc))).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def failure(destination, error):
    """The Outcome of a call that ended in an UpstreamError: refused, failed, unverified or worth a retry."""
    return Outcome(destination, error.status, error.code, error.message, error.kind, error.transient,
                   getattr(error, "retry_after", None), error.verified)


def unconfirmed(destination, error):
    """The Confirmation of a read-back that ended in an UpstreamError. A read changes nothing, so besides
    outages an answer that failed verification (a bad hash, hostile XML) is asked again too: the ledger's
    bounded confirmation attempts end a fault that persists."""
    transient = error.transient or isinstance(error, VerificationError)
    return Confirmation(destination, CONFIRM_UNKNOWN, short(error.message), transient=transient,
                        error_kind=error.kind, verified=error.verified)


def short(text, limit=200):
    """A detail for the ledger: one line, at most `limit` characters."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


class Connector:
    """Base for one upstream API: subclasses build, post and interpret one call."""

    name = ""
    supports_read_back = False  # True where the vendor has a call that reads a contact's state back

    def __init__(self, url, timeout, http=None):
        self.url = url
        self.total = timeout  # the whole call, however the upstream dribbles its answer
        self.http = http or Transport(url, min(3.05, timeout), timeout, timeout)  # (connect, read, whole)

    def post(self, body, content_type, url=None):
        """POST bytes to the upstream (`url`: another of its calls); network failures, timeouts and 5xx
        become APIConnectionError."""
        try:
            response = self.http.post(body, content_type, url)
        except TransportError as exc:
            if exc.timed_out:
                raise APIConnectionError(f"{self.name} did not answer within {self.total:g} s") from None
            raise APIConnectionError(f"could not reach {self.name}: {exc.kind}") from None
        if response.status_code == 429:
            raise RateLimitError(f"{self.name} is rate-limiting us (HTTP 429)", code="http_429",
                                 retry_after=retry_after_seconds(response.headers.get("Retry-After")))
        if response.status_code >= 500 or response.status_code == 408:
            raise APIConnectionError(f"{self.name} answered HTTP {response.status_code}",
                                     code=f"http_{response.status_code}")
        return response

    def unreadable(self, response, expected, setting):
        """The error for an answer we cannot read: a 4xx page means our URL or access is wrong (the
        operator must act), anything else a passing fault worth retrying."""
        code = response.status_code
        if 400 <= code < 500:
            return ConfigurationError(f"{self.name} answered HTTP {code} with a page, not {expected}: "
                                      f"check {setting} and the credentials", code=f"http_{code}")
        return APIConnectionError(f"{self.name} answered HTTP {code} with a body that is not {expected}",
                                  code=f"http_{code}")

    def send(self, payload):
        """Send one delivery's payload and return its Outcome; never raises UpstreamError."""
        try:
            return self.call(payload)
        except UpstreamError as error:
            return failure(self.name, error)

    def read_back(self, payload):
        """Ask the vendor whether the contact a delivery's payload names is unsubscribed now: a
        Confirmation, never an UpstreamError."""
        if not self.supports_read_back:
            return Confirmation(self.name, CONFIRM_UNKNOWN,
                                f"{self.name} has no call that reads an opt-out back", error_kind="unsupported")
        try:
            return self.read(payload)
        except UpstreamError as error:
            return unconfirmed(self.name, error)

    def read(self, payload):  # pragma: no cover - every connector that supports read-back overrides it
        raise NotImplementedError

    def call(self, payload):  # pragma: no cover - every connector overrides it
        raise NotImplementedError

    def preview(self, payload):  # pragma: no cover - every connector overrides it
        raise NotImplementedError
