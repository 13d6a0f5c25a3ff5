"""The gunicorn worker: gevent, with the answers gunicorn gives before the app runs written as JSON.

Why gevent (measured in bench/slow_clients.py, see docs/drafts/serve.md): a gthread worker gives each
connection a thread from the first byte to the last, so forty clients trickling a body one byte a second
held every thread. A gevent worker gives each connection a greenlet (a few KB), reads headers under the
keepalive timeout and bodies under BODY_TIMEOUT_SECONDS (serving/body.py), and serves the others meanwhile.
"""

from gunicorn import util
from gunicorn.workers.ggevent import GeventWorker

from serving import error_body

MAX_MESSAGE = 200


def write_json_error(sock, status_int, reason, mesg):
    """gunicorn's error page (malformed request line, header, length, chunk...) in the service's shape."""
    status = "invalid" if status_int < 500 else "error"
    body = error_body((mesg or reason)[:MAX_MESSAGE], status)
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    util.write_nonblock(sock, head.encode("latin-1") + body)


class JsonErrorWorker(GeventWorker):
    """gunicorn's gevent worker whose own error answers are JSON, not HTML."""

    def init_process(self):
        # Worker.handle_error's one writer is gunicorn.util.write_error, looked up at each call; gunicorn
        # has no setting for it. Replaced in this worker process only, before any request is served.
        util.write_error = write_json_error
        super().init_process()
