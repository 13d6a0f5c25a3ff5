"""The app edge's one mapping from answers to HTTP: status codes, JSON, pages and redirects for people."""

from urllib.parse import urlsplit

from flask import jsonify, redirect, request

from pages import error_page, render_page
from status import DRY_RUN, FAILED, QUEUED, REJECTED, SUCCESSES, UNSUBSCRIBED
from webhooks.intake import FORM, MULTIPART

# An answer's top-level status -> HTTP: we or the vendor's answer at fault, refused data, accepted for later.
HTTP_STATUS = {FAILED: 502, REJECTED: 422, QUEUED: 202}
# What a person is told went through: queued is accepted, and the worker delivers it.
PAGE_OK = {*SUCCESSES, QUEUED, DRY_RUN, "ok"}
FORM_TYPES = (FORM, MULTIPART)
ERROR_PAGES = {429: "rate_limited", 403: "bot_check", 503: "unavailable"}
# What a public caller is told: every success reads "unsubscribed". "not_subscribed" would tell anyone who
# types an address whether it is on a list; vendor codes, texts and IDs are no business of a public page.
PUBLIC_STATUS = {status: UNSUBSCRIBED for status in SUCCESSES}


def http_status(answer_status):
    """The HTTP status for an answer's top-level status (200 for every success and dry runs)."""
    return HTTP_STATUS.get(answer_status, 200)


def wants_page(one_click=False):
    """A person's browser posted a form (and it is no RFC 8058 one-click POST, which never redirects)."""
    if request.mimetype not in (FORM, MULTIPART) or one_click:
        return False
    return request.accept_mimetypes.best_match(["application/json", "text/html"]) == "text/html"


def safe_redirect(url, settings):
    """`url` if it points at an allowed host over http(s), else None: no open redirect."""
    if not url:
        return None
    try:
        parts = urlsplit(url)
        host, _ = (parts.hostname or "").lower(), parts.port  # .port raises for a port out of range
    except ValueError:  # not a URL at all (an unclosed IPv6 bracket, a bad port)
        return None
    if parts.scheme in ("http", "https") and host and host in settings.allowed_redirect_hosts:
        return url
    return None


def respond_body(status, body, settings, redirect_to=None, headers=None, page=False, one_click=False):
    """JSON for machines; for a person's browser (or `page`) a 303 to the configured page, or a page in
    their language. A `one_click` POST (RFC 8058) is answered in JSON whatever it accepts."""
    if settings.sandbox:  # announced in every answer: nothing reached a real vendor
        body = {**body, "sandbox": True}
    if page or wants_page(one_click):
        return _page(status, body, settings, redirect_to, headers)
    response = jsonify(body)
    response.status_code = status
    response.headers.update(headers or {})
    return response


def _page(status, body, settings, redirect_to, headers):
    if status in ERROR_PAGES:
        return error_page(ERROR_PAGES[status], headers=headers)
    ok = body.get("status") in PAGE_OK
    target = (safe_redirect(redirect_to, settings) if ok else None) or \
        (settings.success_url if ok else settings.failure_url)
    if target:
        return redirect(target, 303)
    return render_page("result.html", 200 if ok else status, headers,
                       (settings.success_url, settings.failure_url), ok=ok, body=body)


def public_body(body):
    """A delivery answer as a public caller (a form key) sees it: the request id and the outcome in neutral
    words, one entry per result, and nothing a vendor said (no code, text, destination or delivery id)."""
    results = [{"status": PUBLIC_STATUS.get(r["status"], r["status"])} for r in body["results"]]
    return {"id": body["id"], "status": PUBLIC_STATUS.get(body["status"], body["status"]), "results": results}


def respond(answer, settings, redirect_to=None, page=False, public=False, one_click=False):
    """The HTTP answer for a delivery service Answer; a replay says so in a header. `public`: the caller
    holds no server credential, and gets public_body()."""
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else None
    body = public_body(answer.body) if public else answer.body
    return respond_body(http_status(body["status"]), body, settings, redirect_to, headers, page, one_click)
