"""The pages people see (confirm, result, error): rendering and security headers.

The style sits inline in the page and is allowed by its SHA-256 in the Content-Security-Policy, so the policy
can be `default-src 'none'` (no script, no request for anything else) and the page needs no static route.
The hash is computed from templates/pages.css rendered exactly as the page includes it.
"""

import base64
import hashlib
from pathlib import Path
from urllib.parse import urlsplit

import jinja2
from flask import make_response, render_template
from flask_babel import get_locale

TEMPLATES = Path(__file__).resolve().parent / "templates"
ERROR_STATUS = {"invalid_link": 400, "bot_check": 403, "rate_limited": 429}
GENERIC_ERROR_STATUS = 503


def _style_hash():
    css = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES)).get_template("pages.css").render()
    return "'sha256-" + base64.b64encode(hashlib.sha256(css.encode()).digest()).decode() + "'"


STYLE_SOURCE = _style_hash()


def _origin(url):
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else None


def page_headers(redirect_urls=()):
    """Headers for every page. `redirect_urls`: where a form post may be redirected (UNSUBSCRIBE_SUCCESS_URL
    and _FAILURE_URL): browsers apply the page's form-action to the redirect as well."""
    form_targets = ["'self'"] + sorted({o for o in map(_origin, filter(None, redirect_urls)) if o})
    policy = (f"default-src 'none'; style-src {STYLE_SOURCE}; form-action {' '.join(form_targets)}; "
              "base-uri 'none'; frame-ancestors 'none'")
    return {"Content-Security-Policy": policy, "Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
            "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff"}


def render_page(template, status=200, headers=None, redirect_urls=(), **context):
    """A page in the request's language with the security headers (call inside a request)."""
    response = make_response(render_template(template, **context), status)
    response.headers.update(page_headers(redirect_urls))
    response.headers["Content-Language"] = str(get_locale())
    response.vary.add("Accept-Language")
    response.headers.update(headers or {})
    return response


def error_page(kind, status=None, headers=None):
    """error.html for `kind` (invalid_link 400, bot_check 403, rate_limited 429, else a generic 503)."""
    status = status or ERROR_STATUS.get(kind, GENERIC_ERROR_STATUS)
    return render_page("error.html", status, headers, kind=kind)
