"""The operator console at /console: off (404) unless CONSOLE_PASSWORD and SECRET_KEY are set."""

from datetime import timedelta

from delivery.reports import Reports

SESSION_HOURS = 12


def init_app(app):
    """Register the console when both secrets are set: cookie, sessions, lockout, reports, pages."""
    settings = app.config["SETTINGS"]
    if not (settings.console_password and settings.secret_key):
        return
    from console import actions, auth, pages  # noqa: F401 - their routes join the blueprint
    from console.web import ConsoleSessionInterface, bp

    app.secret_key = settings.secret_key
    app.config.update(SESSION_COOKIE_NAME="relay_console", SESSION_COOKIE_PATH="/console",
                      SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                      PERMANENT_SESSION_LIFETIME=timedelta(hours=SESSION_HOURS),
                      WTF_CSRF_TIME_LIMIT=None)  # the token lives as long as the session
    app.session_interface = ConsoleSessionInterface()
    # Sessions and the per-client login lockout live in the ledger: they hold across processes, and logout
    # ends a session for every copy of its cookie.
    store = app.extensions["delivery"].store
    app.extensions["console_sessions"], app.extensions["login_failures"] = store.console_sessions, store.login_failures
    app.extensions["reports"] = Reports(app.extensions["delivery"])
    app.register_blueprint(bp)
