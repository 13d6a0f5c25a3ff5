"""Blocking waits that let a gevent worker's other greenlets run.

The SQLite ledger queues writers from every process on an flock (store/engine.py `_FileLock`). A plain
blocking `fcntl.flock` stops the whole gevent hub while another process holds the lock: every request
in that worker, health checks included, would wait with it. Under gevent a lock that is taken runs the
blocking call in gevent's own thread pool (the hub's), the ecosystem's way to make a blocking call
cooperative: this greenlet waits, the others run. Elsewhere (the `flask worker` process, tests) it
blocks in the kernel.
"""

import fcntl

from concurrency import under_gevent


def lock_exclusive(fd):
    """flock(fd, LOCK_EX), without stopping the other greenlets while another process holds the lock."""
    if not under_gevent():
        fcntl.flock(fd, fcntl.LOCK_EX)
        return
    try:  # free (the usual case): taken at once, without a hop through the pool
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return
    except BlockingIOError:
        pass
    import gevent  # loaded already: we run under gevent

    waiting = gevent.get_hub().threadpool.spawn(fcntl.flock, fd, fcntl.LOCK_EX)
    try:
        waiting.get()
    except BaseException:
        # Interrupted (a request's deadline): the pool's thread still takes the lock; give it back then.
        # SQLite's own locking keeps writers apart meanwhile: this lock only queues them without polling.
        waiting.rawlink(lambda _: fcntl.flock(fd, fcntl.LOCK_UN))
        raise
