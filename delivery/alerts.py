"""The alert checks: what deserves a message now, decided once across every process through the store.

Each check reads the ledger, proposes records with deterministic keys (kind, subject and the bucket the
decision rests on: a delivery's completion, a breaker's opening, the previous message about a destination,
the backlog's age step, the last claim) and sends only the messages whose record this process inserted.
"""

import logging
import threading
import time
from datetime import timedelta

from delivery import alert_texts as texts
from delivery.notify import notifier_for
from errors import StoreUnavailable
from store.alerts import AlertStore
from store.breaker import OPEN

log = logging.getLogger("unsub_relay.alerts")
FAILING, BREAKER, RECOVERED = "destination_failing", "breaker_open", "recovered"
CHAIN = (FAILING, BREAKER, RECOVERED)  # a destination's messages, in the order they happened
FIRST_LOOKBACK = timedelta(hours=24)  # failures older than this when a process starts are not news
OVERLAP = timedelta(minutes=5)  # each check re-reads this much of the last one: records dedupe it
SILENT_AFTER = timedelta(minutes=5)
KEEP_RECORDS = timedelta(days=30)
SUMMARY_AFTER = 3  # more failed deliveries than this in one check: one summary message


def iso(moment):
    return moment.isoformat() if moment is not None else "none"


class AlertChecks:
    """Every alert check of one service; run() never raises."""

    def __init__(self, service):
        self.store = AlertStore(service.store.writer, service.store.now)
        self.settings = service.settings
        self.notifier = notifier_for(self.settings.alert_urls)
        self.destinations = list(service.connectors)
        self.failed_since = None  # where the next failed-delivery check starts reading

    @property
    def enabled(self):
        return self.notifier.enabled

    def run(self, checks=None):
        """Run the checks (all by default) and queue the messages this process won; returns them."""
        if not self.enabled:
            return []
        messages = []
        for check in checks or (self.failed_deliveries, self.failing_destinations, self.pending_age,
                                self.worker_silent):
            try:
                messages.extend(check())
            except StoreUnavailable as exc:  # the store blinked: the next check looks again
                log.error("alert check %s failed (%s)", check.__name__, exc.reason)
        for message in messages:
            self.notifier.send(message)
        return messages

    def _won(self, proposals):
        """The (record, message) proposals whose record this process inserted first."""
        mine = self.store.take([record for record, _ in proposals])
        return [(record, message) for record, message in proposals if record["key"] in mine]

    def failed_deliveries(self):
        """Dead letters and configuration failures: one message each, or one summary when many."""
        now = self.store.now()
        since = self.failed_since or now - FIRST_LOOKBACK
        rows = self.store.failed_since(since)
        self.failed_since = now - OVERLAP
        proposals = [(record("delivery_failed", row["id"], iso(row["completed_at"])), row) for row in rows]
        won = self._won(proposals)
        if len(won) > SUMMARY_AFTER:
            return [texts.failed_summary(won[0][0]["key"], [row for _, row in won], self.settings.secrets)]
        return [texts.failed_delivery(proposal["key"], row, self.settings.secrets) for proposal, row in won]

    def failing_destinations(self):
        """Per destination: its breaker opening, configuration failures (repeated at most every
        ALERT_REPEAT_SECONDS with the count since), and its recovery."""
        gates, messages = self.store.gates(), []
        for name in sorted(set(self.destinations) | set(gates)):
            proposals = [self._breaker(name, gates.get(name)), self._failing(name),
                         self._recovered(name, gates.get(name))]
            messages.extend(message for _, message in self._won([p for p in proposals if p]))
        return messages

    def _breaker(self, name, gate):
        if not gate or gate["state"] != OPEN:
            return None
        proposal = record(BREAKER, name, iso(gate["opened_at"]))
        return proposal, texts.breaker_open(proposal["key"], name, gate)

    def _failing(self, name):
        now, repeat = self.store.now(), timedelta(seconds=self.settings.alert_repeat_seconds)
        previous = self.store.last(name, (FAILING, RECOVERED))
        episode = previous if previous and previous["kind"] == FAILING else None
        if episode and now - episode["created_at"] < repeat:
            return None
        since = previous["created_at"] if previous else now - FIRST_LOOKBACK
        activity = self.store.destination_activity(name, since)
        if not activity["failures"]:
            return None
        bucket = iso(previous["created_at"] if previous else None)
        proposal = record(FAILING, name, bucket, activity["failures"])
        return proposal, texts.destination_failing(proposal["key"], name, activity, episode is not None)

    def _recovered(self, name, gate):
        last = self.store.last(name, CHAIN)
        if last is None or last["kind"] == RECOVERED or (gate and gate["state"] == OPEN):
            return None
        activity = self.store.destination_activity(name, last["created_at"])
        success, failure = activity["last_success"], activity["last_failure"]
        if success is None or (failure is not None and success <= failure):
            return None  # no delivery since its last configuration failure
        if last["kind"] == BREAKER and (gate is None or success < last["created_at"] - OVERLAP):
            return None  # the breaker closes on a success: one after it opened
        proposal = record(RECOVERED, name, iso(last["created_at"]))
        return proposal, texts.recovered(proposal["key"], name, last, success)

    def pending_age(self):
        """The compliance clock: the oldest pending delivery past PENDING_ALERT_SECONDS, then per step."""
        oldest = self.store.oldest_pending()
        if oldest is None:
            return []
        delivery_id, created_at, pending = oldest
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
        return [m for _, m in self._won([(proposal, message)])]

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
        message = texts.worker_silent(proposal["key"], seen, overdue, due_since)
        return [m for _, m in self._won([(proposal, message)])]

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
