"""The operator console at /console: off (404) unless CONSOLE_PASSWORD and SECRET_KEY are set."""

from datetime import timedelta

SESSION_HOURS = 12


def init_app(app, relay):
    """Register the console when both secrets are set: cookie, sessions, lockout, reports, pages."""
    settings = relay.settings
    if not (settings.console_password and settings.secret_key):
        return
    from console.actions import Actions
    from console.auth import Login
    from console.pages import Pages
    from console.proof import ProofPages
    from console.web import Access, ConsoleSessionInterface, make_blueprint

    lifetime = timedelta(hours=SESSION_HOURS)
    app.secret_key = settings.secret_key
    app.config.update(SESSION_COOKIE_NAME="relay_console", SESSION_COOKIE_PATH="/console",
                      SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                      PERMANENT_SESSION_LIFETIME=lifetime,
                      WTF_CSRF_TIME_LIMIT=None)  # the token lives as long as the session
    app.session_interface = ConsoleSessionInterface()
    # Sessions and the per-client login lockout live in the ledger: they hold across processes, and logout
    # ends a session for every copy of its cookie.
    access = Access(settings, relay.console_sessions)
    bp = make_blueprint(access)
    Login(access, relay.login_failures, relay.reports, settings.console_password, lifetime).register(bp)
    Pages(access, relay.reports, settings.secrets).register(bp)
    Actions(relay.reports, relay.operations).register(bp)
    ProofPages(access, relay.reports).register(bp)
    app.register_blueprint(bp)
