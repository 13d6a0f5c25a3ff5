"""What every connector shares: the result model, outcome names and the pooled HTTP session."""

import os
from dataclasses import dataclass

import requests

from connectors.errors import APIConnectionError, ConfigurationError, RateLimitError, UpstreamError

UNSUBSCRIBED = "unsubscribed"
ALREADY_UNSUBSCRIBED = "already_unsubscribed"
NOT_SUBSCRIBED = "not_subscribed"
SUCCESSES = (UNSUBSCRIBED, ALREADY_UNSUBSCRIBED, NOT_SUBSCRIBED)
USER_AGENT = "unsub-relay/1.0"


@dataclass(frozen=True)
class Result:
    """The outcome of one unsubscribe at one destination."""

    destination: str
    status: str
    code: str | None = None
    message: str = ""
    error: UpstreamError | None = None

    @property
    def ok(self):
        """True when the person is (or already was) off the list."""
        return self.status in SUCCESSES

    @property
    def transient(self):
        """True when a later retry may succeed."""
        return self.error is not None and self.error.transient

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
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=64)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    return session


class Connector:
    """Base for one upstream API: subclasses build, post and interpret one call."""

    name = ""

    def __init__(self, url, timeout, session=None):
        self.url = url
        self.timeout = (min(3.05, timeout), timeout)  # (connect, read) seconds
        self.session = session or new_session(url)

    def post(self, body, content_type):
        """POST bytes to the upstream; network failures and 5xx become APIConnectionError."""
        # A request prepared here and handed to Session.send: Session.request would re-merge
        # session settings, cookies and hooks and re-parse the URL on every call.
        prepared = requests.PreparedRequest()
        prepared.method, prepared.url, prepared.body = "POST", self.url, body
        prepared.headers = requests.structures.CaseInsensitiveDict({
            **self.session.headers, "Content-Type": content_type, "Content-Length": str(len(body))})
        try:
            response = self.session.send(prepared, timeout=self.timeout, allow_redirects=False,
                                         proxies=self.session.proxies, verify=self.session.verify)
        except requests.Timeout:
            raise APIConnectionError(f"{self.name} did not answer within {self.timeout[1]:g} s") from None
        except requests.RequestException as exc:
            raise APIConnectionError(f"could not reach {self.name}: {type(exc).__name__}") from None
        if response.status_code == 429:
            raise RateLimitError(f"{self.name} is rate-limiting us (HTTP 429)", code="http_429")
        if response.status_code >= 500 or response.status_code == 408:
            raise APIConnectionError(f"{self.name} answered HTTP {response.status_code}",
                                     code=f"http_{response.status_code}")
        return response

    def unreadable(self, response, expected, setting):
        """The error for an answer we cannot read: a 4xx page means our URL or access is wrong (the
        operator must act), anything else a passing fault worth retrying."""
        status = response.status_code
        if 400 <= status < 500:
            return ConfigurationError(f"{self.name} answered HTTP {status} with a page, not {expected}: "
                                      f"check {setting} and the credentials", code=f"http_{status}")
        return APIConnectionError(f"{self.name} answered HTTP {status} with a body that is not {expected}",
                                  code=f"http_{status}")

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
