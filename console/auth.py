"""GET/POST /console/login and POST /console/logout: a password, a lockout per client, sessions kept in the
ledger (the cookie holds a random id only; logout ends the session for every copy of the cookie)."""

import hmac
import logging
import math
import secrets

from flask import flash, redirect, render_template, request, session, url_for

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


class Login:
    """Logging in and out: `access` (console/web.py) keys sessions and clients, `failures` is the ledger's
    lockout, `reports` the operator log, `lifetime` how long a session lasts."""

    def __init__(self, access, failures, reports, password, lifetime):
        self.access, self.failures, self.reports = access, failures, reports
        self.password, self.lifetime = password.encode("utf-8"), lifetime

    def register(self, bp):
        bp.add_url_rule("/login", "login", self.login, methods=["GET", "POST"])
        bp.add_url_rule("/logout", "logout", self.logout, methods=["POST"])

    def login(self):
        """The login form; a POST is admitted by the client's lockout, then the password is checked in
        constant time. No rate limiter here: its storage may be down, and the lockout is in the ledger."""
        if request.method == "GET":
            return render_template("console/login.html", error=None)
        client = self.access.client_digest(client_key(request.remote_addr))
        wait = self.failures.admit(client)
        if wait:
            log.warning("console login refused: client %s locked for %.0f s after repeated failures",
                        client[:8], wait)
            return _refuse(429, f"Too many wrong passwords from your address: try again in {age(wait)}.",
                           {"Retry-After": str(math.ceil(wait))})
        if not hmac.compare_digest(request.form.get("password", "").encode("utf-8"), self.password):
            self.reports.record("login_refused", None, "wrong password")
            log.warning("console login refused: wrong password (client %s)", client[:8])
            return _refuse(401, "Wrong password.")
        self.failures.forget(client)
        self._start_session()
        self.reports.record("login", None, "ok")
        log.info("console login")
        return redirect(_next_page(), 303)

    def _start_session(self):
        """A fresh random session id (and CSRF token) after login: no fixation. The cookie holds the id
        alone; the ledger its digest, the expiry and, later, the last searched address."""
        session_id = secrets.token_urlsafe(32)
        self.access.sessions.start(self.access.session_digest(session_id), self.lifetime)
        session.clear()
        session.permanent = True
        session["sid"] = session_id

    def logout(self):
        """End the session in the ledger (a copy of the cookie is worth nothing after this) and in the
        cookie."""
        if self.access.current_session() is not None:
            self.access.sessions.end(self.access.session_digest(session["sid"]))
        session.clear()
        flash("Logged out.")
        return redirect(url_for("console.login"), 303)
