"""The app edge's one mapping from errors to answers: JSON (or a page for a browser), never a traceback.

The app registers ErrorAnswers for every view; a person's views (a signed link's page and button) are
wrapped in as_pages by the blueprint that owns them, so whatever goes wrong there is a page."""

import logging
import time
from functools import wraps

from flask import g, request
from werkzeug.exceptions import HTTPException

from errors import RelayError, StoreUnavailable
from webhooks.answers import respond_body
from webhooks.logs import log_safe

log = logging.getLogger("unsub_relay.web")


def _log_refusal(status, body):
    """The one line for a webhook that was refused: field names only, never their values."""
    started = g.get("started")
    duration = (time.monotonic() - started) * 1000 if started else 0.0
    fields = ",".join(log_safe(str(k), 60) for k in (body.get("errors") or {})) or "-"
    log.info("webhook route=%s http=%d status=%s fields=%s duration_ms=%.1f",
             log_safe(request.path), status, body.get("status"), fields, duration)


class ErrorAnswers:
    """One handler per root (ours, Werkzeug's, anything else) for one app's settings. `page`: always a page
    (a person's link), else JSON unless a browser posted a form."""

    def __init__(self, settings, page=False):
        self.settings, self.page = settings, page

    def register(self, target):
        """Put the three handlers on an app (or a blueprint, for the errors of its own views)."""
        target.register_error_handler(RelayError, self.relay_error)
        target.register_error_handler(HTTPException, self.http_error)
        target.register_error_handler(Exception, self.unexpected)

    def answer(self, exc):
        """The answer for any exception, as the registered handlers would give it."""
        if isinstance(exc, RelayError):
            return self.relay_error(exc)
        if isinstance(exc, HTTPException):
            return self.http_error(exc)
        return self.unexpected(exc)

    def relay_error(self, exc):
        """Every error of the tree in errors.py: its own status, label and headers."""
        if isinstance(exc, StoreUnavailable):
            log.error("ledger unavailable: %s", exc.reason)
        return self._answer(exc.http_status, exc.body(), exc.headers)

    def http_error(self, exc):
        return self._answer(exc.code or 500, {"status": "error", "message": exc.description})

    def unexpected(self, exc):
        log.exception("unhandled error")
        return self._answer(500, {"status": "error",
                                  "message": "Internal error; nothing was lost that was accepted."})

    def _answer(self, status, body, headers=None):
        if request.path.startswith("/hooks/"):
            _log_refusal(status, body)
        return respond_body(status, body, self.settings, headers=headers, page=self.page)


def as_pages(settings):
    """A decorator for a person's views: any error in them (a refused limit included, when the limit sits
    inside) is answered as a page in their language, never as JSON."""
    pages = ErrorAnswers(settings, page=True)

    def decorate(view):
        @wraps(view)
        def answered(*args, **kwargs):
            try:
                return view(*args, **kwargs)
            except Exception as exc:  # the roots the app's handlers cover, answered as pages instead
                return pages.answer(exc)
        return answered
    return decorate


def init_app(app, settings):
    """The app's answers to every error."""
    ErrorAnswers(settings).register(app)
