"""What every connector shares: the result model and the pooled HTTP session under one overall deadline."""

import os
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

import requests

import status
from connectors.deadline import DeadlineAdapter, deadline
from connectors.errors import APIConnectionError, ConfigurationError, RateLimitError, UpstreamError

USER_AGENT = "unsub-relay/1.0"
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


@dataclass(frozen=True)
class Result:
    """The outcome of one unsubscribe at one destination (`status` is one of status.py's outcomes)."""

    destination: str
    status: str
    code: str | None = None
    message: str = ""
    error: UpstreamError | None = None

    @property
    def ok(self):
        """True when the person is (or already was) off the list."""
        return status.is_success(self.status)

    @property
    def transient(self):
        """True when a later retry may succeed."""
        return self.error is not None and self.error.transient

    @property
    def error_kind(self):
        """The error's kind (configuration, connection, ...), or None for a success."""
        return self.error.kind if self.error is not None else None

    @classmethod
    def from_error(cls, destination, error):
        """A failed or rejected result carrying the error that explains it."""
        return cls(destination, error.status, error.code, error.message, error)

    def as_dict(self):
        """The flat, stable shape that Zapier maps into later steps."""
        return {"destination": self.destination, "status": self.status,
                "code": self.code, "message": self.message}


def new_session(url):
    """A pooled session for one upstream URL; TLS verification on; HTTPS_PROXY/NO_PROXY honoured.

    The environment is read once here rather than by requests on every call (trust_env re-reads
    proxies and stats ~/.netrc per request).
    """
    session = requests.Session()
    session.trust_env = False
    session.proxies = requests.utils.get_environ_proxies(url)
    session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    adapter = DeadlineAdapter(pool_connections=4, pool_maxsize=64)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    return session


class Connector:
    """Base for one upstream API: subclasses build, post and interpret one call."""

    name = ""

    def __init__(self, url, timeout, session=None):
        self.url = url
        self.total = timeout  # the whole call, however the upstream dribbles its answer
        self.timeout = (min(3.05, timeout), timeout)  # (connect, each read) seconds
        self.session = session or new_session(url)

    def post(self, body, content_type):
        """POST bytes to the upstream; network failures, timeouts and 5xx become APIConnectionError."""
        # A request prepared here and handed to Session.send: Session.request would re-merge
        # session settings, cookies and hooks and re-parse the URL on every call.
        prepared = requests.PreparedRequest()
        prepared.method, prepared.url, prepared.body = "POST", self.url, body
        prepared.headers = requests.structures.CaseInsensitiveDict({
            **self.session.headers, "Content-Type": content_type, "Content-Length": str(len(body))})
        with deadline(self.total) as call:
            try:
                response = self.session.send(prepared, timeout=self.timeout, allow_redirects=False,
                                             proxies=self.session.proxies, verify=self.session.verify)
            except requests.RequestException as exc:
                raise self._network_error(exc, call.expired) from None
        if response.status_code == 429:
            raise RateLimitError(f"{self.name} is rate-limiting us (HTTP 429)", code="http_429",
                                 retry_after=retry_after_seconds(response.headers.get("Retry-After")))
        if response.status_code >= 500 or response.status_code == 408:
            raise APIConnectionError(f"{self.name} answered HTTP {response.status_code}",
                                     code=f"http_{response.status_code}")
        return response

    def _network_error(self, exc, expired):
        if expired or isinstance(exc, requests.Timeout):
            return APIConnectionError(f"{self.name} did not answer within {self.total:g} s")
        return APIConnectionError(f"could not reach {self.name}: {type(exc).__name__}")

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
        """Send one outbound payload and return a Result; never raises UpstreamError."""
        try:
            return self.call(payload)
        except UpstreamError as error:
            return Result.from_error(self.name, error)

    def call(self, payload):  # pragma: no cover - every connector overrides it
        raise NotImplementedError

    def preview(self, payload):  # pragma: no cover - every connector overrides it
        raise NotImplementedError
