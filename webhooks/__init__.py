"""The HTTP edge: webhook routes, health checks and error answers."""


def init_app(app):
    """Register the webhook and health blueprints and the JSON error handlers."""
    import i18n
    from webhooks import errors, health, routes

    i18n.init_app(app)  # temporary home until create_app calls it (result.html is translated)

    app.register_blueprint(routes.bp)
    app.register_blueprint(health.bp)
    errors.init_app(app)
