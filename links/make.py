"""Links as senders receive them: the URL and the RFC 8058 headers, for claims the vendors accept."""

import time
from urllib.parse import urlsplit

from connectors import registry
from links.tokens import LinkClaims


def link_url(public_url, token):
    """`https://host[/prefix]/u/<token>` under the service's public base URL."""
    parts = urlsplit(public_url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError("PUBLIC_URL must be an http(s) base URL such as https://unsub.example.com")
    return f"{public_url.rstrip('/')}/u/{token}"


def list_unsubscribe_headers(url):
    """The two RFC 8058 headers a mail carries for one-click unsubscribe."""
    return {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def make_link(signer, public_url, target, to="all", group=None, campaign=None, expires_in=None, now=None):
    """`{"url", "headers"}` for one recipient: what `POST /links` answers and `flask links make` prints.

    `expires_in` is seconds from `now` (unix seconds, default the clock); None makes a link that never
    expires, so old mails keep working. Bad claims raise ValueError with a message fit for the caller.
    """
    expires = None
    if expires_in is not None:
        expires = int((time.time() if now is None else now) + expires_in)
    claims = LinkClaims(target, to, group, campaign, expires)
    problem = vendor_problem(claims)
    if problem:
        raise ValueError(problem)
    url = link_url(public_url, signer.sign(claims))
    return {"url": url, "headers": list_unsubscribe_headers(url)}


def vendor_problem(claims):
    """Why the destinations these claims name cannot take them (a phone for an email-only vendor, an option
    the vendor does not read), or None."""
    return registry.link_problem(claims.to, claims.kind, {"group": claims.group, "campaign": claims.campaign})
