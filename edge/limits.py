"""Rate limits, through the `limits` library: per client on what is public or unsigned, per credential on
hooks and POST /links, per link on a valid signed link's POST.

A valid signed link is its own authority: mailbox providers post RFC 8058 one-clicks from a few server
addresses, so counted per client address their opt-outs were refused after ten a minute. A POST to a valid
link counts against that link (and repeats of it send nothing new); a forged or expired one counts against
its client, as everything unsigned does. Each blueprint puts a limit on its own views (CallerLimits'
decorators), so a refused request never reaches them: nothing is parsed beyond the credential, nothing is
sent. Behind TRUSTED_PROXY_HOPS proxies the client is the one the last trusted proxy saw (Werkzeug's
ProxyFix), so a forged X-Forwarded-For does not reset a limit; an IPv6 client is counted by its /64
(edge/clients.py).
"""

import hashlib
from functools import lru_cache, wraps

from flask import request
from limits import parse_many
from werkzeug.middleware.proxy_fix import ProxyFix

from edge.auth import form_field, offered_token, public_key_offered
from edge.clients import client_key
from edge.limitstore import LimitStore
from errors import RateLimited

KEY_PREFIX = "unsub-relay"  # apart from other services sharing one Redis
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
    """A request with a public form key, or with no server credential at all (no token, no signature)."""
    return bool(public_key_offered(request) or not (offered_token(request) or
                                                    any(request.headers.get(h) for h in SIGNED_HEADERS)))


@lru_cache(maxsize=16)
def _parsed(text):
    """The limits a setting names ("10 per minute;50 per day"), parsed once, shortest window first (a request
    refused by the minute is not counted against the day)."""
    return tuple(sorted(parse_many(text)))


class CallerLimits:
    """One app's limits: its own limit store (tests build many apps, and a shared one would mix their
    counters) and the two settings' limits. A blueprint puts per_caller or per_client on its views."""

    def __init__(self, settings, store=None):
        self.store = store or LimitStore(settings.rate_limit_storage_uri)
        self.hook_limit, self.public_limit = settings.hook_rate_limit, settings.public_rate_limit

    def check(self, key, limits_text):
        """One hit of `key` per limit in `limits_text`; RateLimited (429, Retry-After) when one is spent."""
        for item in _parsed(limits_text):
            allowed, reset_in = self.store.hit(item, KEY_PREFIX, "caller", key)
            if not allowed:
                raise RateLimited(f"Too many requests ({item}); nothing was sent. Try again later.",
                                  retry_after=reset_in)

    def check_caller(self):
        """PUBLIC_RATE_LIMIT per client when the request is public, else HOOK_RATE_LIMIT per credential."""
        if is_public():
            self.check_client()
        else:
            self.check(credential_key(), self.hook_limit)

    def check_client(self):
        """PUBLIC_RATE_LIMIT against this request's client (everything unsigned, forged links too)."""
        self.check("public:" + request_client(), self.public_limit)

    def check_link(self, token):
        """PUBLIC_RATE_LIMIT against one valid signed link, whoever posts it."""
        self.check("link:" + digest(token), self.public_limit)

    def per_caller(self, view):
        """The view behind the caller's limit (a server credential's, or its client's when it offers none)."""
        return _before(self.check_caller, view)

    def per_client(self, view):
        """A public page's view behind its client's limit, whatever the request offers."""
        return _before(self.check_client, view)

    def health(self):
        """The limit store's state for /readyz (degraded while this process counts alone)."""
        return self.store.health()


def _before(check, view):
    """`view`, with `check` run first: a refused request never reaches it (nothing parsed or sent)."""
    @wraps(view)
    def checked(*args, **kwargs):
        check()
        return view(*args, **kwargs)
    return checked


def init_app(app, settings):
    """Trust the configured proxies: the client a limit counts is the one the last of them saw."""
    if settings.trusted_proxy_hops:
        hops = settings.trusted_proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
