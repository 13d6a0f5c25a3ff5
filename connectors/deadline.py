"""One overall deadline per upstream call.

Socket timeouts bound each socket operation, not the call: an upstream that trickles one byte every few
seconds holds a call (and the web thread waiting on it) for minutes. Here a call registers the pooled
connections it uses; one reaper thread per process shuts down the socket of any call past its deadline, so
the blocked read returns at once and the call fails as a timeout. Mechanism only: what a timeout means is
decided by the connector.
"""

import os
import socket
import threading
import time
from contextlib import contextmanager

from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

_current = threading.local()


class Call:
    """One upstream call in flight: its deadline, the connections it used, whether the reaper cut it."""

    __slots__ = ("deadline", "conns", "expired")

    def __init__(self, seconds):
        self.deadline = time.monotonic() + seconds
        self.conns = []
        self.expired = False

    def cut(self):
        """Shut down every socket of this call; the blocked read returns."""
        self.expired = True
        for conn in self.conns:
            sock = getattr(conn, "sock", None)
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


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
                call.cut()


REAPER = Reaper()


@contextmanager
def deadline(seconds):
    """Run one upstream call under an overall deadline; yields the Call (see `expired`)."""
    call = Call(seconds)
    _current.call = call
    REAPER.watch(call)
    try:
        yield call
    finally:
        REAPER.forget(call)
        _current.call = None


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
