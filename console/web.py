"""The console's blueprint and what every page shares: the login guard, CSRF, error pages, headers."""

import hashlib
import hmac
import logging

from flask import Blueprint, g, redirect, render_template, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFError, generate_csrf, validate_csrf
from werkzeug.exceptions import HTTPException
from wtforms import ValidationError

from console import formats
from edge.formats import age
from errors import RelayError, StoreUnavailable

log = logging.getLogger("unsub_relay.console")
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


class Access:
    """Who is signed in: the cookie holds a random session id, the ledger's console sessions its keyed
    digest. The key is SECRET_KEY and CONSOLE_PASSWORD: changing either one leaves every stored digest
    unmatched (everybody is logged out), and a digest reveals neither the message nor them."""

    def __init__(self, settings, sessions):
        self.key = settings.secret_key.encode() + b"\0console:" + settings.console_password.encode()
        self.sessions = sessions

    def _keyed(self, message):
        return hmac.new(self.key, message.encode(), hashlib.sha256).hexdigest()

    def session_digest(self, session_id):
        """What console_sessions keeps of the cookie's random session id (never the id itself)."""
        return self._keyed("session:" + session_id)

    def client_digest(self, client):
        """What login_failures keeps of a client's address (never the address itself)."""
        return self._keyed("client:" + client)

    def current_session(self):
        """The console_sessions row ({search_address}) of this request's cookie, or None (once per request:
        g.console_session caches it within this blueprint's request)."""
        if "console_session" not in g:
            session_id = session.get("sid")
            g.console_session = (self.sessions.find(self.session_digest(session_id))
                                 if isinstance(session_id, str) and session_id else None)
        return g.console_session

    def logged_in(self):
        return self.current_session() is not None

    def guard(self):
        """Every POST carries a valid CSRF token; every page but the login wants a logged-in session."""
        if request.method == "POST":
            try:
                validate_csrf(request.form.get("csrf_token"))
            except ValidationError as exc:
                raise CSRFError(str(exc)) from None
        if request.endpoint not in OPEN_ENDPOINTS and not self.logged_in():
            return redirect(url_for("console.login", next=request.path if request.method == "GET" else None),
                            303)
        return None

    def page_globals(self):
        try:
            signed_in = self.logged_in()
        except StoreUnavailable:  # the 503 page itself: shown without the menu
            signed_in = False
        return {"csrf_token": generate_csrf, "signed_in": signed_in}


def make_blueprint(access):
    """The console's blueprint: `access` guards every page; the rooms' classes add their routes to it."""
    bp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates",
                   static_folder="static")
    bp.before_request(access.guard)
    bp.after_request(add_page_headers)
    bp.context_processor(access.page_globals)
    bp.add_app_template_filter(formats.when, "when")
    bp.add_app_template_filter(age, "age")
    bp.register_error_handler(HTTPException, http_error)
    bp.register_error_handler(RelayError, relay_error)
    return bp


def add_page_headers(response):
    response.headers.update(PAGE_HEADERS)
    return response


def http_error(exc):
    """A console page for every refusal (CSRF 400, unknown delivery 404, too many logins 429)."""
    headers = {"Retry-After": exc.retry_after} if getattr(exc, "retry_after", None) else {}
    page = render_template("console/error.html", code=exc.code, title=exc.name, message=exc.description)
    return page, exc.code or 500, headers


def relay_error(exc):
    """The store is unreachable (503) or another error of the tree: said on a page, never a traceback."""
    log.error("console: %s (%s)", exc.label, getattr(exc, "reason", ""))
    page = render_template("console/error.html", code=exc.http_status, title="Unavailable",
                           message=exc.message)
    return page, exc.http_status, exc.headers
