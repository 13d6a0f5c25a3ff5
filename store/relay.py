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
    error_kind: str | None = None

    def as_dict(self, batch=False):
        """The flat answer entry; batches carry the item's index."""
        entry = {"destination": self.destination, "status": self.status, "code": self.code,
                 "message": self.message, "delivery_id": self.delivery_id}
        return {"index": self.index, **entry} if batch else entry


def _from_result(plan, row, result):
    status = QUEUED if result.transient else result.status
    kind = result.error.kind if result.error else None
    return Outcome(plan.index, plan.destination, status, result.code, result.message, row.id, kind)


def _from_row(plan, row, message):
    status = row.outcome if row.status == DONE else QUEUED
    return Outcome(plan.index, plan.destination, status, row.last_code, message, row.id)


class Relay:
    """Runs the synchronous first attempt of accepted deliveries for the web process."""

    def __init__(self, ledger, dispatcher, timeout, threads=32):
        self.ledger, self.dispatcher, self.timeout = ledger, dispatcher, timeout
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="relay")

    def submit(self, plans, key=None, respond_async=False):
        """Write the rows, then (unless async) send them; returns (request id, [Outcome])."""
        owner = None if respond_async else new_id()
        request_id, placed = self.ledger.accept(plans, key, lease_owner=owner,
                                                lease_seconds=self.timeout * 2 + 30)
        fresh = [(plan, row) for plan, row, is_new in placed if is_new]
        sent = {} if respond_async else self._send(fresh, owner)
        outcomes = []
        for plan, row, is_new in placed:
            if row.id in sent:
                outcomes.append(_from_result(plan, row, sent[row.id]))
            elif is_new:
                outcomes.append(_from_row(plan, row, "accepted; the worker will send it"))
            else:
                outcomes.append(_from_row(plan, row, "answered from an earlier identical request"))
        return request_id, outcomes

    def _send(self, fresh, owner):
        futures = {self.pool.submit(self.dispatcher.send, row.destination, row.payload): row.id
                   for _, row in fresh}
        done, late = wait(futures, timeout=self.timeout + GRACE_SECONDS)
        results = {futures[f]: f.result() for f in done}
        self.ledger.record(list(results.items()), owner)
        for future in late:  # a hanging upstream: answer now, record whenever it ends
            future.add_done_callback(lambda f, i=futures[future]: self.ledger.record([(i, f.result())], owner))
        return results
