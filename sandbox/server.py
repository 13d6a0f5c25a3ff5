"""A threaded HTTP server on 127.0.0.1 that plays one vendor's API, and the address markers that steer it.

It keeps no more than its vendor needs: with `record` off (the sandbox) no request is remembered, so a
long-running sandbox holds no addresses in memory; what a read-back needs of its own unsubscribes is kept
under keyed digests, the most recent only (`Recent`).
"""

import hashlib
import hmac
import os
import threading
import time
from collections import OrderedDict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Markers a tester puts in an address (`anna+notfound@example.com`) to choose the vendor's answer.
# The first one found in this order wins; `+slow` delays whatever the answer is.
OUTCOME_MARKERS = ("notfound", "down", "badhash", "ratelimit")
SLOW_MARKER = "+slow"
# The vendor answers "unsubscribed" but keeps the contact subscribed: its read-back still says so.
STILL_SUBSCRIBED_MARKER = "+stillsubscribed"

NOT_FOUND = (404, "text/html", b"<html>404</html>")
SERVICE_UNAVAILABLE = (503, "text/html", b"<html><body>503 Service Unavailable</body></html>")

# Answers that are not the vendor's: outages, proxies, garbage.
CANNED = {
    "500": (500, "text/html", b"<html><body>Internal Server Error</body></html>"),
    "502": (502, "text/html", b"<html>Bad Gateway</html>"),
    "503": SERVICE_UNAVAILABLE,
    "429": (429, "text/plain", b"slow down"),
    "html": (200, "text/html", b"<!DOCTYPE html><html><body>Maintenance</body></html>"),
    "non_json": (200, "text/plain", b"OK"),
    "hang": ("hang", "", b""),
}


def steered(address):
    """The outcome an address asks for with a `+marker`, or None."""
    text = str(address or "").lower()
    return next((name for name in OUTCOME_MARKERS if f"+{name}" in text), None)


def stays_subscribed(address):
    """True for an address with the `+stillsubscribed` marker."""
    return STILL_SUBSCRIBED_MARKER in str(address or "").lower()


class Recent:
    """What a sandbox simulator remembers of the addresses it unsubscribed, to answer their read-back: the
    last `size` of them, each under an HMAC digest with a key this process made up (so not the address)."""

    def __init__(self, size=10_000):
        self.size = size
        self.items = OrderedDict()
        self.lock = threading.Lock()
        self._key = os.urandom(32)

    def _digest(self, address):
        return hmac.new(self._key, str(address).strip().lower().encode("utf-8"), hashlib.sha256).digest()

    def get(self, address, default=None):
        with self.lock:
            return self.items.get(self._digest(address), default)

    def put(self, address, value):
        digest = self._digest(address)
        with self.lock:
            self.items[digest] = value
            self.items.move_to_end(digest)
            while len(self.items) > self.size:
                self.items.popitem(last=False)

    def clear(self):
        with self.lock:
            self.items.clear()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass  # addresses are personal data: the simulators log nothing

    def do_POST(self):
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            status, ctype, payload = 400, "text/plain", b"bad Content-Length"
        else:
            body = self.rfile.read(length)
            status, ctype, payload = self.server.simulator.exchange(self.path, self.headers, body)
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (a timeout): nothing to answer


class _Listener(ThreadingHTTPServer):
    # A vendor's real listen queue is long; socketserver's default of 5 overflows when a worker opens 32
    # connections at once, and the dropped SYNs then outlast the connector's 3 s connect timeout.
    request_queue_size = 256
    daemon_threads = True


class SimulatorServer:
    """A vendor on 127.0.0.1:<ephemeral port>; subclasses answer in handle(path, headers, body).

    `script` forces an answer for one address (tests), `read_script` likewise for the vendor's read-back
    call, `delay` slows every answer, `slow_seconds` is what the `+slow` marker waits, `on_request` sees each
    body before it is answered.
    """

    def __init__(self, record=True):
        self.record = record
        self.requests = []
        self.script = {}
        self.read_script = {}
        self.hang_seconds = 3.0
        self.slow_seconds = 2.0
        self.delay = 0.0
        self.on_request = None
        self.lock = threading.Lock()
        self.server = _Listener(("127.0.0.1", 0), _Handler)
        self.server.simulator = self
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True,
                                       name=f"{type(self).__name__}-{self.port}")

    @property
    def port(self):
        return self.server.server_address[1]

    @property
    def base(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def reset(self):
        self.requests.clear()
        self.script.clear()
        self.read_script.clear()
        self.delay = 0.0
        self.on_request = None

    def exchange(self, path, headers, body):
        """(status, content type, payload) for one request, after the test hooks have had their say."""
        if self.record:
            with self.lock:
                self.requests.append({"path": path, "headers": dict(headers), "body": body})
        if self.on_request:
            self.on_request(body)
        if self.delay:
            time.sleep(self.delay)
        try:
            status, ctype, payload = self.handle(path, headers, body)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError):
            status, ctype, payload = 400, "text/plain", b"unreadable request"
        if status == "hang":
            time.sleep(self.hang_seconds)
            status, ctype, payload = 200, "text/plain", b"too late"
        return status, ctype, payload

    def handle(self, path, headers, body):  # pragma: no cover - every simulator overrides it
        raise NotImplementedError

    def scripted(self, key, reading=False):
        return (self.read_script if reading else self.script).get(key)

    @staticmethod
    def canned(behaviour):
        return CANNED.get(behaviour)

    def pause_if_slow(self, address):
        """The `+slow` marker: answer only after `slow_seconds`."""
        if SLOW_MARKER in str(address or "").lower():
            time.sleep(self.slow_seconds)
