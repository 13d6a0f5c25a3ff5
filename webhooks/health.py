"""GET /healthz (the process is up) and GET /readyz (configuration, store and backlog are fine)."""

from flask import Blueprint, current_app, jsonify

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    operations = current_app.extensions["operations"]
    operations.check_worker_silent()  # the worker-silent alert, in a background thread: never slows this
    ready, body = operations.readiness()
    return jsonify(body), 200 if ready else 503
