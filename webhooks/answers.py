"""The app edge's one mapping from outcomes to HTTP answers, JSON pages and redirects."""

from urllib.parse import urlsplit

from flask import g, jsonify, redirect, render_template, request

from webhooks.intake import FORM, MULTIPART

SEVERITY = ("failed", "rejected", "queued", "unsubscribed", "already_unsubscribed", "not_subscribed")
SUCCESS = {"unsubscribed", "already_unsubscribed", "not_subscribed", "dry_run", "ok"}


def http_status(outcomes):
    """502 when we or the upstream's answer are at fault, 422 for refused data, 202 queued, else 200."""
    statuses = {o.status for o in outcomes}
    if "failed" in statuses:
        return 502
    if "rejected" in statuses:
        return 422
    if "queued" in statuses:
        return 202
    return 200


def overall(outcomes):
    """The most serious status among the outcomes."""
    statuses = {o.status for o in outcomes}
    return next((s for s in SEVERITY if s in statuses), "unsubscribed")


def build(request_id, outcomes, batch):
    """(HTTP status, flat JSON body) for a handled webhook."""
    body = {"id": request_id, "status": overall(outcomes),
            "results": [o.as_dict(batch) for o in outcomes]}
    return http_status(outcomes), body


def wants_page():
    """A person's browser posted a form (and it is no RFC 8058 one-click POST, which never redirects)."""
    if request.mimetype not in (FORM, MULTIPART) or g.get("one_click"):
        return False
    return request.accept_mimetypes.best_match(["application/json", "text/html"]) == "text/html"


def safe_redirect(url, settings):
    """`url` if it points at an allowed host over http(s), else None: no open redirect."""
    if not url:
        return None
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme in ("http", "https") and host and host in settings.allowed_redirect_hosts:
        return url
    return None


def respond(status, body, settings, redirect_to=None, headers=None):
    """JSON for machines; for a person's browser a 303 to the configured page, or a small page."""
    if wants_page():
        ok = body.get("status") in SUCCESS
        target = (safe_redirect(redirect_to, settings) if ok else None) or \
            (settings.success_url if ok else settings.failure_url)
        if target:
            return redirect(target, 303)
        html = render_template("result.html", ok=ok, body=body)
        return html, (200 if ok else status), {"Content-Type": "text/html; charset=utf-8"}
    response = jsonify(body)
    response.status_code = status
    response.headers.update(headers or {})
    return response
