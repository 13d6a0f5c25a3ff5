"""The gunicorn worker: gevent, with the answers gunicorn gives before the app runs written as JSON, and a
bound on the connections one client holds.

Why gevent (measured in bench/slow_clients.py, see docs/drafts/serve.md): a gthread worker gives each
connection a thread from the first byte to the last, so forty clients trickling a body one byte a second
held every thread. A gevent worker gives each connection a greenlet (a few KB), reads headers under the
keepalive timeout and bodies under BODY_TIMEOUT_SECONDS (serving/body.py), and serves the others meanwhile.

A worker holds at most `worker_connections` connections (GUNICORN_CONNECTIONS); beyond them new ones wait in
the listen backlog. One client holding 3,000 idle connections filled every slot and webhooks waited 4.6 s
each. So one client (a TCP peer address, an IPv6 one by its /64) holds at most a tenth of a worker's slots:
a connection beyond that is answered 429 and closed before anything is read. Behind a proxy the peer is the
proxy, whose connections are bounded the same way (100 per worker at the default 1000).
"""

from collections import Counter

from gunicorn import util
from gunicorn.workers.ggevent import GeventWorker

from edge.clients import client_key
from serving import error_body

MAX_MESSAGE = 200
CLIENT_SHARE = 10  # one client holds at most 1/CLIENT_SHARE of a worker's connections


def write_json_error(sock, status_int, reason, mesg, headers=""):
    """gunicorn's error page (malformed request line, header, length, chunk...) in the service's shape."""
    status = "invalid" if status_int < 500 else "error"
    body = error_body((mesg or reason)[:MAX_MESSAGE], status)
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"{headers}Content-Length: {len(body)}\r\n\r\n")
    util.write_nonblock(sock, head.encode("latin-1") + body)


def per_client_cap(worker_connections):
    """How many connections one client may hold in one worker."""
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
        self.cap = ConnectionCap(per_client_cap(self.worker_connections))
        super().init_process()

    def handle(self, listener, client, addr):
        if not isinstance(addr, tuple):  # a Unix socket: the peer is a local proxy, bounded by the pool
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
