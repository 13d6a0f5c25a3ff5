"""GET /metrics (Bearer METRICS_TOKEN) and the after-request hook that counts webhooks answered."""

import hmac
import os

from flask import Blueprint, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess

from delivery import telemetry
from errors import StoreUnavailable

HOOKS_PREFIX = "/hooks/"


def registry():
    """Under gunicorn (PROMETHEUS_MULTIPROC_DIR set): a fresh registry merging every process's files, per
    scrape, as prometheus-client's multiprocess mode requires; otherwise this process's own registry."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    merged = CollectorRegistry()
    multiprocess.MultiProcessCollector(merged)
    return merged


def authorized(expected):
    """A Bearer token equal to METRICS_TOKEN, compared in constant time."""
    scheme, _, offered = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(offered.strip().encode(), expected.encode())


def make_blueprint(token, operations):
    """GET /metrics behind METRICS_TOKEN (`token`), the backlog gauges read through `operations`."""
    bp = Blueprint("metrics", __name__)

    @bp.get("/metrics")
    def scrape():
        """Prometheus text format; the backlog gauges read from the ledger now (left as they were if it
        blinks)."""
        if not authorized(token):
            return Response("a Bearer METRICS_TOKEN is required\n", 401, {"WWW-Authenticate": "Bearer"},
                            mimetype="text/plain")
        try:
            telemetry.refresh_backlog(operations)
        except StoreUnavailable:  # the scrape still answers; /readyz reports the store
            pass
        return Response(generate_latest(registry()), mimetype=CONTENT_TYPE_LATEST)

    return bp


def count_webhook(response):
    """After every request to a hook: count it by route, sender type (as the route read the body, or
    `unparsed` when it was refused before) and HTTP status."""
    if request.path.startswith(HOOKS_PREFIX) and request.method in ("POST", "PUT"):
        route = request.path[len(HOOKS_PREFIX):].strip("/") if request.url_rule is not None else "unknown"
        telemetry.webhook_answered(route, g.get("webhook_source", "unparsed"), response.status_code)
    return response
