"""Blocking waits that let a gevent worker's other greenlets run.

The SQLite ledger queues writers from every process on an flock (store/engine.py `_FileLock`). A plain
blocking `fcntl.flock` stops the whole gevent hub while another process holds the lock: every request
in that worker, health checks included, would wait with it. Under gevent the wait polls instead, with
a short cooperative sleep; elsewhere (the `flask worker` process, tests) it blocks in the kernel as before.
"""

import fcntl
import time

from concurrency import under_gevent

FIRST_POLL, LAST_POLL = 0.0005, 0.005  # seconds: a ledger transaction holds the lock for a few ms


def lock_exclusive(fd):
    """flock(fd, LOCK_EX), without stopping the other greenlets while another process holds the lock."""
    if not under_gevent():
        fcntl.flock(fd, fcntl.LOCK_EX)
        return
    delay = FIRST_POLL
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            time.sleep(delay)  # gevent's sleep: the hub serves other requests meanwhile
            delay = min(delay * 2, LAST_POLL)
