"""Every failure becomes a JSON answer (or a page for a browser); no traceback reaches a caller."""

import logging

import time

from flask import current_app, g, request
from marshmallow import ValidationError
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from dispatch import NotConfigured
from schemas.inbound import ShapeError
from store.ledger import InProgress
from webhooks.answers import respond
from webhooks.auth import NotAuthorized
from webhooks.intake import BadBody

log = logging.getLogger("unsub_relay.web")


def _answer(status, body, headers=None):
    if request.path.startswith("/hooks/"):
        _log_refusal(status, body)
    return respond(status, body, current_app.config["SETTINGS"], headers=headers)


def _log_refusal(status, body):
    """The one line for a webhook that was refused: field names only, never their values."""
    started = g.get("started")
    duration = (time.monotonic() - started) * 1000 if started else 0.0
    fields = ",".join(str(k) for k in (body.get("errors") or {})) or "-"
    log.info("webhook route=%s http=%d status=%s fields=%s duration_ms=%.1f",
             request.path, status, body.get("status"), fields, duration)


def not_authorized(exc):
    return _answer(401, {"status": "unauthorized", "message": str(exc)}, {"WWW-Authenticate": "Bearer"})


def bad_body(exc):
    return _answer(exc.status, {"status": "invalid", "message": exc.message})


def invalid(exc):
    messages = exc.messages
    return _answer(422, {"status": "rejected", "message": "Validation failed; nothing was sent.",
                         "errors": messages})


def not_configured(exc):
    return _answer(503, {"status": "failed", "message": str(exc)}, {"Retry-After": "300"})


def in_progress(exc):
    return _answer(409, {"status": "in_progress", "message": "A request with this idempotency key is "
                         "still being handled; retry shortly."}, {"Retry-After": "5"})


def store_down(exc):
    log.error("ledger unavailable: %s", type(exc).__name__)
    return _answer(503, {"status": "failed", "message": "The delivery ledger is unavailable; retry shortly. "
                         "Anything already accepted is still delivered (run `flask db upgrade` if the ledger "
                         "was never created)."}, {"Retry-After": "30"})


def http_error(exc):
    return _answer(exc.code or 500, {"status": "error", "message": exc.description})


def unexpected(exc):
    log.exception("unhandled error")
    return _answer(500, {"status": "error", "message": "Internal error; nothing was lost that was accepted."})


def init_app(app):
    """Register the handlers, most specific first."""
    app.register_error_handler(NotAuthorized, not_authorized)
    app.register_error_handler(BadBody, bad_body)
    app.register_error_handler(ShapeError, invalid)
    app.register_error_handler(ValidationError, invalid)
    app.register_error_handler(NotConfigured, not_configured)
    app.register_error_handler(InProgress, in_progress)
    app.register_error_handler(SQLAlchemyError, store_down)
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(Exception, unexpected)
