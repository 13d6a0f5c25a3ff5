"""The retry worker: claims due deliveries, sends several at once, records, backs off."""

import logging
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, as_completed, wait

from store.ledger import new_id

log = logging.getLogger("unsub_relay.worker")


class Worker:
    """One worker process's loop; stop() lets the batch in flight finish."""

    def __init__(self, ledger, dispatcher, concurrency=16, lease_seconds=60.0, poll_seconds=1.0):
        self.ledger, self.dispatcher = ledger, dispatcher
        self.concurrency, self.lease_seconds, self.poll_seconds = concurrency, lease_seconds, poll_seconds
        self.id = new_id()
        self.stopping = threading.Event()
        self.pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="worker")

    def run_once(self):
        """Claim one batch of due rows, send them concurrently and record the results; returns the count."""
        rows = self.ledger.claim(self.id, self.concurrency * 4, self.lease_seconds)
        if not rows:
            return 0
        futures = self._submit(rows)
        self._record([(futures[f], f.result()) for f in as_completed(futures)])
        return len(rows)

    def _submit(self, rows):
        return {self.pool.submit(self.dispatcher.send, row.destination, row.payload): row for row in rows}

    def _record(self, results):
        destination = {row.id: row.destination for row, _ in results}
        for change in self.ledger.record(results, self.id):
            log.info("delivery id=%s destination=%s status=%s outcome=%s attempts=%d code=%s",
                     change["_id"], destination[change["_id"]], change["status"], change["outcome"],
                     change["attempts"], change["last_code"])

    def drain(self):
        """Run batches until nothing is due; returns how many rows were handled."""
        handled = 0
        while not self.stopping.is_set():
            count = self.run_once()
            if not count:
                break
            handled += count
        return handled

    def run(self):
        """Loop until stop(): `concurrency` sends in flight, refilled as they finish.

        Up to twice that many rows are claimed, so the pool's threads never wait for a claim; one
        claim serves many sends, and each set of finished sends is recorded in one transaction.
        After stop(), what was claimed is sent and recorded; leases not used are given back.
        """
        log.info("worker %s started: concurrency=%d", self.id[:8], self.concurrency)
        inflight, idle_until, capacity = {}, 0.0, 2 * self.concurrency
        while True:
            stopping = self.stopping.is_set()
            if not stopping and len(inflight) <= self.concurrency and time.monotonic() >= idle_until:
                rows = self._claim(capacity - len(inflight))
                inflight.update(self._submit(rows))
                idle_until = 0.0 if rows else time.monotonic() + self.poll_seconds
            if not inflight:
                if stopping:
                    break
                self.stopping.wait(self.poll_seconds)
                continue
            done, _ = wait(inflight, timeout=self.poll_seconds, return_when=FIRST_COMPLETED)
            if done:
                self._record_safely([(inflight.pop(f), f.result()) for f in done])
        self.ledger.release(self.id)
        self.pool.shutdown(wait=True)
        log.info("worker %s stopped", self.id[:8])

    def _claim(self, limit):
        try:
            return self.ledger.claim(self.id, limit, self.lease_seconds)
        except Exception:  # the store blinked: keep the process, try again shortly
            log.exception("claim failed; retrying")
            return []

    def _record_safely(self, results):
        try:
            self._record(results)
        except Exception:  # the rows keep their lease and come back when it runs out
            log.exception("recording %d results failed; their leases will expire and be retried", len(results))

    def stop(self, *_):
        """Ask the loop to finish its current batch and exit (SIGTERM, SIGINT)."""
        self.stopping.set()
