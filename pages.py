"""The pages people see (confirm, result, error): rendering and security headers.

The style sits inline in the page and is allowed by its SHA-256 in the Content-Security-Policy, so the policy
can be `default-src 'none'` (no script, no request for anything else) and the page needs no static route.
The hash is computed from templates/pages.css rendered exactly as the page includes it. The only other source
a page may load from is the operator's brand logo (BRAND_LOGO_URL), by its origin.
"""

import base64
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import jinja2
from flask import current_app, make_response, render_template
from flask_babel import get_locale

TEMPLATES = Path(__file__).resolve().parent / "templates"
ERROR_STATUS = {"invalid_link": 400, "bot_check": 403, "rate_limited": 429}
GENERIC_ERROR_STATUS = 503
BRAND_NAME_LIMIT, URL_LIMIT = 80, 2048
CONTACT_ADDRESS = re.compile(r"[^@\s<>\"'\\]+@[^@\s<>\"'\\]+\.[^@\s<>\"'\\]+")
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")  # would break a line, a header or an alert


@dataclass(frozen=True)
class Brand:
    """Who sends the mails, as the operator set it (checked by check_brand); every template gets it."""

    name: str = ""
    logo_url: str = ""
    contact: str = ""

    @property
    def contact_href(self):
        return f"mailto:{self.contact}" if CONTACT_ADDRESS.fullmatch(self.contact) else self.contact

    @property
    def image_origin(self):
        return _origin(self.logo_url) if self.logo_url else None


def _https(value):
    parts = urlsplit(value)
    return parts.scheme == "https" and bool(parts.hostname) and not (parts.username or parts.password) \
        and not CONTROL.search(value) and len(value) <= URL_LIMIT


def check_brand(name, logo_url, contact, problems):
    """(name, logo URL, contact) with each refused one named in `problems` and left out. The name is plain
    text (escaped wherever it is shown); the logo an https image; the contact an email address or an https
    URL."""
    if CONTROL.search(name) or len(name) > BRAND_NAME_LIMIT:
        problems.append(f"BRAND_NAME must be one line of at most {BRAND_NAME_LIMIT} characters")
        name = ""
    if logo_url and not _https(logo_url):
        problems.append("BRAND_LOGO_URL must be an https:// URL of an image (no user name or password)")
        logo_url = ""
    if contact and not (CONTACT_ADDRESS.fullmatch(contact) or _https(contact)):
        problems.append("BRAND_CONTACT must be an email address or an https:// URL")
        contact = ""
    return name, logo_url, contact


def init_app(app, settings):
    """Give every template the operator's brand (`brand`), pages and the front page alike."""
    brand = Brand(settings.brand_name, settings.brand_logo_url, settings.brand_contact)
    app.jinja_env.globals["brand"] = brand


def logo_origin():
    """Where this app's brand logo comes from (for a page's img-src), or None."""
    return (current_app.jinja_env.globals.get("brand") or Brand()).image_origin


def _style_hash():
    css = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES)).get_template("pages.css").render()
    return "'sha256-" + base64.b64encode(hashlib.sha256(css.encode()).digest()).decode() + "'"


STYLE_SOURCE = _style_hash()


def _origin(url):
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else None


def allow_logo(policy):
    """A Content-Security-Policy whose img-src also allows the brand logo's origin (the front page's)."""
    origin = logo_origin()
    return policy.replace("img-src 'self'", f"img-src 'self' {origin}") if origin else policy


def page_headers(redirect_urls=(), logo=None):
    """Headers for every page. `redirect_urls`: where a form post may be redirected (UNSUBSCRIBE_SUCCESS_URL
    and _FAILURE_URL): browsers apply the page's form-action to the redirect as well. `logo`: the brand
    logo's origin, the one image source allowed."""
    form_targets = ["'self'"] + sorted({o for o in map(_origin, filter(None, redirect_urls)) if o})
    images = f"img-src {logo}; " if logo else ""
    policy = (f"default-src 'none'; style-src {STYLE_SOURCE}; {images}form-action {' '.join(form_targets)}; "
              "base-uri 'none'; frame-ancestors 'none'")
    return {"Content-Security-Policy": policy, "Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
            "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff"}


def render_page(template, status=200, headers=None, redirect_urls=(), **context):
    """A page in the request's language with the security headers (call inside a request)."""
    response = make_response(render_template(template, **context), status)
    response.headers.update(page_headers(redirect_urls, logo_origin()))
    response.headers["Content-Language"] = str(get_locale())
    response.vary.add("Accept-Language")
    response.headers.update(headers or {})
    return response


def error_page(kind, status=None, headers=None):
    """error.html for `kind` (invalid_link 400, bot_check 403, rate_limited 429, else a generic 503)."""
    status = status or ERROR_STATUS.get(kind, GENERIC_ERROR_STATUS)
    return render_page("error.html", status, headers, kind=kind)
