"""GET/POST /console/login and POST /console/logout: a password, a lockout per client, sessions kept in the
ledger (the cookie holds a random id only; logout ends the session for every copy of the cookie)."""

import hmac
import logging
import math
import secrets

from flask import current_app, flash, redirect, render_template, request, session, url_for

from console.web import bp, client_digest, current_session, session_digest
from edge.clients import client_key
from edge.formats import age

log = logging.getLogger("unsub_relay.console")
def _next_page():
    """Where to go after logging in: a console path only (no open redirect)."""
    wanted = request.args.get("next", "")
    return wanted if wanted.startswith("/console/") and "//" not in wanted and "\\" not in wanted \
        else url_for("console.overview")


def _refuse(status, message, headers=None):
    return render_template("console/login.html", error=message), status, headers or {}


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The login form; a POST is admitted by the client's lockout, then the password is checked in
    constant time. No rate limiter here: its storage may be down, and the lockout is in the ledger."""
    if request.method == "GET":
        return render_template("console/login.html", error=None)
    client = client_digest(client_key(request.remote_addr))
    failures = current_app.extensions["login_failures"]
    wait = failures.admit(client)
    if wait:
        log.warning("console login refused: client %s locked for %.0f s after repeated failures",
                    client[:8], wait)
        return _refuse(429, f"Too many wrong passwords from your address: try again in {age(wait)}.",
                       {"Retry-After": str(math.ceil(wait))})
    given = request.form.get("password", "").encode("utf-8")
    expected = current_app.config["SETTINGS"].console_password.encode("utf-8")
    if not hmac.compare_digest(given, expected):
        current_app.extensions["reports"].record("login_refused", None, "wrong password")
        log.warning("console login refused: wrong password (client %s)", client[:8])
        return _refuse(401, "Wrong password.")
    failures.forget(client)
    _start_session()
    current_app.extensions["reports"].record("login", None, "ok")
    log.info("console login")
    return redirect(_next_page(), 303)


def _start_session():
    """A fresh random session id (and CSRF token) after login: no fixation. The cookie holds the id alone;
    the ledger its digest, the expiry and, later, the last searched address."""
    session_id = secrets.token_urlsafe(32)
    lifetime = current_app.permanent_session_lifetime
    current_app.extensions["console_sessions"].start(session_digest(session_id), lifetime)
    session.clear()
    session.permanent = True
    session["sid"] = session_id


@bp.post("/logout")
def logout():
    """End the session in the ledger (a copy of the cookie is worth nothing after this) and in the cookie."""
    if current_session() is not None:
        current_app.extensions["console_sessions"].end(session_digest(session["sid"]))
    session.clear()
    flash("Logged out.")
    return redirect(url_for("console.login"), 303)
