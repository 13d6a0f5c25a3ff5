"""The shapes the ledger takes and gives (a plan to write, where it landed, a key's state, an attempt to
record), the modes a row may carry, and what a delivery asks its vendor (the dedup rule)."""

import json
import uuid
from dataclasses import dataclass

from status import PENDING

LIVE, SANDBOX = "live", "sandbox"


def new_id():
    """A random 32-hex-digit identifier."""
    return uuid.uuid4().hex


def asks(payload, target):
    """What a delivery asks its vendor, the address's case aside: only deliveries asking the same may share
    one row (dedup). Mailbox providers and ESPs treat addresses case-insensitively, so Jane@ and jane@ ask
    the same; a temporary opt-out, another group or campaign asks something else."""
    lowered = target.lower()
    same = {name: lowered if value == target else value for name, value in payload.items()}
    return json.dumps(same, sort_keys=True, default=str)


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
    """One attempt to record: the row it was for (id, attempts so far, retry_since), what came back, when,
    how long it took and who sent it."""

    row: object
    result: object
    started_at: object
    duration_ms: int
    sender: str
