"""The metrics edge: GET /metrics for Prometheus (off unless METRICS_TOKEN is set), the count of every
webhook answered, the worker's own metrics port, and gunicorn's multiprocess hooks (metrics/hooks.py).

Nothing here imports prometheus-client at module level: gunicorn.conf.py imports metrics.hooks in the
master, which must not fix prometheus-client's storage before on_starting has chosen it.
"""


def init_app(app, relay):
    """Count every webhook answered; serve /metrics when METRICS_TOKEN is set."""
    from metrics.routes import count_webhook, make_blueprint

    app.after_request(count_webhook)
    if relay.settings.metrics_token:
        app.register_blueprint(make_blueprint(relay.settings.metrics_token, relay.operations))


def serve_worker(settings):
    """In `flask worker`: expose the same metrics on METRICS_PORT (all interfaces) when it is set; returns
    (server, thread) to stop it with, or None."""
    if not settings.metrics_port:
        return None
    from prometheus_client import start_http_server

    from metrics.routes import registry

    return start_http_server(settings.metrics_port, registry=registry())
