"""A test-only Flask app that serves the public pages the way the /u/<token> routes will: real templates,
real catalogues, real link tokens. The lead's routes replace it; the pages and headers are the same."""

import os
import time

from flask import Flask, redirect, request

import i18n
import pages
from links.tokens import InvalidLink, LinkSigner
from webhooks.logs import mask

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECRET = "pages-test-secret-0123456789abcdefghij"


def make_pages_app(instance_path, redirect_to=None, default_locale=None, list_redirect=True):
    """`redirect_to`: a URL the button's POST answers 303 to (as with UNSUBSCRIBE_SUCCESS_URL);
    `list_redirect`: whether its origin is passed to page_headers (False shows what browsers do without)."""
    app = Flask("unsub_pages_test", root_path=ROOT, instance_path=str(instance_path))
    app.config["DEFAULT_LOCALE"] = default_locale or os.environ.get("DEFAULT_LOCALE", "en")
    i18n.init_app(app)
    signer = LinkSigner(SECRET)
    seen = app.extensions["seen_languages"] = []
    app.before_request(lambda: seen.append(request.headers.get("Accept-Language")))
    add_link_routes(app, signer, redirect_to, (redirect_to,) if redirect_to and list_redirect else ())
    add_other_pages(app)
    return app, signer


def add_link_routes(app, signer, redirect_to, redirect_urls):
    @app.get("/u/<token>")
    def confirm(token):
        try:
            claims = signer.verify(token, time.time())
        except InvalidLink:
            return pages.error_page("invalid_link")
        return pages.render_page("confirm.html", masked=mask(claims.target), redirect_urls=redirect_urls)

    @app.post("/u/<token>")
    def unsubscribe(token):
        try:
            signer.verify(token, time.time())
        except InvalidLink:
            return pages.error_page("invalid_link")
        if redirect_to:
            return redirect(redirect_to, 303)
        return pages.render_page("result.html", ok=True, body={"status": "unsubscribed"})


def add_other_pages(app):
    @app.get("/failed")
    def failed():
        body = {"status": "invalid", "message": "Validation failed",
                "errors": {"email": ["Not a valid email."]}}
        return pages.render_page("result.html", 422, ok=False, body=body)

    @app.get("/error/<kind>")
    def error(kind):
        return pages.error_page(kind, headers={"Retry-After": "60"} if kind == "rate_limited" else None)
