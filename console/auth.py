"""GET/POST /console/login and POST /console/logout: a password, a rate limit and a lockout."""

import hmac
import logging

from flask import current_app, flash, redirect, render_template, request, session, url_for

from console.web import bp, operator_mark

log = logging.getLogger("unsub_relay.console")
LOGIN_RATE = "5 per minute"  # per client address (Flask-Limiter, the app's storage)


def _next_page():
    """Where to go after logging in: a console path only (no open redirect)."""
    wanted = request.args.get("next", "")
    return wanted if wanted.startswith("/console/") and "//" not in wanted and "\\" not in wanted \
        else url_for("console.overview")


def _refuse(status, message, headers=None):
    return render_template("console/login.html", error=message), status, headers or {}


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The login form; a POST is checked against the lockout, then the password in constant time."""
    if request.method == "GET":
        return render_template("console/login.html", error=None)
    with current_app.extensions["rate_limiter"].limit(LOGIN_RATE, scope="console-login"):
        return _check_password()


def _check_password():
    reports = current_app.extensions["reports"]
    locked = reports.locked_for()
    if locked:
        log.warning("console login refused: locked for %.0f s after repeated failures", locked)
        return _refuse(429, f"Too many wrong passwords: the login is locked for {locked / 60:.0f} more "
                            "minutes.", {"Retry-After": str(int(locked))})
    given = request.form.get("password", "").encode("utf-8")
    expected = current_app.config["SETTINGS"].console_password.encode("utf-8")
    if not hmac.compare_digest(given, expected):
        reports.record("login_refused", None, "wrong password")
        log.warning("console login refused: wrong password")
        return _refuse(401, "Wrong password.")
    session.clear()  # a fresh session (and CSRF token) after login: no fixation
    session.permanent = True
    session["operator"] = operator_mark()
    reports.record("login", None, "ok")
    log.info("console login")
    return redirect(_next_page(), 303)


@bp.post("/logout")
def logout():
    session.clear()
    flash("Logged out.")
    return redirect(url_for("console.login"), 303)
