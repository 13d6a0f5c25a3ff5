"""Read every request body whole, under a size and a time limit, before the app sees any of it.

Left to itself Flask reads gunicorn's socket stream lazily: a chunked body over MAX_CONTENT_LENGTH was cut
at the limit and acted on, a body that ended before its Content-Length (client gone) was acted on with
what had arrived, and a body trickled a byte at a time held its worker for as long as the client liked.
Here the body is read to its end first; the app then gets it from memory, or never runs.
"""

import io
import logging
import time
from contextlib import nullcontext
from http import HTTPStatus

from concurrency import under_gevent
from edge.logs import log_path
from serving import error_body

READ_STEP = 64 * 1024

log = logging.getLogger("unsub_relay.web")


class Refused(Exception):
    """The body cannot be accepted: an HTTP status, a short reason for the log, the caller's message."""

    def __init__(self, status, reason, message):
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message
        # 413 keeps the "error" its answer has always had (Flask's own); the other refusals are "invalid".
        self.kind = "error" if status == 413 else "invalid"


def declared_length(environ, max_bytes):
    """The Content-Length a request declares (None for none or chunked); Refused when over the limit."""
    raw = environ.get("CONTENT_LENGTH", "").strip()
    if not raw or "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        return None
    if not raw.isdigit():
        raise Refused(400, "bad_length", "Content-Length is not a number.")
    if int(raw) > max_bytes:
        raise Refused(413, "too_large", too_large(max_bytes))
    return int(raw)


def too_large(max_bytes):
    return f"The body is larger than {max_bytes} bytes (MAX_CONTENT_LENGTH); nothing was sent."


def time_limit(seconds):
    """A hard deadline over blocking reads: gevent's Timeout in a gevent worker (gunicorn.conf.py).

    Elsewhere (Flask's test client, a threaded server) the elapsed time is checked between reads only.
    """
    if under_gevent():
        from gevent import Timeout
        return Timeout(seconds, Refused(408, "too_slow", late(seconds)))
    return nullcontext()


def late(seconds):
    return f"The body did not arrive within {seconds:g} s (BODY_TIMEOUT_SECONDS); nothing was sent."


def read_whole(environ, max_bytes, seconds):
    """The request body as bytes, read to its end; Refused if too large, too slow, cut short or garbled."""
    length = declared_length(environ, max_bytes)
    stream = environ.get("wsgi.input")
    chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
    # Neither a length nor chunks: no body (RFC 9112 6.3). Reading to the end would wait for a client that
    # keeps its connection open (werkzeug's server hands over the raw socket).
    if stream is None or length == 0 or (length is None and not chunked):
        return b""
    parts, received, deadline = [], 0, time.monotonic() + seconds
    try:
        with time_limit(seconds):
            # Never past a declared length: the connection may be kept alive for the next request.
            while length is None or received < length:
                wanted = min(READ_STEP, max_bytes + 1 - received, (length or max_bytes + 1) - received)
                chunk = stream.read(wanted)
                if not chunk:
                    break
                parts.append(chunk)
                received += len(chunk)
                if received > max_bytes:
                    raise Refused(413, "too_large", too_large(max_bytes))
                if time.monotonic() > deadline:
                    raise Refused(408, "too_slow", late(seconds))
    except Refused:
        raise
    except Exception as exc:  # a malformed chunk, a reset connection: the body is not whole
        raise Refused(400, "unreadable",
                      f"The body could not be read ({type(exc).__name__}); nothing was sent.") from None
    if length is not None and received < length:
        raise Refused(400, "cut_short", f"The body ended after {received} of its {length} bytes "
                      "(Content-Length); nothing was sent.")
    return b"".join(parts)


class BodyLimits:
    """WSGI middleware: the wrapped app gets the whole body from memory, or is not called at all."""

    def __init__(self, app, max_bytes, seconds):
        self.app, self.max_bytes, self.seconds = app, max_bytes, seconds

    def __call__(self, environ, start_response):
        try:
            body = read_whole(environ, self.max_bytes, self.seconds)
        except Refused as refused:
            return self.refuse(environ, start_response, refused)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)  # the body is now of known length
        return self.app(environ, start_response)

    @staticmethod
    def refuse(environ, start_response, refused):
        log.info("request refused route=%s http=%d reason=%s", log_path(environ.get("PATH_INFO", "")),
                 refused.status, refused.reason)
        stream = environ.get("wsgi.input")
        if hasattr(stream, "failed"):
            stream.failed = True  # gunicorn then closes the connection instead of draining the rest
        body = error_body(refused.message, refused.kind)
        start_response(f"{refused.status} {HTTPStatus(refused.status).phrase}",
                       [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]
