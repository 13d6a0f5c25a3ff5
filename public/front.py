"""GET / (what this service is and how it stands, no secrets); its setup links point into the documentation
site at /docs (docsite/)."""

from datetime import datetime, timezone

from flask import Blueprint, render_template

from edge.formats import age as ago
from pages import allow_logo

SETUP = (("Try it without accounts", "sandbox/"), ("Connect Zapier", "setup/zapier/"),
         ("Connect your landing page", "setup/"), ("A plain HTML form", "setup/html-form/"),
         ("Production checklist", "deploy/checklist/"), ("Configuration", "configuration/"),
         ("Deploy to Heroku", "deploy/heroku/"), ("Deploy to Render", "deploy/render/"),
         ("Deploy to a VPS", "deploy/vps/"), ("Command line", "reference/cli/"))
PAGE_HEADERS = {"Cache-Control": "no-store", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
                "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'"}


def worker_state(operations):
    """(seen recently, text) from the workers' heartbeat."""
    seen = operations.worker_seen()
    if not seen or not seen.get("seen_at"):
        return False, "no worker has been seen yet: start `flask worker` (the Procfile's worker line)"
    seen_at = datetime.fromisoformat(seen["seen_at"].removesuffix("Z"))
    age = (datetime.now(timezone.utc).replace(tzinfo=None) - seen_at).total_seconds()
    return age < 120, f"last seen {ago(age)} ago"


def make_blueprint(operations, settings):
    """GET / over this app's operations (readiness, the worker's heartbeat) and settings (what is set up)."""
    bp = Blueprint("front", __name__)

    @bp.get("/")
    def front():
        ready, health = operations.readiness()
        recent, worker = worker_state(operations)
        html = render_template("front.html", health=health, ready=ready, worker=worker, worker_recent=recent,
                               setup=SETUP, settings=settings)
        policy = allow_logo(PAGE_HEADERS["Content-Security-Policy"])  # the brand logo's origin, if any
        return html, 200, {**PAGE_HEADERS, "Content-Security-Policy": policy,
                           "Content-Type": "text/html; charset=utf-8"}

    return bp
