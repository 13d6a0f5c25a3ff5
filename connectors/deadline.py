"""One overall deadline per upstream call.

Socket timeouts bound each socket operation, not the call: an upstream that trickles one byte every few
seconds holds a call (and the request waiting on it) for minutes. A call registers the pooled connections
it uses; at its deadline they are shut down and closed, so the upstream sees the call end, and the call
fails as a timeout. Mechanism only: what a timeout means is decided by the connector.

How the deadline fires depends on how the process waits. Under gevent (the gunicorn workers) it is gevent's
own Timeout, raised in the calling greenlet wherever it waits (monkey-patched, the reaper below would be
one more greenlet, its wake-up one more thing the hub must get round to). Elsewhere (`flask worker`, the
CLI, tests) one reaper thread per process wakes at the nearest deadline and shuts the sockets down, so the
blocked read returns at once.
"""

import logging
import os
import socket
import threading
import time
from contextlib import contextmanager

from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from concurrency import under_gevent

log = logging.getLogger("unsub_relay.connectors")

_current = threading.local()


class Call:
    """One upstream call in flight: its deadline, the connections it used, whether the reaper cut it."""

    __slots__ = ("deadline", "conns", "expired")

    def __init__(self, seconds):
        self.deadline = time.monotonic() + seconds
        self.conns = []
        self.expired = False

    def cut(self):
        """Shut down every socket of this call: a blocked read returns, the upstream sees the end."""
        self.expired = True
        for conn in self.conns:
            sock = getattr(conn, "sock", None)
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except (OSError, ValueError):  # closed already, or an SSL socket never connected
                    pass

    def close(self):
        """Close every connection of this call (urllib3 drops a closed one from its pool)."""
        for conn in self.conns:
            conn.close()


class Reaper:
    """Wakes at the nearest deadline and cuts the calls that passed theirs."""

    def __init__(self):
        self.calls, self.cond, self.pid = set(), threading.Condition(), None
        self.wakes_at = None  # when the reaper wakes next (None: only when told)

    def watch(self, call):
        with self.cond:
            if self.pid != os.getpid():  # first use in this process (threads do not survive a fork)
                self.pid, self.wakes_at = os.getpid(), None
                threading.Thread(target=self._run, name="deadline-reaper", daemon=True).start()
            self.calls.add(call)
            # Calls share one timeout, so a new one's deadline is rarely the nearest: waking the reaper
            # for each call cost a thread switch per upstream call.
            if self.wakes_at is None or call.deadline < self.wakes_at:
                self.cond.notify()

    def forget(self, call):
        with self.cond:
            self.calls.discard(call)

    def _run(self):
        while True:
            with self.cond:
                now = time.monotonic()
                due = [c for c in self.calls if c.deadline <= now]
                for call in due:
                    self.calls.discard(call)
                nearest = min((c.deadline for c in self.calls), default=None)
                if not due:
                    self.wakes_at = nearest
                    self.cond.wait(None if nearest is None else nearest - now)
                    self.wakes_at = None
            for call in due:
                try:
                    call.cut()
                except Exception:  # noqa: BLE001 - the reaper must outlive any one call
                    log.exception("deadline: could not cut a call")


REAPER = Reaper()


@contextmanager
def deadline(seconds):
    """Run one upstream call under an overall deadline; yields the Call (see `expired`). At the deadline
    the call's connections are cut and the body of the `with` ends (under gevent at once, elsewhere when
    its blocked read returns); the caller then finds `expired` set."""
    call = Call(seconds)
    _current.call = call
    try:
        with (_greenlet_deadline if under_gevent() else _reaped)(call):
            yield call
    finally:
        _current.call = None
    if call.expired:
        call.close()


@contextmanager
def _greenlet_deadline(call):
    """gevent's Timeout, raised in this greenlet at the deadline wherever it waits; swallowed here."""
    from gevent import Timeout

    timer = Timeout.start_new(max(0.0, call.deadline - time.monotonic()))
    try:
        yield
    except Timeout as fired:
        if fired is not timer:
            raise  # someone else's timeout (an outer deadline): theirs to handle
        call.cut()
    finally:
        timer.close()


@contextmanager
def _reaped(call):
    REAPER.watch(call)
    try:
        yield
    finally:
        REAPER.forget(call)


class _Tracked:
    def _make_request(self, conn, *args, **kwargs):
        call = getattr(_current, "call", None)
        if call is not None:
            call.conns.append(conn)
        return super()._make_request(conn, *args, **kwargs)


class _TrackedHTTP(_Tracked, HTTPConnectionPool):
    pass


class _TrackedHTTPS(_Tracked, HTTPSConnectionPool):
    pass


# urllib3 pool classes that report the connections a call uses (a proxy's pools too).
POOLS = {"http": _TrackedHTTP, "https": _TrackedHTTPS}
