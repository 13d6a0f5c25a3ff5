"""Accept -> send once within the timeout -> record; what the worker does not finish, it retries."""

from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass

from store.ledger import new_id
from store.models import DONE

QUEUED = "queued"
GRACE_SECONDS = 1.0


@dataclass(frozen=True)
class Outcome:
    """What one item's unsubscribe at one destination came to, as the caller is told."""

    index: int
    destination: str
    status: str
    code: str | None
    message: str
    delivery_id: str | None

    def as_dict(self, batch=False):
        """The flat answer entry; batches carry the item's index."""
        entry = {"destination": self.destination, "status": self.status, "code": self.code,
                 "message": self.message, "delivery_id": self.delivery_id}
        return {"index": self.index, **entry} if batch else entry


def _from_result(place, result):
    status = QUEUED if result.transient else result.status
    plan = place.plan
    return Outcome(plan.index, plan.destination, status, result.code, result.message, place.id)


def _from_row(place, message):
    status = place.outcome if place.status == DONE else QUEUED
    plan = place.plan
    return Outcome(plan.index, plan.destination, status, place.last_code, message, place.id)


class Relay:
    """Runs the synchronous first attempt of accepted deliveries for the web process."""

    def __init__(self, ledger, dispatcher, timeout, threads=32):
        self.ledger, self.dispatcher, self.timeout = ledger, dispatcher, timeout
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="relay")

    def submit(self, plans, build_answer, key=None, respond_async=False):
        """Write the rows, send them (unless async), then record results and answer together.

        build_answer(request id, [Outcome]) -> (http status, body); returns (http status, body, outcomes).
        """
        owner = None if respond_async else new_id()
        request_id, placed = self.ledger.accept(plans, key, lease_owner=owner,
                                                lease_seconds=self.timeout * 2 + 30)
        fresh = [place for place in placed if place.is_new]
        sent, late = ({}, []) if respond_async else self._send(fresh)
        outcomes = []
        for place in placed:
            if place.id in sent:
                outcomes.append(_from_result(place, sent[place.id]))
            elif place.is_new:
                outcomes.append(_from_row(place, "accepted; the worker will send it"))
            else:
                outcomes.append(_from_row(place, "answered from an earlier identical request"))
        status, body = build_answer(request_id, outcomes)
        by_id = {place.id: place for place in fresh}
        self.ledger.record([(by_id[i], result) for i, result in sent.items()], owner,
                           answer=(request_id, status, body) if key else None)
        for future, place in late:  # a hanging upstream: answer now, record whenever it ends
            future.add_done_callback(lambda f, p=place: self.ledger.record([(p, f.result())], owner))
        return status, body, outcomes

    def _send(self, fresh):
        """({delivery id: Result} that ended in time, [(future, Placed)] still running).

        One delivery is sent on the request's own thread: requests' connect and read timeouts
        (UPSTREAM_TIMEOUT) bound a silent upstream, and a hop through the pool costs about a
        millisecond of CPU under load. Several go out in parallel with one overall deadline.
        """
        if len(fresh) == 1:
            return {fresh[0].id: self.dispatcher.send(fresh[0].plan.destination, fresh[0].plan.payload)}, []
        futures = {self.pool.submit(self.dispatcher.send, p.plan.destination, p.plan.payload): p
                   for p in fresh}
        done, late = wait(futures, timeout=self.timeout + GRACE_SECONDS)
        return {futures[f].id: f.result() for f in done}, [(f, futures[f]) for f in late]
