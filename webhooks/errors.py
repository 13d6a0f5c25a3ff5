"""The app edge's one mapping from errors to answers: JSON (or a page for a browser), never a traceback."""

import logging
import time

from flask import current_app, g, request
from werkzeug.exceptions import HTTPException

from errors import RelayError, StoreUnavailable
from webhooks.answers import respond_body
from webhooks.logs import log_safe

log = logging.getLogger("unsub_relay.web")


PAGE_ENDPOINTS = ("links.unsubscribe_page", "links.unsubscribe_post")  # a person's link: always a page


def _answer(status, body, headers=None):
    if request.path.startswith("/hooks/"):
        _log_refusal(status, body)
    return respond_body(status, body, current_app.config["SETTINGS"], headers=headers,
                        page=request.endpoint in PAGE_ENDPOINTS)


def _log_refusal(status, body):
    """The one line for a webhook that was refused: field names only, never their values."""
    started = g.get("started")
    duration = (time.monotonic() - started) * 1000 if started else 0.0
    fields = ",".join(log_safe(str(k), 60) for k in (body.get("errors") or {})) or "-"
    log.info("webhook route=%s http=%d status=%s fields=%s duration_ms=%.1f",
             log_safe(request.path), status, body.get("status"), fields, duration)


def relay_error(exc):
    """Every error of the tree in errors.py: its own status, label and headers."""
    if isinstance(exc, StoreUnavailable):
        log.error("ledger unavailable: %s", exc.reason)
    return _answer(exc.http_status, exc.body(), exc.headers)


def http_error(exc):
    return _answer(exc.code or 500, {"status": "error", "message": exc.description})


def unexpected(exc):
    log.exception("unhandled error")
    return _answer(500, {"status": "error", "message": "Internal error; nothing was lost that was accepted."})


def init_app(app):
    """One handler per root: ours, Werkzeug's, and anything else."""
    app.register_error_handler(RelayError, relay_error)
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(Exception, unexpected)
