"""The shapes the ledger takes and gives, and the modes a row may carry.

The service hands the ledger Deliveries (schemas/shapes.py) and gets Deliveries back. store/ledger.py still
reads its own row classes (Planned, Placed, Sent: rewritten in parallel, converted at the merge); the
functions at the end are that boundary, the one place the service crosses it.
"""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace

from schemas.shapes import Delivery, asks  # noqa: F401 - asks is the ledger's dedup rule
from status import PENDING

LIVE, SANDBOX = "live", "sandbox"


def new_id():
    """A random 32-hex-digit identifier."""
    return uuid.uuid4().hex


@dataclass(frozen=True)
class Planned:
    """One unsubscribe to write: item index, destination, the ledger's columns and the vendor payload."""

    index: int
    destination: str
    target: str
    group: str | None
    campaign: str | None
    options: dict
    payload: dict
    answered_by: tuple = ()  # asks() of every earlier delivery that answers this one; () = its own alone

    def answerable_by(self):
        return set(self.answered_by) or {asks(self.payload, self.target)}


@dataclass(frozen=True)
class Placed:
    """Where a plan landed: a new pending row, or an earlier row of the dedup window."""

    plan: Planned
    id: str
    is_new: bool
    status: str = PENDING
    outcome: str | None = None
    last_code: str | None = None
    attempts: int = 0
    retry_since: object = None
    hold: str | None = None  # why a new row is left to the worker instead of sent now (breaker, rate)
    wait: float = 0.0  # seconds after acceptance until the new row's turn at the destination's rate


@dataclass(frozen=True)
class KeyState:
    """An idempotency key already taken: by which request, for what, answered or still leased."""

    request_id: str
    fingerprint: str | None
    answer: dict | None
    lease_until: object


@dataclass(frozen=True)
class Sent:
    """One attempt as Ledger.record() reads it today: the Delivery, its Outcome, when, how long, by whom."""

    row: Delivery
    result: object  # an Outcome
    started_at: object
    duration_ms: int
    sender: str


# --- The boundary: Deliveries in and out of the ledger's row classes (goes at the merge) -------------------

COLUMNS = {field.name for field in fields(Delivery)} - {"request", "index", "group"}
MISSING = object()  # a column the statement did not read


def planned(delivery):
    """A Delivery as Ledger.accept() takes it."""
    d = delivery
    return Planned(d.index, d.destination, d.target, d.group, d.campaign, d.options, d.payload, d.answered_by)


def landed(delivery, place):
    """A Delivery once accept() placed it: its row's id, whether it is new, and that row's state."""
    return replace(delivery, id=place.id, is_new=place.is_new, status=place.status, outcome=place.outcome,
                   last_code=place.last_code, attempts=place.attempts, retry_since=place.retry_since,
                   hold=place.hold, wait=place.wait)


def _column(row, name, default=None):
    """A column of a row read as a mapping (a request's rows) or by attribute (a claim's Row)."""
    return row.get(name, default) if isinstance(row, Mapping) else getattr(row, name, default)


def delivery_of(row):
    """A ledger row (a claim's, a replay's lease or a request's rows) as a Delivery; the columns a
    statement does not read keep their defaults."""
    read = {name: _column(row, name, MISSING) for name in COLUMNS}
    taken = {name: value for name, value in read.items() if value is not MISSING}
    taken = {"target": None, "payload": {}, **taken}
    return Delivery(**taken, index=_column(row, "item_index", 0), group=_column(row, "group_name"))


def sent(pairs, sender):
    """[(Delivery, Outcome)] sent by `sender` as Ledger.record() reads them."""
    return [Sent(delivery, outcome, outcome.started_at, outcome.duration_ms, sender)
            for delivery, outcome in pairs]
