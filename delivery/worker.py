"""The retry worker: claims due Deliveries, sends several at once through the service, records, backs off."""

import logging
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, as_completed, wait

from delivery.confirm import Confirmer
from delivery.events import Reconciler
from delivery.heartbeat import Watch
from errors import StoreUnavailable
from store.ledger import new_id

log = logging.getLogger("unsub_relay.worker")
DRAIN_POLL_SECONDS = 0.1  # how long a drain waits for the delivery rate to grant more


class Worker:
    """One worker process's loop; stop() lets the sends in flight finish. `sender` labels its attempts."""

    def __init__(self, service, concurrency=16, sender="worker", poll_seconds=1.0):
        self.service, self.ledger = service, service.store.ledger
        self.concurrency, self.sender, self.poll_seconds = concurrency, sender, poll_seconds
        self.id = new_id()
        self.stopping = threading.Event()
        self.pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="worker")
        self.watch = Watch(service, self.id)  # heartbeat and alert checks, from run() only
        self.confirmer = Confirmer(service, self.id, self.pool, concurrency)  # read-backs due (issue 20)
        self.reconciler = Reconciler(service)  # Mailkit's opt-outs a lost webhook missed (issue 20)

    def run_once(self):
        """Claim one batch of due rows, send them concurrently and record the results; returns the count."""
        limit = self.concurrency * 4
        rows = self.ledger.claim(self.id, limit, list(self.service.connectors))
        if not rows:
            return 0
        futures = self._submit(rows)
        self._record([f.result() for f in as_completed(futures)])
        return len(rows)

    def _submit(self, deliveries):
        return {self.pool.submit(self.service.attempt, d, self.sender): d for d in deliveries}

    def _record(self, pairs):
        """Record [(Delivery, Outcome)] and log one line per row whose lease still held."""
        destination = {d.id: d.destination for d, _ in pairs}
        for change in self.service.record(pairs, self.id, self.sender):
            log.info("delivery id=%s destination=%s status=%s outcome=%s attempts=%d code=%s",
                     change["_id"], destination[change["_id"]], change["status"], change["outcome"],
                     change["attempts"], change["last_code"])

    def drain(self):
        """Run batches until nothing is due (waiting for the delivery rate, never for an open breaker's
        next probe); returns how many rows were handled."""
        handled = 0
        while not self.stopping.is_set():
            count = self.run_once()
            handled += count
            if not count and not self.confirmer.run_once():
                if not self.ledger.waiting(list(self.service.connectors)):
                    break
                self.stopping.wait(DRAIN_POLL_SECONDS)
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
            self.watch.tick()
            self.reconciler.tick()
            stopping = self.stopping.is_set()
            if not stopping and len(inflight) <= self.concurrency and time.monotonic() >= idle_until:
                rows = self._claim(capacity - len(inflight))
                inflight.update(self._submit(rows))
                idle_until = 0.0 if rows else time.monotonic() + self.poll_seconds
            if not inflight:
                if stopping:
                    break
                # Read-backs go when no send is in flight: a backlog is sent first, and an opt-out's
                # read-back may wait longer than CONFIRM_AFTER_SECONDS, never the other way round.
                if not self.confirmer.run_once():
                    self.stopping.wait(self.poll_seconds)
                continue
            done, _ = wait(inflight, timeout=self.poll_seconds, return_when=FIRST_COMPLETED)
            if done:
                self._record_safely([f.result() for f in done], [inflight.pop(f) for f in done])
        self._release()
        self.pool.shutdown(wait=True)
        self.watch.stop()
        log.info("worker %s stopped", self.id[:8])

    def _claim(self, limit):
        try:
            rows = self.ledger.claim(self.id, limit, list(self.service.connectors))
        except StoreUnavailable as exc:  # the store blinked: keep the process, try again shortly
            log.error("claim failed (%s); retrying", exc.reason)
            return []
        if rows:
            self.watch.claimed()
        return rows

    def _record_safely(self, pairs, rows):
        try:
            self._record(pairs)
        except StoreUnavailable as exc:  # the rows keep their lease and come back when it runs out
            log.error("recording %d results failed (%s); their leases will expire and be retried",
                      len(rows), exc.reason)

    def _release(self):
        try:
            self.ledger.release(self.id)
        except StoreUnavailable:
            log.error("could not give back leases; they expire by themselves")

    def stop(self, *_):
        """Ask the loop to finish its current batch and exit (SIGTERM, SIGINT)."""
        self.stopping.set()
