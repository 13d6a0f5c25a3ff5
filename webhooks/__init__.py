"""The HTTP edge: webhook routes, health checks and error answers."""


def init_app(app, relay):
    """Register the webhook and health blueprints and the JSON error handlers."""
    from webhooks import errors, events, health, routes

    app.register_blueprint(routes.make_blueprint(relay))
    app.register_blueprint(events.make_blueprint(relay))
    app.register_blueprint(health.make_blueprint(relay.operations, relay.limits))
    errors.init_app(app, relay.settings)
