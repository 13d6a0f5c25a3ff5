"""The alert checks: what deserves a message now, decided once across every process through the store.

Each check reads the ledger, proposes records with deterministic keys (kind, subject and the bucket the
decision rests on: the previous message about the same subject, a breaker's opening, the backlog's age
step, the last claim) and sends only the messages whose record this process inserted. Failures are grouped:
one message per destination and cause in ALERT_REPEAT_SECONDS, with the count since the previous one and
a few masked examples, however many deliveries failed.
"""

import logging
import threading
import time
from datetime import timedelta

from delivery import alert_texts as texts
from delivery.notify import notifier_for
from errors import StoreUnavailable
from store.alerts import CONFIGURATION, FAILED_KINDS
from store.breaker import OPEN
from limitstorage import is_redis, open_storage

log = logging.getLogger("unsub_relay.alerts")
# One kind of record per cause of failed deliveries (configuration failures keep their first name).
FAILING = {"configuration": "destination_failing", "verification": "destination_unverified",
           "expired": "dead_letters", "still_subscribed": "opt_outs_not_taken"}
BREAKER, RECOVERED = "breaker_open", "recovered"
# A destination's messages that a delivery getting through again answers, in the order they happened.
CHAIN = (*(FAILING[kind] for kind in CONFIGURATION), BREAKER, RECOVERED)
LIMITS_DOWN, LIMITS_UP, LIMITS = "limit_store_down", "limit_store_up", "limit_store"
LIMITS_TIMEOUT = 1.0  # seconds the limit store's ping may take: the check runs beside the loop, not in it
FIRST_LOOKBACK = timedelta(hours=24)  # failures older than this when a process starts are not news
OVERLAP = timedelta(minutes=5)
SILENT_AFTER = timedelta(minutes=5)
KEEP_RECORDS = timedelta(days=30)


def iso(moment):
    return moment.isoformat() if moment is not None else "none"


def limit_store_for(uri):
    """The rate-limit store to ping when RATE_LIMIT_STORAGE_URI names Redis (short timeouts), else None."""
    return open_storage(uri, LIMITS_TIMEOUT) if is_redis(uri) else None


class AlertChecks:
    """Every alert check of one service; run() never raises."""

    def __init__(self, service):
        self.store = service.store.alerts
        self.settings = service.settings
        self.notifier = notifier_for(self.settings.alert_urls)
        self.destinations = list(service.connectors)
        self.limit_store = limit_store_for(self.settings.rate_limit_storage_uri) if self.enabled else None

    @property
    def enabled(self):
        return self.notifier.enabled

    @property
    def repeat(self):
        return timedelta(seconds=self.settings.alert_repeat_seconds)

    def run(self, checks=None):
        """Run the checks (all by default) and queue the messages this process won; returns them."""
        if not self.enabled:
            return []
        messages = []
        for check in checks or (self.failing_destinations, self.limit_store_down, self.pending_age,
                                self.worker_silent):
            try:
                messages.extend(check())
            except StoreUnavailable as exc:  # the store blinked: the next check looks again
                log.error("alert check %s failed (%s)", check.__name__, exc.reason)
        messages = [texts.branded(message, self.settings.brand_name) for message in messages]
        for message in messages:
            self.notifier.send(message)
        return messages

    def _won(self, proposals, at=None):
        """The (record, message) proposals whose record this process inserted first."""
        mine = self.store.take([record for record, _ in proposals], at)
        return [(record, message) for record, message in proposals if record["key"] in mine]

    def failing_destinations(self):
        """Per destination: failed deliveries grouped by cause (configuration, verification, dead letters),
        its breaker opening, and its recovery."""
        gates, messages, now = self.store.gates(), [], self.store.now()
        for name in sorted(set(self.destinations) | set(gates)):
            failures = [self._failures(name, cause, now) for cause in FAILED_KINDS]
            proposals = [self._breaker(name, gates.get(name)), self._recovered(name, gates.get(name))]
            messages.extend(message for _, message in self._won([p for p in failures if p], now))
            messages.extend(message for _, message in self._won([p for p in proposals if p]))
        return messages

    def _failures(self, name, cause, now):
        """One message for the deliveries to `name` that failed for `cause` since the previous one, unless
        that one is younger than ALERT_REPEAT_SECONDS. Its record is dated `now`, the end of what it counts,
        so the next message counts from there: no failure is counted twice or lost between two."""
        kind = FAILING[cause]
        previous = self.store.last(name, (kind, RECOVERED))
        episode = previous if previous and previous["kind"] == kind else None
        if episode and now - episode["created_at"] < self.repeat:
            return None
        since = previous["created_at"] if previous else now - FIRST_LOOKBACK
        group = self.store.failures(name, cause, since, now)
        if not group["count"]:
            return None
        proposal = record(kind, name, iso(previous["created_at"] if previous else None), group["count"])
        return proposal, texts.failures(proposal["key"], name, cause, group, episode is not None,
                                        self.settings.secrets)

    def _breaker(self, name, gate):
        if not gate or gate["state"] != OPEN:
            return None
        proposal = record(BREAKER, name, iso(gate["opened_at"]))
        return proposal, texts.breaker_open(proposal["key"], name, gate)

    def _recovered(self, name, gate):
        last = self.store.last(name, CHAIN)
        if last is None or last["kind"] == RECOVERED or (gate and gate["state"] == OPEN):
            return None
        activity = self.store.destination_activity(name)
        success, failure = activity["last_success"], activity["last_failure"]
        if success is None or (failure is not None and success <= failure):
            return None  # no delivery since its last configuration failure
        if last["kind"] == BREAKER and (gate is None or success < last["created_at"] - OVERLAP):
            return None  # the breaker closes on a success: one after it opened
        proposal = record(RECOVERED, name, iso(last["created_at"]))
        return proposal, texts.recovered(proposal["key"], name, last, success)

    def limit_store_down(self):
        """RATE_LIMIT_STORAGE_URI's Redis pinged each check: while it does not answer, one message per
        ALERT_REPEAT_SECONDS (a flapping Redis included); one when it answers again."""
        if self.limit_store is None:
            return []
        answers, now = self.limit_store.check(), self.store.now()
        previous = self.store.last(LIMITS, (LIMITS_DOWN, LIMITS_UP))
        down = previous is not None and previous["kind"] == LIMITS_DOWN
        if answers:
            return self._limits_up(previous, now) if down else []
        last_down = previous if down else self.store.last(LIMITS, (LIMITS_DOWN,))
        if last_down and now - last_down["created_at"] < self.repeat:
            return []
        proposal = record(LIMITS_DOWN, LIMITS, iso(previous["created_at"] if previous else None))
        since = self.store.episode_start(LIMITS, LIMITS_DOWN, LIMITS_UP) if down else now
        return self._sent(proposal, texts.limit_store_down(proposal["key"], since, down))

    def _limits_up(self, previous, now):
        proposal = record(LIMITS_UP, LIMITS, iso(previous["created_at"]))
        since = self.store.episode_start(LIMITS, LIMITS_DOWN, LIMITS_UP)
        return self._sent(proposal, texts.limit_store_up(proposal["key"], since, now))

    def _sent(self, proposal, message, at=None):
        return [m for _, m in self._won([(proposal, message)], at)]

    def pending_age(self):
        """The compliance clock: the oldest pending delivery past PENDING_ALERT_SECONDS, then per step."""
        oldest = self.store.oldest_pending()
        if oldest is None:
            return []
        created_at, pending = oldest
        threshold = self.settings.pending_alert_seconds
        step = int((self.store.now() - created_at).total_seconds() // threshold)
        if step < 1:
            return []
        last = self.store.last("backlog", ("pending_age",))
        crossed = created_at + timedelta(seconds=threshold)
        if last and last["created_at"] >= crossed and last["count"] >= step:
            return []  # this backlog was already reported at this age (by another oldest row maybe)
        proposal = record("pending_age", "backlog", f"{iso(created_at)}:{step}", step)
        message = texts.pending_age(proposal["key"], created_at, step * threshold, pending,
                                    self.settings.retry_max_age_seconds)
        return self._sent(proposal, message)

    def worker_silent(self):
        """Deliveries due for over five minutes and no claim by any worker for as long."""
        now = self.store.now()
        seen = self.store.worker_seen()
        last_claim = seen["last_claim_at"] if seen else None
        if last_claim is not None and last_claim > now - SILENT_AFTER:
            return []
        overdue, due_since = self.store.overdue(now - SILENT_AFTER)
        if not overdue:
            return []
        proposal = record("worker_silent", "workers", iso(last_claim), overdue)
        return self._sent(proposal, texts.worker_silent(proposal["key"], seen, overdue, due_since))

    def prune(self):
        self.store.prune(KEEP_RECORDS)


def record(kind, subject, bucket, count=1):
    """An alert record proposal; its key is what makes the decision unique across processes."""
    return {"key": f"{kind}:{subject}:{bucket}"[:200], "kind": kind, "subject": subject[:64], "count": count}


class SilentWatch:
    """The web process's share: the worker-silent check on /readyz calls, in a background thread, at
    most once per `every` seconds, so /readyz never waits for the store or an alert service."""

    def __init__(self, service, every=15.0):
        self.checks, self.every = AlertChecks(service), every
        self.lock, self.next_at, self.thread = threading.Lock(), 0.0, None

    def poke(self):
        """Start a check unless one ran recently or is running; returns the thread started, or None."""
        if not self.checks.enabled:
            return None
        with self.lock:
            now = time.monotonic()
            if now < self.next_at or (self.thread is not None and self.thread.is_alive()):
                return None
            self.next_at = now + self.every
            self.thread = threading.Thread(target=self.checks.run, args=([self.checks.worker_silent],),
                                           name="worker-silent", daemon=True)
            self.thread.start()
            return self.thread
