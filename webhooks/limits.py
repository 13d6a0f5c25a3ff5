"""Rate limits with Flask-Limiter: per client IP on public surfaces, per credential on hooks and POST /links.

One Limiter per app (tests build many apps; a module-level one would share its storage between them). The
limits wrap the app's own view functions, so a refused request never reaches the view: nothing is parsed
beyond the credential, nothing is sent. Behind TRUSTED_PROXY_HOPS proxies the client IP is the one the last
trusted proxy saw (Werkzeug's ProxyFix), so a forged X-Forwarded-For does not reset a limit.
"""

import hashlib
import time
from functools import lru_cache, wraps

from flask import current_app, g, request
from flask_limiter import Limiter
from limits import parse_many
from werkzeug.middleware.proxy_fix import ProxyFix

from errors import RateLimited
from webhooks.auth import form_field, offered_token, public_key_offered

KEY_PREFIX = "unsub-relay"  # apart from other services sharing one Redis
# The views behind the caller's limit: PUBLIC_RATE_LIMIT per IP or HOOK_RATE_LIMIT per credential.
LIMITED = ("hooks.hook", "links.make_links", "links.unsubscribe_page", "links.unsubscribe_post")


def client_ip():
    """The client's IP, as the trusted proxies report it."""
    return request.remote_addr or "unknown"


def credential_key():
    """A digest of the credential the request offers (never the credential itself)."""
    token = offered_token(request) or form_field(request, "token")
    offered = token or request.headers.get("webhook-id") and "standard-webhooks" or "anonymous"
    return "credential:" + hashlib.sha256(offered.encode("utf-8")).hexdigest()[:24]


def is_public():
    """A request a public page makes: a /u/ link, a form key, or one with no server credential at all.
    Decided once per request (the key and the limit both ask)."""
    if "public_request" not in g:
        g.public_request = bool(_is_public())
    return g.public_request


def _is_public():
    if request.endpoint and request.endpoint.startswith("links.unsubscribe"):
        return True
    return public_key_offered(request) or not (offered_token(request) or _signed())


def limit_key():
    """Whom a request counts against: its client IP when public, else its credential."""
    return "public:" + client_ip() if is_public() else credential_key()


def limit_value():
    """PUBLIC_RATE_LIMIT for public requests, HOOK_RATE_LIMIT for the others."""
    return _settings().public_rate_limit if is_public() else _settings().hook_rate_limit


def _signed():
    return any(request.headers.get(h) for h in ("webhook-signature", "Typeform-Signature", "Tally-Signature"))


def _settings():
    return current_app.config["SETTINGS"]


def init_app(app):
    """Trust the configured proxies, build this app's Limiter and put the limits on its views."""
    settings = app.config["SETTINGS"]
    if settings.trusted_proxy_hops:
        hops = settings.trusted_proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    limiter = Limiter(key_func=client_ip, app=app, storage_uri=settings.rate_limit_storage_uri,
                      headers_enabled=False, strategy="fixed-window", key_prefix=KEY_PREFIX)
    # Headers off: Flask-Limiter would put a Retry-After on every answer; ours goes on the 429 alone. Fixed
    # windows: constant work per request (a moving window keeps every hit of the window and scans it).
    for endpoint in LIMITED:
        if endpoint in app.view_functions:
            app.view_functions[endpoint] = limited(app.view_functions[endpoint])
    # Flask-Limiter's own per-request check has nothing to count on these views (check_caller does): let it
    # stop at its first test instead of resolving limits it does not have.
    limiter.request_filter(lambda: request.endpoint in LIMITED)
    app.extensions["rate_limiter"] = limiter


def limited(view):
    """The view behind the caller's limit: a refused request never reaches it (nothing parsed or sent)."""
    @wraps(view)
    def checked(*args, **kwargs):
        check_caller()
        return view(*args, **kwargs)
    return checked


def check_caller():
    """One hit per limit of the caller (limit_value, limit_key), counted by the strategy and storage that
    Flask-Limiter built from RATE_LIMIT_STORAGE_URI; RateLimited when one is spent.

    Flask-Limiter's route decorator re-resolved its limits, exemptions and request context on every call:
    a tenth of a webhook's CPU. The limits here are the same for every route, so they are hit directly."""
    strategy = current_app.extensions["rate_limiter"].limiter
    key = limit_key()
    for item in _parsed(limit_value()):
        if not strategy.hit(item, KEY_PREFIX, "caller", key):
            reset = strategy.get_window_stats(item, KEY_PREFIX, "caller", key).reset_time
            raise RateLimited(f"Too many requests ({item}); nothing was sent. Try again later.",
                              retry_after=reset - time.time())


@lru_cache(maxsize=16)
def _parsed(text):
    """The limits a setting names ("10 per minute;50 per day"), parsed once, shortest window first (as
    Flask-Limiter orders them: a request refused by the minute is not counted against the day)."""
    return tuple(sorted(parse_many(text)))


def retry_after():
    """Seconds until the limit the current request hit lets it through again (at least 1)."""
    current = current_app.extensions["rate_limiter"].current_limit
    return max(1, int(current.reset_at - time.time())) if current else 60
