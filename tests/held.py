"""Callers queued behind a held write transaction: they meet in the writer's next batch (group commit)."""

import threading

from tests.procs import wait_for


def behind_a_held_transaction(writer, calls, holding=lambda conn: None):
    """Run each of `calls` (no arguments) on its own thread while one write transaction (which first runs
    `holding(conn)`) is held open, each queued before the next starts, and let go once all are: they meet
    in the next batch, in this order. What each returned or raised, in order."""
    inside, release, results = threading.Event(), threading.Event(), [None] * len(calls)

    def hold(conn):
        holding(conn)
        inside.set()
        assert release.wait(10)

    def call(i):
        try:
            results[i] = calls[i]()
        except BaseException as exc:  # noqa: BLE001 - the test compares what each caller got
            results[i] = exc

    holder = threading.Thread(target=writer.transaction, args=(hold,))
    holder.start()
    assert inside.wait(10)
    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(calls))]
    for queued, thread in enumerate(threads, start=1):
        thread.start()
        assert wait_for(lambda queued=queued: writer.queued == queued, timeout=10)
    release.set()
    for thread in [holder, *threads]:
        thread.join(10)
    return results
