"""The upstream error tree: connectors raise these inside a call and turn them into an Outcome at their
boundary (`Connector.send`), so nothing above the connectors catches them; callers read `kind`.
"""

from status import FAILED, REJECTED


class UpstreamError(Exception):
    """An upstream call that did not end in an unsubscribe we can vouch for."""

    status = FAILED
    transient = False
    kind = "upstream"
    verified = True  # the vendor's own answer says so (refusals, codes); no answer or a forged one is not

    def __init__(self, message, code=None):
        super().__init__(message)
        self.message = message
        self.code = None if code is None else str(code)


class InvalidRequestError(UpstreamError):
    """The upstream refused the data itself (unknown group, invalid address): fix the input."""

    status = REJECTED
    kind = "invalid_request"


class ConfigurationError(UpstreamError):
    """The upstream refused our credentials, signature, account or IP: the operator must act."""

    kind = "configuration"


class VerificationError(UpstreamError):
    """The upstream's answer failed its signature check or could not be trusted."""

    kind = "verification"
    verified = False


class TransientError(UpstreamError):
    """Worth retrying later: the upstream is down, slow or busy."""

    transient = True
    kind = "unavailable"
    verified = False


class RateLimitError(TransientError):
    """The upstream asked us to slow down; `retry_after` is how long it asked us to wait (seconds), if it said."""

    kind = "rate_limit"

    def __init__(self, message, code=None, retry_after=None):
        super().__init__(message, code)
        self.retry_after = retry_after


class APIConnectionError(TransientError):
    """Timeout, refused connection, 5xx or an unreadable answer."""

    kind = "connection"
