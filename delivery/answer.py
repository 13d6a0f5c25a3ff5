"""Pure mapping from [(Delivery, Outcome)] to the answer a caller gets (one status vocabulary)."""

from dataclasses import dataclass

from status import DRY_RUN, FAILED, PENDING, QUEUED, SEVERITY, overall

ACCEPTED = "accepted; the worker will send it"
EARLIER = "answered from an earlier identical request"


@dataclass(frozen=True)
class Entry:
    """One item's unsubscribe at one destination, as the caller is told."""

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


@dataclass(frozen=True)
class Answer:
    """The answer to one request: the JSON body, the entries it was made of, whether it is a replay."""

    body: dict
    entries: tuple = ()
    replayed: bool = False

    @property
    def status(self):
        """The answer's top-level status."""
        return self.body["status"]


def row_status(state, outcome):
    """A ledger row's state as an answer status: pending rows are queued, finished ones their outcome, in the
    answers' vocabulary: a row failed for a reason of the ledger's own (still_subscribed: the read-back found
    the contact on the list after every resend) is `failed`, its reason in the entry's code."""
    if state == PENDING:
        return QUEUED
    return outcome if outcome in SEVERITY else FAILED


def entry_of(delivery, outcome=None):
    """The Entry for a delivery: sent now (`outcome`: a transient failure is queued, the row stays pending
    for the worker), or not sent now (written for the worker, answered by an earlier identical row, or read
    back from the ledger for a repeat)."""
    d = delivery
    if outcome is not None:
        status = QUEUED if outcome.transient else outcome.status
        return Entry(d.index, d.destination, status, outcome.code, outcome.message, d.id)
    message = (d.hold or d.last_text or ACCEPTED) if d.is_new else EARLIER
    return Entry(d.index, d.destination, row_status(d.status, d.outcome), d.last_code, message, d.id)


def answer_of(request_id, pairs, batch, replayed=False):
    """The Answer for a request's [(Delivery, Outcome or None)]: the most serious status on top, one entry
    per delivery."""
    entries = [entry_of(delivery, outcome) for delivery, outcome in pairs]
    return answer_from(request_id, entries, batch, replayed)


def answer_from(request_id, entries, batch, replayed=False):
    """The Answer made of these entries."""
    body = {"id": request_id, "status": overall(e.status for e in entries),
            "results": [e.as_dict(batch) for e in entries]}
    return Answer(body, tuple(entries), replayed)


def dry_run_answer(entries, batch):
    """Everything but the send: [(index, destination, preview)] of the requests that would go out."""
    results = []
    for index, name, preview in entries:
        entry = {"destination": name, "status": DRY_RUN, "code": None, "message": "not sent (dry run)",
                 "request": preview}
        results.append({"index": index, **entry} if batch else entry)
    return Answer({"id": None, "status": DRY_RUN, "results": results})
