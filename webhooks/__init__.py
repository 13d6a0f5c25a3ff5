"""The HTTP edge: webhook routes, health checks and error answers."""


def init_app(app):
    """Register the webhook and health blueprints and the JSON error handlers."""
    from webhooks import errors, health, routes

    app.register_blueprint(routes.bp)
    app.register_blueprint(health.bp)
    errors.init_app(app)
