"""The delivery service: the one path from a validated request to the vendors and back.

Every entry point (webhook, CLI, replay, worker) comes through here: plan, accept (rows written first, the
idempotency and dedup decisions made in the same transaction), attempt (the send timed and recorded with
its result), and the answer returned upward as a value.
"""

import logging
import time
from concurrent.futures import ThreadPoolExecutor, wait

from delivery import answer as answers
from delivery import telemetry
from delivery.planning import make_plan
from errors import InProgress, KeyReused, NotConfigured, StoreUnavailable
from status import QUEUED
from store.ledger import KeyState, Sent, new_id

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

    def plan(self, items, errors=None, batch=False, to="all"):
        """A Plan for canonical field mappings [(index, fields)]; NotConfigured or Invalid, nothing sent."""
        names = self.names(to)
        return make_plan(items, errors or {}, batch, names, self.settings.vendors)

    def preview(self, plan):
        """The dry-run Answer: the requests that would go out, secrets redacted."""
        return answers.dry_run_answer(
            [(p.index, p.destination, self.connectors[p.destination].preview(p.payload)) for p in plan.plans],
            plan.batch)

    def submit(self, plan, key=None, respond_async=False, sender="web", dedup=True):
        """Accept the plan's deliveries, attempt the new ones once (unless async), record, answer.

        `key` is the request's idempotency key, already scoped by the caller (route and credential).
        """
        if key:
            state = self.store.ledger.key_state(key)
            if state is not None:
                return self._repeat(state, plan)
        owner = None if respond_async else new_id()
        accepted = self.store.ledger.accept(plan.plans, key, plan.fingerprint, owner, dedup)
        if isinstance(accepted, KeyState):  # the same key arrived twice at once: the first one answers
            return self._repeat(accepted, plan)
        request_id, placed = accepted
        fresh = [place for place in placed if place.is_new and not place.hold]
        sent, late = ([], []) if respond_async else self._send(fresh, sender)
        outcomes = self._outcomes(placed, sent)
        for place, outcome in zip(placed, outcomes):
            if place.is_new:
                telemetry.delivered(outcome.destination, outcome.status)
        answer = answers.answer_of(request_id, outcomes, plan.batch)
        self.store.ledger.record(sent, owner, (request_id, answer.body) if key else None)
        for future, _ in late:  # a send that outlived its deadline: record it whenever it ends
            future.add_done_callback(lambda f: self._record_late(f, owner))
        return answer

    def queue(self, plans, dedup_window):
        """Write deliveries for the worker alone (a bulk import): the dedup rule over `dedup_window` seconds
        skips what is already pending or done, and repeats within `plans`; returns how many were queued."""
        _, placed = self.store.ledger.accept(plans, dedup=True, dedup_window=dedup_window)
        return sum(1 for place in placed if place.is_new)

    def count_new(self, plans, dedup_window):
        """How many of `plans` queue would write now (a dry run of it; nothing is written)."""
        return sum(self.store.ledger.would_add(plans, dedup_window))

    def _repeat(self, state, plan):
        """The answer to a request whose key was seen: the stored answer, 409 while the first one is
        running, or the state of the rows it wrote now (when its holder died before answering, or when it
        answered `queued`: the worker may have delivered since)."""
        if state.fingerprint and state.fingerprint != plan.fingerprint:
            raise KeyReused()
        if state.answer is not None and state.answer.get("status") != QUEUED:
            return answers.Answer(state.answer, replayed=True)
        if state.answer is None and state.lease_until is not None and state.lease_until > self.store.now():
            raise InProgress()
        rows = self.store.queries.of_request(state.request_id)
        return answers.answer_of(state.request_id, [answers.from_row(r) for r in rows], plan.batch, True)

    @staticmethod
    def _outcomes(placed, sent):
        results = {s.row.id: s.result for s in sent}
        outcomes = []
        for place in placed:
            if place.id in results:
                outcomes.append(answers.from_result(place, results[place.id]))
            elif place.is_new:
                outcomes.append(answers.from_place(place, place.hold or "accepted; the worker will send it"))
            else:
                outcomes.append(answers.from_place(place, "answered from an earlier identical request"))
        return outcomes

    def attempt(self, row, destination, payload, sender):
        """Send one delivery and time it: a Sent to record (the row has id, attempts and retry_since)."""
        started_at, started = self.store.now(), time.monotonic()
        result = self.connectors[destination].send(payload)
        seconds = time.monotonic() - started
        telemetry.upstream_called(destination, seconds, sender)
        if sender in ("worker", "replay"):  # a first send (web, cli) is counted as answered, in submit()
            telemetry.delivered(destination, QUEUED if result.transient else result.status)
        return Sent(row, result, started_at, round(seconds * 1000), sender)

    def _in_turn(self, place, sender, since):
        """Send a new row when its turn at the destination's rate comes (reserved when it was accepted):
        `place.wait` seconds after `since` on the store's clock, however long it waited for a pool thread."""
        left = place.wait - (self.store.now() - since).total_seconds()
        if left > 0:
            self.sleep(left)
        return self.attempt(place, place.plan.destination, place.plan.payload, sender)

    def _send(self, fresh, sender):
        """([Sent] that ended in time, [(future, Placed)] still running).

        One delivery is sent on the request's own thread (a hop through the pool costs about a millisecond
        of CPU under load); several go out in parallel with one overall deadline, past the longest wait.
        """
        since = self.store.now()
        if len(fresh) == 1:
            return [self._in_turn(fresh[0], sender, since)], []
        futures = {self.pool.submit(self._in_turn, p, sender, since): p for p in fresh}
        longest = max((p.wait for p in fresh), default=0.0)
        done, late = wait(futures, timeout=longest + self.timeout + GRACE_SECONDS)
        return [f.result() for f in done], [(f, futures[f]) for f in late]

    def _record_late(self, future, owner):
        try:
            self.store.ledger.record([future.result()], owner)
        except StoreUnavailable as exc:  # the row keeps its lease; the worker takes it over when it runs out
            log.error("recording a late result failed (%s); the worker will retry it", exc.reason)
