"""The console's blueprint and what every page shares: the login guard, CSRF, error pages, headers."""

import hashlib
import hmac
import logging

from flask import Blueprint, current_app, g, redirect, render_template, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFError, generate_csrf, validate_csrf
from werkzeug.exceptions import HTTPException
from wtforms import ValidationError

from console import formats
from edge.formats import age
from errors import RelayError, StoreUnavailable

log = logging.getLogger("unsub_relay.console")
bp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates",
               static_folder="static")
OPEN_ENDPOINTS = ("console.login", "console.static")
PAGE_HEADERS = {
    "Cache-Control": "no-store",  # pages carry addresses: nothing kept by a shared computer or proxy
    "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
}


class ConsoleSessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie session, `Secure` whenever the browser reached us over HTTPS, directly or
    through the platform's proxy (X-Forwarded-Proto can only add the flag, never remove it)."""

    def get_cookie_secure(self, app):
        forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
        return request.is_secure or forwarded == "https"


def _keyed(message):
    """HMAC-SHA256 of `message` under SECRET_KEY and CONSOLE_PASSWORD: changing either one leaves every
    stored digest unmatched (everybody is logged out), and a digest reveals neither the message nor them."""
    settings = current_app.config["SETTINGS"]
    key = settings.secret_key.encode() + b"\0console:" + settings.console_password.encode()
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def session_digest(session_id):
    """What console_sessions keeps of the cookie's random session id (never the id itself)."""
    return _keyed("session:" + session_id)


def client_digest(client):
    """What login_failures keeps of a client's address (never the address itself)."""
    return _keyed("client:" + client)


def current_session():
    """The console_sessions row ({search_address}) of this request's cookie, or None (once per request)."""
    if "console_session" not in g:
        session_id = session.get("sid")
        g.console_session = (current_app.extensions["console_sessions"].find(session_digest(session_id))
                             if isinstance(session_id, str) and session_id else None)
    return g.console_session


def logged_in():
    return current_session() is not None


@bp.before_request
def guard():
    """Every POST carries a valid CSRF token; every page but the login wants a logged-in session."""
    if request.method == "POST":
        try:
            validate_csrf(request.form.get("csrf_token"))
        except ValidationError as exc:
            raise CSRFError(str(exc)) from None
    if request.endpoint not in OPEN_ENDPOINTS and not logged_in():
        return redirect(url_for("console.login", next=request.path if request.method == "GET" else None), 303)
    return None


@bp.after_request
def headers(response):
    response.headers.update(PAGE_HEADERS)
    return response


@bp.context_processor
def page_globals():
    try:
        signed_in = logged_in()
    except StoreUnavailable:  # the 503 page itself: shown without the menu
        signed_in = False
    return {"csrf_token": generate_csrf, "signed_in": signed_in}


@bp.app_template_filter("when")
def when_filter(value):
    return formats.when(value)


@bp.app_template_filter("age")
def age_filter(seconds):
    return age(seconds)


@bp.errorhandler(HTTPException)
def http_error(exc):
    """A console page for every refusal (CSRF 400, unknown delivery 404, too many logins 429)."""
    headers = {"Retry-After": exc.retry_after} if getattr(exc, "retry_after", None) else {}
    page = render_template("console/error.html", code=exc.code, title=exc.name, message=exc.description)
    return page, exc.code or 500, headers


@bp.errorhandler(RelayError)
def relay_error(exc):
    """The store is unreachable (503) or another error of the tree: said on a page, never a traceback."""
    log.error("console: %s (%s)", exc.label, getattr(exc, "reason", ""))
    page = render_template("console/error.html", code=exc.http_status, title="Unavailable",
                           message=exc.message)
    return page, exc.http_status, exc.headers
