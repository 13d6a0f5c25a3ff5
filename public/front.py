"""GET / (what this service is and how it stands, no secrets) and GET /docs (the README, rendered)."""

import functools
import os
from datetime import datetime, timezone

import markdown
from flask import Blueprint, current_app, render_template

from edge.formats import age as ago
from pages import allow_logo

bp = Blueprint("front", __name__)
SETUP = (("Try it without accounts", "try-it-without-accounts-sandbox"), ("Connect Zapier", "connect-zapier"),
         ("Connect your landing page", "connect-your-landing-page"), ("Configuration", "configuration"),
         ("Deploy to Heroku", "deploy-to-heroku"), ("Deploy to Render", "deploy-to-render"),
         ("Deploy to Railway", "deploy-to-railway"), ("Deploy to Fly.io", "deploy-to-flyio"),
         ("Command line", "command-line"))
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


@bp.get("/")
def front():
    operations = current_app.extensions["operations"]
    ready, health = operations.readiness()
    recent, worker = worker_state(operations)
    html = render_template("front.html", health=health, ready=ready, worker=worker, worker_recent=recent,
                           setup=SETUP, settings=current_app.config["SETTINGS"])
    policy = allow_logo(PAGE_HEADERS["Content-Security-Policy"])  # the brand logo's origin, if any
    return html, 200, {**PAGE_HEADERS, "Content-Security-Policy": policy,
                       "Content-Type": "text/html; charset=utf-8"}


@functools.cache
def readme_html():
    """README.md as HTML, headings with ids, built once per process."""
    with open(os.path.join(current_app.root_path, "README.md"), encoding="utf-8") as f:
        return markdown.markdown(f.read(), extensions=["tables", "fenced_code", "toc"])


@bp.get("/docs")
def docs():
    html = render_template("docs.html", body=readme_html())
    return html, 200, {**PAGE_HEADERS, "Content-Type": "text/html; charset=utf-8"}
