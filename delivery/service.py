"""The delivery service: the one path from a validated request to the vendors and back.

Every entry point (webhook, link, CLI, replay, worker) comes through here: plan (an Unsubscribe per item,
a Delivery per destination, each made by its vendor), accept (rows written first, the idempotency and dedup
decisions made in the same transaction), send (a Delivery to its vendor, an Outcome back, timed and
recorded), and the Answer made of [(Delivery, Outcome)] returned upward as a value.
"""

import logging
import time
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import replace

from delivery import answer as answers
from delivery import telemetry
from delivery.planning import fingerprint, make_plan
from errors import InProgress, KeyReused, NotConfigured, StoreUnavailable
from connectors.base import failure
from connectors.errors import APIConnectionError
from schemas.shapes import Confirmation
from status import CONFIRM_UNKNOWN, QUEUED
from store.ledger import KeyState, new_id

GRACE_SECONDS = 1.0
log = logging.getLogger("unsub_relay.delivery")
NOT_CONFIGURED = ("no destination is configured: set JUSTCLICK_LOGIN and JUSTCLICK_SECRET, "
                  "or MAILKIT_CLIENT_ID and MAILKIT_CLIENT_MD5")


def pause(seconds):
    """time.sleep as it is when called: gevent's own under our gunicorn workers (other requests go on)."""
    time.sleep(seconds)


class DeliveryService:
    """Owns one unsubscribe from plan to outcome. `sleep` waits for a delivery's turn at the rate (tests
    pass one that moves their clock)."""

    def __init__(self, settings, store, connectors, threads=32, sleep=pause):
        self.settings, self.store, self.connectors = settings, store, connectors
        self.timeout, self.sleep = settings.upstream_timeout, sleep
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="send")

    def names(self, wanted="all"):
        """Destination names for 'all' or one name; NotConfigured when it cannot be reached."""
        if wanted == "all":
            if not self.connectors:
                raise NotConfigured(NOT_CONFIGURED)
            return list(self.connectors)
        if wanted not in self.connectors:
            raise NotConfigured(f"{wanted} is not configured: run `flask check` to see what is missing")
        return [wanted]

    def plan(self, items, errors=None, batch=False, to="all", channel=None, auth=None):
        """The Deliveries for canonical field mappings [(index, fields)], each item's Unsubscribe marked
        with how it came in; NotConfigured or Invalid, nothing sent."""
        how = {"channel": channel, "auth": auth, "received_at": self.store.now()}
        return make_plan(items, errors or {}, batch, self.names(to), self.settings.vendors, how)

    def preview(self, deliveries, batch=False):
        """The dry-run Answer: the requests that would go out, secrets redacted."""
        return answers.dry_run_answer(
            [(d.index, d.destination, self.connectors[d.destination].preview(d.payload)) for d in deliveries],
            batch)

    def submit(self, deliveries, key=None, respond_async=False, sender="web", dedup=True, batch=False):
        """Accept the deliveries, send the new ones once (unless async), record, answer.

        `key` is the request's idempotency key, already scoped by the caller (route and credential).
        """
        if key:
            state = self.store.ledger.key_state(key)
            if state is not None:
                return self._repeat(state, deliveries, batch)
        owner = None if respond_async else new_id()
        accepted = self.accept(deliveries, key, owner, dedup)
        if isinstance(accepted, KeyState):  # the same key arrived twice at once: the first one answers
            return self._repeat(accepted, deliveries, batch)
        request_id, placed = accepted
        fresh = [d for d in placed if d.is_new and not d.hold]
        done, late = ([], []) if respond_async else self._send(fresh, sender)
        outcomes = {d.id: outcome for d, outcome in done}
        answer = answers.answer_of(request_id, [(d, outcomes.get(d.id)) for d in placed], batch)
        for delivery, entry in zip(placed, answer.entries):
            if delivery.is_new:
                telemetry.delivered(entry.destination, entry.status)
        self.record(done, owner, sender, (request_id, answer.body) if key else None)
        for future in late:  # a send that outlived its deadline: record it whenever it ends
            future.add_done_callback(lambda f: self._record_late(f, owner, sender))
        return answer

    def accept(self, deliveries, key=None, owner=None, dedup=True, dedup_window=None):
        """Ledger.accept: (request id, the Deliveries placed), or a taken key's KeyState."""
        key_print = fingerprint(deliveries) if key else None
        accepted = self.store.ledger.accept(deliveries, key, key_print, owner, dedup, dedup_window)
        if not isinstance(accepted, KeyState):
            for delivery in accepted[1]:
                if delivery.is_new:
                    telemetry.accepted(delivery.destination, delivery.request.channel, delivery.request.auth)
        return accepted

    def record(self, pairs, owner, sender, answer=None):
        """Record [(Delivery, Outcome)] sent by `sender` (and a request's answer); the row changes applied."""
        return self.store.ledger.record(pairs, owner, sender, answer)

    def queue(self, deliveries, dedup_window):
        """Write deliveries for the worker alone (a bulk import): the dedup rule over `dedup_window` seconds
        skips what is already pending or done, and repeats within `deliveries`; returns how many it queued."""
        _, placed = self.accept(deliveries, dedup=True, dedup_window=dedup_window)
        return sum(1 for d in placed if d.is_new)

    def count_new(self, deliveries, dedup_window):
        """How many of `deliveries` queue would write now (a dry run of it; nothing is written)."""
        return sum(self.store.ledger.would_add(deliveries, dedup_window))

    def _repeat(self, state, deliveries, batch):
        """The answer to a request whose key was seen: the stored answer, 409 while the first one is
        running, or the state of the rows it wrote now (when its holder died before answering, or when it
        answered `queued`: the worker may have delivered since)."""
        if state.fingerprint and state.fingerprint != fingerprint(deliveries):
            raise KeyReused()
        if state.answer is not None and state.answer.get("status") != QUEUED:
            return answers.Answer(state.answer, replayed=True)
        if state.answer is None and state.lease_until is not None and state.lease_until > self.store.now():
            raise InProgress()
        rows = self.store.queries.of_request(state.request_id)
        return answers.answer_of(state.request_id, [(d, None) for d in rows], batch, True)

    def attempt(self, delivery, sender):
        """Send one Delivery to its vendor, timed: (Delivery, Outcome) to record."""
        started_at, started = self.store.now(), time.monotonic()
        try:
            outcome = self.connectors[delivery.destination].send(delivery.payload)
        except Exception as exc:  # noqa: BLE001 - a bug in one send must not take the worker down
            log.exception("sending delivery %s raised; it is retried like an outage", delivery.id)
            error = APIConnectionError(f"internal error ({type(exc).__name__})")
            outcome = failure(delivery.destination, error)
        seconds = time.monotonic() - started
        telemetry.upstream_called(delivery.destination, seconds, sender)
        if sender in ("worker", "replay"):  # a first send (web, cli) is counted as answered, in submit()
            telemetry.delivered(delivery.destination, QUEUED if outcome.transient else outcome.status)
        return delivery, replace(outcome, started_at=started_at, duration_ms=round(seconds * 1000))

    def read_back(self, delivery):
        """Ask the delivery's vendor whether its contact is off the list now: (Delivery, Confirmation)."""
        started = time.monotonic()
        try:
            confirmation = self.connectors[delivery.destination].read_back(delivery.payload)
        except Exception as exc:  # noqa: BLE001 - as attempt(): asked again later, the worker goes on
            log.exception("reading delivery %s back raised; asked again later", delivery.id)
            confirmation = Confirmation(delivery.destination, CONFIRM_UNKNOWN,
                                        f"internal error ({type(exc).__name__})", transient=True,
                                        error_kind="internal")
        telemetry.read_back(delivery.destination, time.monotonic() - started, confirmation.state)
        return delivery, confirmation

    def _in_turn(self, delivery, sender, since):
        """Send a new row when its turn at the destination's rate comes (reserved when it was accepted):
        `delivery.wait` seconds after `since` on the store's clock, however long it waited for a thread."""
        left = delivery.wait - (self.store.now() - since).total_seconds()
        if left > 0:
            self.sleep(left)
        return self.attempt(delivery, sender)

    def _send(self, fresh, sender):
        """([(Delivery, Outcome)] that ended in time, [future] still running).

        One delivery is sent on the request's own thread (a hop through the pool costs about a millisecond
        of CPU under load); several go out in parallel with one overall deadline, past the longest wait.
        """
        since = self.store.now()
        if len(fresh) == 1:
            return [self._in_turn(fresh[0], sender, since)], []
        futures = [self.pool.submit(self._in_turn, d, sender, since) for d in fresh]
        longest = max((d.wait for d in fresh), default=0.0)
        done, late = wait(futures, timeout=longest + self.timeout + GRACE_SECONDS)
        return [f.result() for f in done], list(late)

    def _record_late(self, future, owner, sender):
        try:
            self.record([future.result()], owner, sender)
        except StoreUnavailable as exc:  # the row keeps its lease; the worker takes it over when it runs out
            log.error("recording a late result failed (%s); the worker will retry it", exc.reason)
