"""The HTTP transport the connectors share: urllib3 connection pools, proxy and CA read once, at start.

urllib3 directly rather than requests on top of it: per call requests re-merged settings, built a
PreparedRequest, a CaseInsensitiveDict and a Response, and cost 430 µs of CPU where urllib3's pool costs
210 (bench/RESULTS.md, "Time per stage"). What a connector needs of an answer is its status, headers and
bytes, which `Reply` keeps. Mechanism only: what a status or an error means is the connector's to say.
"""

import json
import os
from urllib.parse import unquote, urlsplit
from urllib.request import getproxies_environment, proxy_bypass_environment

import certifi
import urllib3
from urllib3.exceptions import HTTPError, NewConnectionError, TimeoutError as _Timeout

from connectors.deadline import POOLS, deadline

USER_AGENT = "unsub-relay/1.0"
MAX_CONNECTIONS = 64  # per upstream host and process: at most this many calls wait on one vendor at once


class TransportError(Exception):
    """No answer: the connection failed, timed out or was cut at the call's deadline."""

    def __init__(self, kind, timed_out):
        super().__init__(kind)
        self.kind, self.timed_out = kind, timed_out


class Reply:
    """What an upstream answered: HTTP status, headers and the whole body."""

    __slots__ = ("status_code", "headers", "content")

    def __init__(self, status_code, headers, content):
        self.status_code, self.headers, self.content = status_code, headers, content

    @property
    def text(self):
        return self.content.decode("utf-8", "replace")

    def json(self):
        """The body as JSON; ValueError when it is not JSON."""
        return json.loads(self.content)


def proxy_for(url):
    """(proxy URL, headers for it) the environment names for `url` (HTTPS_PROXY / HTTP_PROXY, NO_PROXY),
    or (None, None). As requests read them: a proxy without a scheme is http://, and credentials in its
    URL become a Proxy-Authorization header (urllib3 sends none of its own)."""
    parts = urlsplit(url)
    proxies = getproxies_environment()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy or proxy_bypass_environment(parts.hostname or "", proxies):
        return None, None
    proxy = proxy if "://" in proxy else "http://" + proxy
    found = urlsplit(proxy)
    if found.username is None:
        return proxy, None
    credentials = f"{unquote(found.username)}:{unquote(found.password or '')}"
    bare = found._replace(netloc=found.netloc.rpartition("@")[2]).geturl()
    return bare, urllib3.make_headers(proxy_basic_auth=credentials)


def ca_bundle():
    """REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE when set (a private CA), else certifi's bundle."""
    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or certifi.where()


def _timed_out(exc):
    # urllib3 2 keeps NewConnectionError (refused, unreachable) under ConnectTimeoutError for old callers.
    return isinstance(exc, _Timeout) and not isinstance(exc, NewConnectionError)


class Transport:
    """POSTs to one upstream URL over pooled connections, under one overall deadline per call."""

    def __init__(self, url, connect_timeout, read_timeout, total):
        proxy, proxy_headers = proxy_for(url)
        options = {"num_pools": 4, "maxsize": MAX_CONNECTIONS, "cert_reqs": "CERT_REQUIRED",
                   "ca_certs": ca_bundle()}
        self.pool = (urllib3.ProxyManager(proxy, proxy_headers=proxy_headers, **options) if proxy
                     else urllib3.PoolManager(**options))
        self.pool.pool_classes_by_scheme = POOLS  # connections reported to the call's deadline (cut there)
        self.url, self.total = url, total
        self.timeout = urllib3.Timeout(connect=connect_timeout, read=read_timeout)

    def post(self, body, content_type, url=None):
        """POST bytes to `url` (another call on the same upstream host), by default the one given at the
        start; the Reply, or TransportError when nothing usable came back in time."""
        headers = {"User-Agent": USER_AGENT, "Content-Type": content_type, "Content-Length": str(len(body))}
        with deadline(self.total) as call:
            try:
                response = self.pool.urlopen("POST", url or self.url, body=body, headers=headers,
                                             timeout=self.timeout, retries=False, redirect=False)
            except (HTTPError, OSError) as exc:
                raise TransportError(type(exc).__name__, call.expired or _timed_out(exc)) from None
        if call.expired:  # cut at the deadline: a body without a length would read as complete
            raise TransportError("deadline", True)
        return Reply(response.status, response.headers, response.data)
