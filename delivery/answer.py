"""Pure mapping from what happened to each delivery to the answer a caller gets (one status vocabulary)."""

from dataclasses import dataclass

from status import DRY_RUN, FAILED, PENDING, QUEUED, overall


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


@dataclass(frozen=True)
class Answer:
    """The answer to one request: the JSON body, the outcomes it was made of, whether it is a replay."""

    body: dict
    outcomes: tuple = ()
    replayed: bool = False

    @property
    def status(self):
        """The answer's top-level status."""
        return self.body["status"]


def row_status(state, outcome):
    """A ledger row's state as an answer status: pending rows are queued, finished ones their outcome."""
    return QUEUED if state == PENDING else (outcome or FAILED)


def from_result(place, result):
    """The outcome of a send: a transient failure is queued (the row stays pending for the worker)."""
    plan = place.plan
    status = QUEUED if result.transient else result.status
    return Outcome(plan.index, plan.destination, status, result.code, result.message, place.id)


def from_place(place, message):
    """The outcome of a row that was not sent now: written for the worker, or an earlier identical one."""
    plan = place.plan
    return Outcome(plan.index, plan.destination, row_status(place.status, place.outcome), place.last_code,
                   message, place.id)


def from_row(row):
    """The outcome of a stored row (a repeat whose first request never stored its answer)."""
    return Outcome(row["item_index"], row["destination"], row_status(row["status"], row["outcome"]),
                   row["last_code"], row["last_text"] or "accepted; the worker will send it", row["id"])


def answer_of(request_id, outcomes, batch, replayed=False):
    """The Answer for a request's outcomes: the most serious status on top, one entry per result."""
    body = {"id": request_id, "status": overall(o.status for o in outcomes),
            "results": [o.as_dict(batch) for o in outcomes]}
    return Answer(body, tuple(outcomes), replayed)


def dry_run_answer(entries, batch):
    """Everything but the send: [(index, destination, preview)] of the requests that would go out."""
    results = []
    for index, name, preview in entries:
        entry = {"destination": name, "status": DRY_RUN, "code": None, "message": "not sent (dry run)",
                 "request": preview}
        results.append({"index": index, **entry} if batch else entry)
    return Answer({"id": None, "status": DRY_RUN, "results": results})
