"""The retry worker: claims due deliveries, sends several at once, records, backs off."""

import logging
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed

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
        futures = {self.pool.submit(self.dispatcher.send, row.destination, row.payload): row for row in rows}
        results = [(futures[f], f.result()) for f in as_completed(futures)]
        destination = {row.id: row.destination for row in rows}
        for change in self.ledger.record(results, self.id):
            log.info("delivery id=%s destination=%s status=%s outcome=%s attempts=%d code=%s",
                     change["_id"], destination[change["_id"]], change["status"], change["outcome"],
                     change["attempts"], change["last_code"])
        return len(rows)

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
        """Loop until stop(); in-flight sends finish and unsent leases are given back."""
        log.info("worker %s started: concurrency=%d", self.id[:8], self.concurrency)
        while not self.stopping.is_set():
            try:
                count = self.run_once()
            except Exception:  # the store blinked: keep the process, try again shortly
                log.exception("worker batch failed; retrying")
                count = 0
            if not count:
                self.stopping.wait(self.poll_seconds)
        self.ledger.release(self.id)
        self.pool.shutdown(wait=True)
        log.info("worker %s stopped", self.id[:8])

    def stop(self, *_):
        """Ask the loop to finish its current batch and exit (SIGTERM, SIGINT)."""
        self.stopping.set()
