"""The gunicorn worker: gevent, with the answers gunicorn gives before the app runs written as JSON, and a
bound on the connections one client holds.

Why gevent (measured by bench/slow_clients.py; README, "Serving model"): a gthread worker gives each
connection a thread from the first byte to the last, so forty clients trickling a body one byte a second
held every thread. A gevent worker gives each connection a greenlet (a few KB), reads headers under the
keepalive timeout and bodies under BODY_TIMEOUT_SECONDS (serving/body.py), and serves the others meanwhile.

A worker holds at most `worker_connections` connections (GUNICORN_CONNECTIONS); beyond them new ones wait in
the listen backlog. One client holding 3,000 idle connections filled every slot and webhooks waited 4.6 s
each. So when clients reach the service directly (TRUSTED_PROXY_HOPS=0), one client (a TCP peer address, an
IPv6 one by its /64) holds at most a tenth of a worker's slots: a connection beyond that is answered 429 and
closed before anything is read. Behind a proxy (a PaaS router: the default TRUSTED_PROXY_HOPS=1) every
connection's peer is the proxy, so a cap per peer would refuse every sender at once as soon as one of them
held its share (a burst of webhooks waiting for their turn at the delivery rate does): there the router bounds
what each client holds, and the worker only bounds its total (`worker_connections`).
"""

import os
from collections import Counter

from gunicorn import util
from gunicorn.workers.ggevent import GeventWorker

from edge.clients import client_key
from serving import error_body

MAX_MESSAGE = 200
CLIENT_SHARE = 10  # one client holds at most 1/CLIENT_SHARE of a worker's connections


def write_json_error(sock, status_int, reason, mesg, headers=""):
    """gunicorn's error page (malformed request line, header, length, chunk...) in the service's shape."""
    status = "rate_limited" if status_int == 429 else "invalid" if status_int < 500 else "error"
    body = error_body((mesg or reason)[:MAX_MESSAGE], status)
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"{headers}Content-Length: {len(body)}\r\n\r\n")
    util.write_nonblock(sock, head.encode("latin-1") + body)


def per_client_cap(worker_connections, env=None):
    """How many connections one client may hold in one worker; None behind a trusted proxy, where the TCP
    peer is the proxy, not a client. TRUSTED_PROXY_HOPS is read here as text (settings.py checks it): this
    module is imported before gevent patches, so it may not load the settings and what they import."""
    hops = (os.environ if env is None else env).get("TRUSTED_PROXY_HOPS", "").strip()
    if hops != "0":  # unset means the default, 1
        return None
    return max(1, worker_connections // CLIENT_SHARE)


class ConnectionCap:
    """Counts each client's open connections in one worker (one thread: greenlets switch only on I/O)."""

    def __init__(self, per_client):
        self.per_client, self.held = per_client, Counter()

    def admit(self, key):
        """True, and counted, when `key` holds fewer than `per_client` connections; the caller releases."""
        if self.held[key] >= self.per_client:
            return False
        self.held[key] += 1
        return True

    def release(self, key):
        self.held[key] -= 1
        if self.held[key] <= 0:
            del self.held[key]


class JsonErrorWorker(GeventWorker):
    """gunicorn's gevent worker whose own error answers are JSON, not HTML, and whose clients each hold at
    most per_client_cap(worker_connections) of its connections."""

    def init_process(self):
        # Worker.handle_error's one writer is gunicorn.util.write_error, looked up at each call; gunicorn
        # has no setting for it. Replaced in this worker process only, before any request is served.
        util.write_error = write_json_error
        per_client = per_client_cap(self.worker_connections)
        self.cap = ConnectionCap(per_client) if per_client else None
        super().init_process()

    def handle(self, listener, client, addr):
        if self.cap is None or not isinstance(addr, tuple):  # a proxy's (or a Unix socket's) connections
            return super().handle(listener, client, addr)
        key = client_key(addr[0])
        if not self.cap.admit(key):
            return self.refuse(client)
        try:
            super().handle(listener, client, addr)
        finally:
            self.cap.release(key)

    def refuse(self, client):
        """429 and close, before reading anything: this client holds its share of the connections."""
        try:
            write_json_error(client, 429, "Too Many Requests", f"Too many connections from your address (at "
                             f"most {self.cap.per_client} at once); nothing was read.", "Retry-After: 1\r\n")
        except OSError:
            pass  # the client is gone already
        finally:
            util.close(client)
