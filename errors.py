"""The one error tree for what the edge answers (after stripe-python's _error.py and httpx's _exceptions.py).

Every class carries the HTTP status and the answer's `status` label; the app edge maps any `RelayError` to
one JSON shape (or a page for a person) in one handler. Lower layers raise their own exceptions and translate
them at their boundary: the store turns SQLAlchemy errors into `StoreUnavailable`, validation turns
marshmallow's errors into `Invalid`, connectors turn network and vendor errors into results (never raised).
"""


class RelayError(Exception):
    """Root: `http_status` and `label` say how the edge answers; `headers` go with the answer."""

    http_status = 500
    label = "error"
    headers = {}

    def __init__(self, message, errors=None):
        super().__init__(message)
        self.message = message
        self.errors = errors

    def body(self):
        """The JSON answer: status label, message, and field errors when there are any."""
        body = {"status": self.label, "message": self.message}
        if self.errors is not None:
            body["errors"] = self.errors
        return body


class BadBody(RelayError):
    """The body cannot be read (also hostile XML, truncated or over-deep bodies)."""

    http_status, label = 400, "invalid"

    def __init__(self, message, status=400):
        super().__init__(message)
        self.http_status = status  # 400 unreadable, 413 too large, 415 unsupported media type


class NotAuthorized(RelayError):
    """The one verification error: every malformed or wrong credential ends here."""

    http_status, label = 401, "unauthorized"
    headers = {"WWW-Authenticate": "Bearer"}


class Forbidden(RelayError):
    """The credential is valid but may not do this (a public form key asking for a batch)."""

    http_status, label = 403, "forbidden"


class InProgress(RelayError):
    """A request with this idempotency key is still being handled."""

    http_status, label = 409, "in_progress"
    headers = {"Retry-After": "5"}

    def __init__(self, message="A request with this idempotency key is still being handled; retry shortly."):
        super().__init__(message)


class Invalid(RelayError):
    """Validation failed: marshmallow's field-to-messages shape in `errors`; nothing was sent."""

    http_status, label = 422, "rejected"

    def __init__(self, errors, message="Validation failed; nothing was sent."):
        super().__init__(message, errors)
        self.messages = errors


class KeyReused(Invalid):
    """An idempotency key came back with a different request (IETF Idempotency-Key draft: 422)."""

    def __init__(self):
        super().__init__({"idempotency_key": ["This key was already used for a different request."]},
                         "This idempotency key was used for a different request; nothing was sent.")


class RateLimited(RelayError):
    """Too many requests from this client or credential; nothing was sent. Retry-After: when to come back."""

    http_status, label = 429, "rate_limited"

    def __init__(self, message, retry_after=60):
        super().__init__(message)
        self.headers = {"Retry-After": str(max(1, int(retry_after)))}


class Unavailable(RelayError):
    """We cannot take the request now; the caller should retry (503 with Retry-After)."""

    http_status, label = 503, "failed"
    headers = {"Retry-After": "30"}


class NotConfigured(Unavailable):
    """A destination was asked for that has no credentials."""

    headers = {"Retry-After": "300"}


class StoreUnavailable(Unavailable):
    """The ledger cannot be written or read: nothing was accepted."""

    def __init__(self, reason=""):
        super().__init__("The delivery ledger is unavailable; retry shortly. Anything already accepted is "
                         "still delivered.")
        self.reason = reason
