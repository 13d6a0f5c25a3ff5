"""Rate limits, through the `limits` library: per client on what is public or unsigned, per credential on
hooks and POST /links, per link on a valid signed link's POST.

A valid signed link is its own authority: mailbox providers post RFC 8058 one-clicks from a few server
addresses, so counted per client address their opt-outs were refused after ten a minute. A POST to a valid
link counts against that link (and repeats of it send nothing new); a forged or expired one counts against
its client, as everything unsigned does. The limits wrap the other views, so a refused request never
reaches them: nothing is parsed beyond the credential, nothing is sent. Behind TRUSTED_PROXY_HOPS proxies
the client is the one the last trusted proxy saw (Werkzeug's ProxyFix), so a forged X-Forwarded-For does
not reset a limit; an IPv6 client is counted by its /64 (edge/clients.py).
"""

import hashlib
from functools import lru_cache, wraps

from flask import current_app, g, request
from limits import parse_many
from werkzeug.middleware.proxy_fix import ProxyFix

from edge.auth import form_field, offered_token, public_key_offered
from edge.clients import client_key
from edge.limitstore import LimitStore
from errors import RateLimited

KEY_PREFIX = "unsub-relay"  # apart from other services sharing one Redis
# The views behind the caller's limit (POST /u/ decides in its view: the link's validity picks the key).
LIMITED = ("hooks.hook", "links.make_links", "links.unsubscribe_page")
SIGNED_HEADERS = ("webhook-signature", "Typeform-Signature", "Tally-Signature")


def request_client():
    """The client of this request as limits count it: its address, an IPv6 one by its /64."""
    return client_key(request.remote_addr)


def digest(text):
    """A short digest to count a credential or a link under (never the thing itself)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def credential_key():
    """Whose credential the request offers, as a digest."""
    token = offered_token(request) or form_field(request, "token")
    offered = token or request.headers.get("webhook-id") and "standard-webhooks" or "anonymous"
    return "credential:" + digest(offered)


def is_public():
    """A request a public page makes: a /u/ link, a form key, or one with no server credential at all.
    Decided once per request (the key and the limit both ask)."""
    if "public_request" not in g:
        g.public_request = bool(_is_public())
    return g.public_request


def _is_public():
    if request.endpoint and request.endpoint.startswith("links.unsubscribe"):
        return True
    return public_key_offered(request) or not (offered_token(request) or
                                                any(request.headers.get(h) for h in SIGNED_HEADERS))


def _settings():
    return current_app.config["SETTINGS"]


def check(key, limits_text):
    """One hit of `key` per limit in `limits_text`; RateLimited (429, Retry-After) when one is spent."""
    store = current_app.extensions["rate_limits"]
    for item in _parsed(limits_text):
        allowed, reset_in = store.hit(item, KEY_PREFIX, "caller", key)
        if not allowed:
            raise RateLimited(f"Too many requests ({item}); nothing was sent. Try again later.",
                              retry_after=reset_in)


def check_caller():
    """The caller's limit: PUBLIC_RATE_LIMIT per client when public, else HOOK_RATE_LIMIT per credential."""
    if is_public():
        check_client()
    else:
        check(credential_key(), _settings().hook_rate_limit)


def check_client():
    """PUBLIC_RATE_LIMIT against this request's client (everything unsigned, forged links too)."""
    check("public:" + request_client(), _settings().public_rate_limit)


def check_link(token):
    """PUBLIC_RATE_LIMIT against one valid signed link, whoever posts it."""
    check("link:" + digest(token), _settings().public_rate_limit)


@lru_cache(maxsize=16)
def _parsed(text):
    """The limits a setting names ("10 per minute;50 per day"), parsed once, shortest window first (a request
    refused by the minute is not counted against the day)."""
    return tuple(sorted(parse_many(text)))


def limited(view):
    """The view behind the caller's limit: a refused request never reaches it (nothing parsed or sent)."""
    @wraps(view)
    def checked(*args, **kwargs):
        check_caller()
        return view(*args, **kwargs)
    return checked


def health():
    """The limit store's state for /readyz (degraded while this process counts alone)."""
    return current_app.extensions["rate_limits"].health()


def init_app(app):
    """Trust the configured proxies, open this app's limit store and put the caller's limit on its views.
    One store per app: tests build many apps, and a module-level one would share counters between them."""
    settings = app.config["SETTINGS"]
    if settings.trusted_proxy_hops:
        hops = settings.trusted_proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    app.extensions["rate_limits"] = LimitStore(settings.rate_limit_storage_uri)
    for endpoint in LIMITED:
        if endpoint in app.view_functions:
            app.view_functions[endpoint] = limited(app.view_functions[endpoint])
