"""The operator console at /console: off (404) unless CONSOLE_PASSWORD and SECRET_KEY are set."""

from datetime import timedelta

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from delivery.reports import Reports

SESSION_HOURS = 12


def init_app(app):
    """Register the console when both secrets are set: session cookie, login limiter, reports, pages."""
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
    # In memory, per process: with several processes an address gets the rate once per process; the
    # lockout (refused logins counted in the store) holds across all of them.
    app.extensions["console_limiter"] = Limiter(get_remote_address, app=app, storage_uri="memory://")
    app.extensions["reports"] = Reports(app.extensions["delivery"])
    app.register_blueprint(bp)
