"""Links as senders receive them: the URL, the RFC 8058 headers, and `--expires 365d` durations."""

import re
import time
from urllib.parse import urlsplit

from links.tokens import LinkClaims

DURATION = re.compile(r"([0-9]{1,6})([dhm]?)")
UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "": 86400}  # a bare number is days, like `purge`
MAX_DURATION_SECONDS = 100 * 365 * 86400


def parse_duration(text):
    """Seconds in '365d', '12h', '30m' or a bare number of days; ValueError for anything else."""
    match = DURATION.fullmatch(text.strip().lower()) if isinstance(text, str) else None
    if not match:
        raise ValueError("use a number of days, or e.g. 365d, 12h, 30m")
    seconds = int(match.group(1)) * UNIT_SECONDS[match.group(2)]
    if not 0 < seconds <= MAX_DURATION_SECONDS:
        raise ValueError("a duration must be more than zero and at most 100 years")
    return seconds


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
    url = link_url(public_url, signer.sign(LinkClaims(target, to, group, campaign, expires)))
    return {"url": url, "headers": list_unsubscribe_headers(url)}
