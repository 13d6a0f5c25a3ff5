"""GET /healthz (the process is up) and GET /readyz (configuration, store and backlog are fine)."""

from flask import Blueprint, current_app, jsonify
from sqlalchemy.exc import SQLAlchemyError

from commands import check_report
from webhooks.auth import configured_methods

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


def readiness(app):
    """(ready, report): configuration valid, store reachable, oldest pending delivery young enough."""
    settings = app.config["SETTINGS"]
    report = check_report(settings, configured_methods(settings))
    problems = list(report["problems"])
    store = {"reachable": False}
    try:
        age = app.extensions["ledger"].oldest_pending_age()
        store = {"reachable": True, "oldest_pending_seconds": round(age, 1)}
        if age >= settings.pending_alert_seconds:
            problems.append(f"the oldest pending delivery is {age / 3600:.1f} h old: is the worker running?")
    except SQLAlchemyError as exc:
        problems.append(f"the store is unreachable or not migrated ({type(exc).__name__}): "
                        "check DATABASE_URL and run `flask db upgrade`")
    body = {"status": "ok" if not problems else "unhealthy", "problems": problems, "store": store,
            "destinations": {k: v["configured"] for k, v in report["destinations"].items()}}
    return not problems, body


@bp.get("/readyz")
def readyz():
    ready, body = readiness(current_app)
    return jsonify(body), 200 if ready else 503
