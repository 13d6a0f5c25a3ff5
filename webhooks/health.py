"""GET /healthz (the process is up) and GET /readyz (configuration, store and backlog are fine)."""

from flask import Blueprint, jsonify


def make_blueprint(operations, limits):
    """The two health routes over this app's operations and its rate limits."""
    bp = Blueprint("health", __name__)

    @bp.get("/healthz")
    def healthz():
        return jsonify(status="ok")

    @bp.get("/readyz")
    def readyz():
        """Ready or not as operations say; the rate-limit store is shown beside, and a degraded one (this
        process counting alone) never makes the service unready: intake goes on without it."""
        operations.check_worker_silent()  # the worker-silent alert, in a background thread: never slows this
        ready, body = operations.readiness()
        body["rate_limits"] = limits.health()
        return jsonify(body), 200 if ready else 503

    return bp
