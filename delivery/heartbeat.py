"""What a worker's loop does beside delivering: a heartbeat in the ledger (inline: one small write every
10 s) and the alert checks (every 20 s, in a thread of their own); a monotonic comparison per loop turn,
and neither ever raises into the loop."""

import logging
import os
import socket
import threading
import time

from delivery.alerts import AlertChecks
from errors import StoreUnavailable

log = logging.getLogger("unsub_relay.worker")
BEAT_SECONDS = 10.0
CHECK_SECONDS = 20.0
PRUNE_EVERY = 180  # checks between two prunes of old alert records (about an hour)
FLUSH_SECONDS = 5.0  # how long a stopping worker waits for its last alerts to go


class Watch:
    """One worker's heartbeat and alert checks; tick() from its loop, claimed() after each claim."""

    def __init__(self, service, worker_id, beat_seconds=BEAT_SECONDS, check_seconds=CHECK_SECONDS):
        self.store, self.worker_id = service.store.alerts, worker_id
        self.checks = AlertChecks(service)
        self.beat_seconds, self.check_seconds = beat_seconds, check_seconds
        self.host, self.pid = socket.gethostname()[:255], os.getpid()
        self.started_at, self.last_claim_at = None, None
        self.next_beat = self.next_check = 0.0
        self.checks_run, self.checking = 0, None

    def claimed(self):
        """The worker leased some deliveries just now."""
        self.last_claim_at = self.store.now()

    def tick(self):
        """Beat and check when their time has come."""
        now = time.monotonic()
        if now >= self.next_beat:
            self.next_beat = now + self.beat_seconds
            self._safely("heartbeat", self.beat)
        if now >= self.next_check and not (self.checking and self.checking.is_alive()):
            self.next_check = now + self.check_seconds
            # Off the loop's thread: a slow store or a large backlog never delays claiming.
            self.checking = threading.Thread(target=self._safely, args=("alert check", self.check),
                                             name="alert-checks", daemon=True)
            self.checking.start()

    def beat(self):
        self.started_at = self.started_at or self.store.now()
        self.store.beat(self.worker_id, self.host, self.pid, self.started_at, self.last_claim_at)

    def check(self):
        self.checks.run()
        if self.checks.enabled and self.checks_run % PRUNE_EVERY == 0:
            self.checks.prune()
        self.checks_run += 1

    def stop(self):
        """A clean stop: mark the heartbeat stopped and give queued alerts a moment to go."""
        if self.checking is not None:
            self.checking.join(FLUSH_SECONDS)
        self._safely("heartbeat", lambda: self.store.stopped(self.worker_id))
        if self.checks.enabled:
            self.checks.notifier.flush(FLUSH_SECONDS)

    @staticmethod
    def _safely(what, work):
        try:
            work()
        except StoreUnavailable as exc:
            log.error("%s failed (%s); trying again later", what, exc.reason)
        except Exception:  # noqa: BLE001 - nothing beside delivering may stop the worker
            log.exception("%s failed; trying again later", what)
